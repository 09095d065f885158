import * as vscode from 'vscode';
import { PROTOCOL_VERSION } from '../protocol/validate';
import { pickExperiment, registerCommands } from './commands';
import { registerPanels, type PanelHandles } from './panels';
import { RunManager } from './runs/runManager';
import type { RunManagerApi } from './runs/types';
import { ExperimentLensProvider, LADDER_SELECTOR } from './views/codeLens';
import { ExperimentDiagnostics } from './views/diagnostics';
import { MemoryEstimates } from './views/estimate';
import { EstimateProbe } from './views/estimateProbe';
import { RunsTreeProvider } from './views/runsTree';
import { RunStatusBar } from './views/statusBar';

/** What activate() returns: panels and the integration tests reach the run side through this. */
export interface LadderLabApi {
  runs: RunManagerApi;
  runsTree: RunsTreeProvider;
  statusBar: RunStatusBar;
  panels: PanelHandles;
  estimates: MemoryEstimates;
}

export function activate(context: vscode.ExtensionContext): LadderLabApi {
  const log = vscode.window.createOutputChannel('Ladder Lab', { log: true });
  const runs = new RunManager({ log });
  const runsTree = new RunsTreeProvider(runs);
  const statusBar = new RunStatusBar(runs);
  const estimateProbe = new EstimateProbe();
  // Which file Estimate Memory estimates: the given one, the active editor's, the Experiment form's, the only one,
  // or the user's pick (`panels` is assigned below, before any command can run).
  const estimates = new MemoryEstimates(context.workspaceState, log, (uri) =>
    pickExperiment(uri ?? (activeExperiment() ? undefined : panels.experiment.shownFile)),
  );
  const lenses = new ExperimentLensProvider(runs, estimateProbe, estimates);
  context.subscriptions.push(
    log,
    runs,
    new ExperimentDiagnostics(), // what the engine would refuse, marked in the file before a run
    runsTree,
    statusBar,
    estimateProbe,
    estimates,
    lenses,
    vscode.window.registerTreeDataProvider('ladderLab.runs', runsTree),
    vscode.languages.registerCodeLensProvider(LADDER_SELECTOR, lenses),
    vscode.languages.registerHoverProvider(LADDER_SELECTOR, lenses),
    ...registerCommands({ runs, tree: runsTree, log, extensionPath: context.extensionPath, estimates }),
    // Menus show Stop only while something runs.
    runs.onDidChangeSessions(() =>
      vscode.commands.executeCommand('setContext', 'ladderLab.running', !!runs.activeSession()),
    ),
    vscode.commands.registerCommand('ladderLab.showEngineVersion', () => {
      void vscode.window.showInformationMessage(`Ladder Lab engine protocol version: ${PROTOCOL_VERSION}`);
    }),
  );
  const panels = registerPanels(context, runs);
  return { runs, runsTree, statusBar, panels, estimates };
}

function activeExperiment(): vscode.Uri | undefined {
  const uri = vscode.window.activeTextEditor?.document.uri;
  return uri?.fsPath.endsWith('.ladder.json') ? uri : undefined;
}

export function deactivate(): void {}
