// The Runs view's item commands: rename a run (label.json in its folder), delete it (confirmed; never while it
// runs), reveal its folder, reopen its curves in the monitor (read back from its events.jsonl). Each takes the
// tree's node (a run, or a comparison for Reopen Curves), or asks for a run when run from the palette.
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeUserLabel } from '../runs/runStore';
import { isRunGroup, type RunGroup } from '../runs/runText';
import type { RunManagerApi, RunRecord } from '../runs/types';
import type { RunsTreeNode, RunsTreeProvider } from './runsTree';

/** The monitor's internal command (src/panels/monitorPanel.ts) takes the run ids to show from their folders. */
const SHOW_MONITOR = 'ladderLab.internal.showMonitor';

export function registerRunsCommands(runs: RunManagerApi, tree: RunsTreeProvider): vscode.Disposable[] {
  const runOf = async (node: unknown, what: string): Promise<RunRecord | undefined> => {
    if (isRun(node)) return node;
    const all = await runs.listRuns();
    const picked = await vscode.window.showQuickPick(
      all.map((r) => ({ label: tree.nameOf(r), description: `${r.status} · ${r.id}`, run: r })),
      { placeHolder: `Run to ${what}` },
    );
    return picked?.run;
  };
  return [
    vscode.commands.registerCommand('ladderLab.renameRun', async (node?: unknown, name?: unknown) => {
      const run = await runOf(node, 'rename');
      if (!run) return;
      const label =
        typeof name === 'string'
          ? name
          : await vscode.window.showInputBox({
              title: `Rename run ${run.id}`,
              value: tree.nameOf(run),
              prompt: 'Shown instead of the label made from its settings; empty = that label again.',
            });
      if (label === undefined) return;
      try {
        await writeUserLabel(run.dir, label);
      } catch (e) {
        void vscode.window.showErrorMessage(`Ladder Lab: could not rename the run: ${(e as Error).message}`);
      }
      tree.refresh();
    }),
    vscode.commands.registerCommand('ladderLab.deleteRun', async (node?: unknown, confirmed?: unknown) => {
      const run = await runOf(node, 'delete');
      if (!run) return false;
      // Re-read its state: the tree item may be older than the run.
      const now = (await runs.listRuns()).find((r) => r.dir === run.dir);
      if (now?.status === 'running') {
        void vscode.window.showWarningMessage(
          `Ladder Lab: ${tree.nameOf(run)} is running; stop it first (Stop Run), then delete it.`,
        );
        return false;
      }
      const ok =
        confirmed === true ||
        (await vscode.window.showWarningMessage(
          `Delete run "${tree.nameOf(run)}"?`,
          { modal: true, detail: `Its folder ${run.dir} (weights, events, results) is removed for good.` },
          'Delete',
        )) === 'Delete';
      if (!ok) return false;
      try {
        await rm(run.dir, { recursive: true, force: true });
      } catch (e) {
        void vscode.window.showErrorMessage(`Ladder Lab: could not delete ${run.dir}: ${(e as Error).message}`);
        return false;
      }
      tree.refresh();
      return true;
    }),
    vscode.commands.registerCommand('ladderLab.revealRun', async (node?: unknown) => {
      const run = await runOf(node, 'reveal');
      if (!run) return;
      const uri = vscode.Uri.file(run.dir);
      // Inside the workspace: the Explorer shows it; outside (a runs folder elsewhere): the system's file manager.
      const inside = vscode.workspace.getWorkspaceFolder(uri) !== undefined;
      await vscode.commands.executeCommand(inside ? 'revealInExplorer' : 'revealFileInOS', uri);
    }),
    vscode.commands.registerCommand('ladderLab.reopenCurves', async (node?: unknown) => {
      const ids = isRunGroup(node as RunsTreeNode) ? runIdsUnder(node as RunGroup) : [(await runOf(node, 'chart'))?.id];
      const shown = ids.filter((id): id is string => typeof id === 'string');
      if (shown.length) await vscode.commands.executeCommand(SHOW_MONITOR, { runIds: shown });
    }),
  ];
}

function runIdsUnder(group: RunGroup): string[] {
  return group.children.flatMap((c) => (isRunGroup(c) ? runIdsUnder(c) : [c.id]));
}

function isRun(v: unknown): v is RunRecord {
  return (
    typeof v === 'object' &&
    v !== null &&
    !isRunGroup(v as RunsTreeNode) &&
    typeof (v as RunRecord).id === 'string' &&
    typeof (v as RunRecord).dir === 'string' &&
    path.isAbsolute((v as RunRecord).dir)
  );
}
