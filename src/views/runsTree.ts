// The Runs view: one item per run folder, newest first, refreshed when the store or a session changes.
import * as vscode from 'vscode';
import type { RunManagerApi, RunRecord, RunStatus } from '../runs/types';
import { treeDescription } from '../runs/runText';
import { methodLabel, runTooltip } from './format';

const ICONS: Record<RunStatus, [string, string?]> = {
  running: ['sync~spin'],
  finished: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  interrupted: ['debug-pause'],
  corrupt: ['warning', 'list.warningForeground'],
};

export class RunsTreeProvider implements vscode.TreeDataProvider<RunRecord>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];
  /** The runs of the last refresh, for tests and for commands invoked without an item. */
  lastRuns: RunRecord[] = [];

  constructor(private readonly runs: RunManagerApi) {
    this.subscriptions = [
      runs.onDidChangeRuns(() => this.refresh()),
      runs.onDidChangeSessions(() => this.refresh()),
      this.changed,
    ];
  }

  refresh(): void {
    this.changed.fire();
  }

  async getChildren(element?: RunRecord): Promise<RunRecord[]> {
    if (element) return [];
    this.lastRuns = await this.runs.listRuns();
    return this.lastRuns;
  }

  getTreeItem(run: RunRecord): vscode.TreeItem {
    const item = new vscode.TreeItem(methodLabel(run.method), vscode.TreeItemCollapsibleState.None);
    item.id = run.dir;
    item.description = treeDescription(run);
    const notes = (run.notes ?? []).map((n) => `\n\nnote: ${n}`).join('');
    const resume =
      run.status === 'interrupted'
        ? `\n\n${run.resumable ? 'Resumable from its checkpoint (Resume Run).' : 'No checkpoint yet: Resume will say so; start it again instead.'}`
        : '';
    item.tooltip = new vscode.MarkdownString(runTooltip(run) + notes + resume);
    const [icon, color] = ICONS[run.status];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    // view/item/context menus key on this: "run.finished" gets Open Results, "run.interrupted…" gets Resume Run.
    item.contextValue = `run.${run.status}${run.resumable ? '.resumable' : ''}`;
    if (run.status === 'finished')
      item.command = { command: 'ladderLab.openResults', title: 'Open Results', arguments: [run] };
    if (run.status === 'running') item.command = { command: 'ladderLab.openMonitor', title: 'Open Monitor' };
    return item;
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}
