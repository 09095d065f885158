// The Runs view: run folders grouped by experiment file, then by comparison (what config.json records), a sweep's
// trials under one sweep node (its best point and Pareto front as its description), each run named by its label
// (or the user's name for it); refreshed when the store or a session changes.
import * as vscode from 'vscode';
import type { RunManagerApi, RunRecord, RunStatus } from '../runs/types';
import { configsUnder, groupRuns, isRunGroup, runName, treeDescription, type RunGroup } from '../runs/runText';
import { placeSweeps, readSweepSummaries, SWEEP_NODE, sweepOf } from '../sweeps/sweepSummary';
import { runTooltip } from './format';

const ICONS: Record<RunStatus, [string, string?]> = {
  running: ['sync~spin'],
  finished: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  interrupted: ['debug-pause'],
  corrupt: ['warning', 'list.warningForeground'],
};

export type RunsTreeNode = RunGroup | RunRecord;

const ICON_OF_GROUP: Record<RunGroup['level'], string> = { file: 'beaker', comparison: 'layers', sweep: 'graph' };
export class RunsTreeProvider implements vscode.TreeDataProvider<RunsTreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];
  /** The runs of the last refresh, for tests and for commands invoked without an item. */
  lastRuns: RunRecord[] = [];
  private groups: RunGroup[] = [];
  private readonly parents = new Map<string, RunGroup>(); // node id -> its group (getParent, for reveal)
  private readonly names = new Map<string, string>(); // run id -> the name shown (label among its file's runs)

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

  async getChildren(element?: RunsTreeNode): Promise<RunsTreeNode[]> {
    if (element) return isRunGroup(element) ? element.children : [];
    this.lastRuns = await this.runs.listRuns();
    const trials = this.lastRuns.filter((r) => sweepOf(r.config));
    const plain = this.lastRuns.filter((r) => !sweepOf(r.config));
    this.groups = groupRuns(plain, (file) => vscode.workspace.asRelativePath(file));
    placeSweeps(this.groups, await readSweepSummaries(trials), trials);
    this.parents.clear();
    this.names.clear();
    for (const group of this.groups) this.index(group, configsUnder(group));
    return this.groups;
  }

  private index(group: RunGroup, among: ReturnType<typeof configsUnder>): void {
    for (const child of group.children) {
      this.parents.set(isRunGroup(child) ? child.id : child.dir, group);
      if (isRunGroup(child)) this.index(child, among);
      else this.names.set(child.id, runName(child, among));
    }
  }

  getParent(node: RunsTreeNode): RunGroup | undefined {
    return this.parents.get(isRunGroup(node) ? node.id : node.dir);
  }

  /** The name the tree shows for a run (its label among the runs of its experiment file, or the user's). */
  nameOf(run: RunRecord): string {
    return this.names.get(run.id) ?? runName(run);
  }

  /** A run's node as the tree holds it, found by walking the tree from the top (for tests and commands). */
  async findRun(id: string): Promise<RunRecord | undefined> {
    const walk = async (nodes: RunsTreeNode[]): Promise<RunRecord | undefined> => {
      for (const n of nodes) {
        const found = isRunGroup(n) ? await walk(await this.getChildren(n)) : n.id === id ? n : undefined;
        if (found) return found;
      }
      return undefined;
    };
    return walk(await this.getChildren());
  }

  getTreeItem(node: RunsTreeNode): vscode.TreeItem {
    return isRunGroup(node) ? this.groupItem(node) : this.runItem(node);
  }

  private groupItem(group: RunGroup): vscode.TreeItem {
    // Files open; of the comparisons, the newest of the newest file open, the others folded.
    const newest = this.groups[0]?.children.find((c) => isRunGroup(c) && c.level === 'comparison')?.id === group.id;
    const state =
      group.level === 'file' || newest
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(group.title, state);
    item.id = group.id;
    item.description = group.description;
    item.iconPath = new vscode.ThemeIcon(ICON_OF_GROUP[group.level]);
    if (group.level === 'sweep') {
      // A click opens the sweep's panel (its grid, Table 1 and charts); the arrow unfolds its trials.
      item.command = {
        command: 'ladderLab.openSweep',
        title: 'Open Sweep',
        arguments: [group.id.slice(SWEEP_NODE.length)],
      };
      item.tooltip = `${group.title}: ${group.description}. Click to open the Sweep panel; unfold for its trials.`;
    }
    // view/item/context: a comparison can have its curves reopened and its results shown.
    item.contextValue = `runGroup.${group.level}`;
    return item;
  }

  private runItem(run: RunRecord): vscode.TreeItem {
    const item = new vscode.TreeItem(this.nameOf(run), vscode.TreeItemCollapsibleState.None);
    item.id = run.dir;
    item.description = treeDescription(run);
    const notes = (run.notes ?? []).map((n) => `\n\nnote: ${n}`).join('');
    const resume =
      run.status === 'interrupted'
        ? `\n\n${!run.resumable ? 'Not resumable (no config.json): run the experiment again.' : run.checkpoint ? 'Resumable from its checkpoint (Resume Run).' : 'No checkpoint yet: Resume Run starts it again from the beginning in its folder.'}`
        : '';
    item.tooltip = new vscode.MarkdownString(runTooltip(run, this.nameOf(run)) + notes + resume);
    const [icon, color] = ICONS[run.status];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    // view/item/context menus key on this: "run.finished" gets Open Results, "run.interrupted…" gets Resume Run;
    // every run but a running one can be deleted.
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
