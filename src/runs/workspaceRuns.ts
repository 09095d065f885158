// The run folder store of the workspace: where each workspace folder's runs go (the ladderLab.runsDir setting),
// every run folder read back as a RunRecord (newest first, corrupt ones included), and a watch on those folders
// that fires one debounced onDidChange when the engine (or anything else) writes there, backed by a poll of the runs
// folders (folderPoll.ts). Reads only: the run folders are the engine's. Which runs are live is the engine sessions'
// to say (isLive); reading one runs folder is runStore.ts's.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Logger } from '../engine/logger';
import { resolveRunsDir } from './runsDir';
import { foldersSignature, pollForChanges } from './folderPoll';
import { RunReader, sortRuns, SWEEPS_DIR, type StoredRun } from './runStore';
import { listSweepFolders, type SweepFolder } from '../sweeps/sweepFolders';

/** How long the watch waits for more writes before it tells: the engine writes several files per step. */
const CHANGE_DEBOUNCE_MS = 300;

/** The runs folder of a workspace folder; throws with a message naming the setting when it is not allowed. */
export function runsDirFor(folder: vscode.WorkspaceFolder): string {
  const setting = vscode.workspace.getConfiguration('ladderLab', folder.uri).get<string>('runsDir');
  const r = resolveRunsDir(folder.uri.fsPath, setting);
  if (r.error !== undefined) throw new Error(r.error);
  return r.dir;
}

/** runsDirFor, or undefined for a folder whose setting is not allowed (it is skipped; listRuns says why). */
export function tryRunsDir(folder: vscode.WorkspaceFolder): string | undefined {
  try {
    return runsDirFor(folder);
  } catch {
    return undefined;
  }
}

/** Every sweep folder of the workspace's runs folders (those the Runs view reads), newest first. */
export async function workspaceSweeps(): Promise<SweepFolder[]> {
  const dirs = (vscode.workspace.workspaceFolders ?? []).map(tryRunsDir).filter((d): d is string => !!d);
  const all = (await Promise.all(dirs.map(listSweepFolders))).flat();
  return all.sort((a, b) => b.id.localeCompare(a.id));
}

/** A sweep folder of the workspace named by its id or its path; an argument naming any other folder finds none. A
 * path is matched by its folder name too: the engine names its sweep folder with symbolic links resolved. */
export async function findWorkspaceSweep(idOrDir: string): Promise<SweepFolder | undefined> {
  const sweeps = await workspaceSweeps();
  return (
    sweeps.find((s) => path.resolve(s.dir) === path.resolve(idOrDir)) ??
    sweeps.find((s) => s.id === idOrDir || s.id === path.basename(idOrDir))
  );
}

export class WorkspaceRunStore implements vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  /** Something under a runs folder changed (debounced). */
  readonly onDidChange = this.changeEmitter.event;

  private readonly reader = new RunReader();
  private watchers: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private changeTimer: NodeJS.Timeout | undefined;
  private disposed = false;

  /** `isLive(runId)`: whether a running engine of this window owns the run (a run without a final event is then
   * 'running', not 'interrupted'). */
  constructor(
    private readonly log: Logger,
    private readonly isLive: (runId: string) => boolean,
  ) {
    this.watch();
    this.disposables.push(
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.watch()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('ladderLab.runsDir')) this.watch();
      }),
    );
  }

  /** Every run folder of every workspace folder, newest first; a folder whose runs cannot be listed is logged. */
  async listRuns(): Promise<StoredRun[]> {
    const all: StoredRun[] = [];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      try {
        all.push(...(await this.reader.read(runsDirFor(folder), this.isLive)));
      } catch (e) {
        this.log.warn(`cannot list runs of ${folder.name}: ${(e as Error).message}`);
      }
    }
    return sortRuns(all);
  }

  /** A run by its id or its folder. */
  async findRun(idOrDir: string): Promise<StoredRun | undefined> {
    return (await this.listRuns()).find((r) => r.id === idOrDir || r.dir === idOrDir);
  }

  /** Debounced onDidChange; also for what the watch may see late (an engine's run_started, its exit). */
  changed(): void {
    if (this.disposed) return;
    if (this.changeTimer) clearTimeout(this.changeTimer);
    this.changeTimer = setTimeout(() => this.changeEmitter.fire(), CHANGE_DEBOUNCE_MS);
  }

  private watch(): void {
    for (const w of this.watchers) w.dispose();
    this.watchers = (vscode.workspace.workspaceFolders ?? []).flatMap((folder) => {
      const dir = tryRunsDir(folder);
      if (!dir) return [];
      const rel = path.relative(folder.uri.fsPath, dir);
      // A folder-relative glob rides on the workspace's own recursive watcher, which also sees the runs dir appear.
      const watcher = vscode.workspace.createFileSystemWatcher(
        new vscode.RelativePattern(folder, `${rel.split(path.sep).join('/')}/**`),
      );
      const changed = () => this.changed();
      watcher.onDidCreate(changed);
      watcher.onDidChange(changed);
      watcher.onDidDelete(changed);
      // The poll sees what the watcher misses (folderPoll.ts): a run or sweep folder created, a file in one written.
      return [watcher, pollForChanges(() => foldersSignature([dir, path.join(dir, SWEEPS_DIR)]), changed)];
    });
    this.changed();
  }

  dispose(): void {
    this.disposed = true;
    if (this.changeTimer) clearTimeout(this.changeTimer);
    for (const d of [...this.watchers, ...this.disposables, this.changeEmitter]) d.dispose();
  }
}
