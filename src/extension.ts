import * as vscode from 'vscode';
import { PROTOCOL_VERSION } from '../protocol/validate';

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('ladderLab.showEngineVersion', () => {
      void vscode.window.showInformationMessage(`Ladder Lab engine protocol version: ${PROTOCOL_VERSION}`);
    }),
    // An empty tree so the Runs view shows its viewsWelcome text rather than
    // "no data provider registered". Real run items come in a later issue.
    vscode.window.registerTreeDataProvider<vscode.TreeItem>('ladderLab.runs', {
      getTreeItem: (item) => item,
      getChildren: () => [],
    }),
  );
}

export function deactivate(): void {}
