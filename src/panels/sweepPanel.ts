// The sweep panel: one sweep folder (<runs_dir>/sweeps/<id>/, written by `ladderlab sweep`) as its trials' live grid,
// the Table 1 layout of its results and the score-vs-memory trade-off chart, with CSV / Markdown / PNG export. It
// follows the folder with a FileSystemWatcher backed by a poll (the engine replaces manifest.json and results.json
// atomically, so every change is a whole file) and the engine that runs the sweep through its events: progress,
// ETA, Stop and Resume. A sweep this window starts (Run on a file with a sweep block, or Resume) opens its panel.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isSafeId, type RequestMessage } from '../../protocol/webviews/common';
import {
  parseSweepMessage,
  PNG_DATA_URL_PREFIX,
  SweepMessages,
  type SweepChannel,
  type SweepLive,
  type SweepState,
} from '../../protocol/webviews/sweep';
import { findWorkspaceSweep, workspaceSweeps } from '../runs/workspaceRuns';
import {
  countsText,
  MANIFEST_FILE,
  readOptional,
  RESULTS_FILE,
  unfinishedTrials,
  type SweepFolder,
} from '../sweeps/sweepFolders';
import { filesSignature, pollForChanges } from '../runs/folderPoll';
import { sweepResumeRefusal } from '../runs/launchChecks';
import { isActive, sessionNoun, sessionOfSweep } from '../runs/sessionState';
import { sweepProgress } from '../sweeps/sweepProgress';
import type { RunManagerApi, Session } from '../runs/types';
import { RESUME_SWEEP_COMMAND, STOP_SWEEP_COMMAND } from '../commands';
import { PanelShell, PanelSlot, registerSingletonPanel, saveExport } from './panelShell';
import { backboneFolderLayers, chartExport } from '../sweeps/sweepFigures';
import { buildSweepState, sweepCsv, sweepMarkdown } from '../sweeps/sweepTable';

export const OPEN_SWEEP_COMMAND = 'ladderLab.openSweep';

const slot = new PanelSlot<SweepPanel>('ladderLab.sweep');

/** The command's argument (a sweep folder's path or id, from a test or another command) or the user's pick. Only a
 * folder that is one of the workspace's sweeps opens: an argument is not trusted to name any other folder. */
async function chooseSweep(arg: unknown): Promise<SweepFolder | undefined> {
  if (typeof arg === 'string') {
    const found = await findWorkspaceSweep(arg);
    if (!found)
      void vscode.window.showErrorMessage(`Ladder Lab: ${arg} is not a sweep folder of this workspace's runs folder.`);
    return found;
  }
  const sweeps = await workspaceSweeps();
  if (sweeps.length === 0) {
    void vscode.window.showInformationMessage(
      'Ladder Lab: no sweeps yet. Add a sweep block to an experiment file and run it (or `ladderlab sweep --config FILE.ladder.json` in a terminal).',
    );
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    sweeps.map((s) => ({ label: s.id, description: countsText(s.counts), detail: s.dir, sweep: s })),
    { title: 'Open Sweep', placeHolder: 'A sweep folder (newest first)' },
  );
  return picked?.sweep;
}

export class SweepPanel extends PanelShell<SweepChannel> {
  public static get currentPanel(): SweepPanel | undefined {
    return slot.current;
  }

  /** Test seam: the last state posted (or computed while the webview was not ready). */
  public lastState: SweepState | undefined;
  /** Test seam: the last engine side posted (progress, Stop / Resume). */
  public lastLive: SweepLive | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;

  public static register(extensionUri: vscode.Uri, runs: RunManagerApi): vscode.Disposable {
    return vscode.Disposable.from(
      registerSingletonPanel({
        slot,
        command: OPEN_SWEEP_COMMAND,
        show: async (arg?: unknown) => {
          const sweep = await chooseSweep(arg);
          return sweep && SweepPanel.show(extensionUri, runs, sweep);
        },
        // The webview's saved state is untrusted: only an id that names one of the workspace's sweeps reopens it.
        restore: async (panel, state) => {
          const id = typeof state === 'object' && state !== null ? (state as { sweepId?: unknown }).sweepId : undefined;
          const sweep = isSafeId(id) ? await findWorkspaceSweep(id) : undefined;
          return sweep && new SweepPanel(panel, extensionUri, runs, sweep);
        },
      }),
      // A sweep this window started opens its panel once its folder exists (an engine attached after a reload does
      // not: the panel VS Code restores, if it was open, picks the sweep up).
      runs.onDidEvent(({ sessionId, event }) => {
        if (event.type !== 'sweep_started') return;
        if (runs.sessions().find((s) => s.id === sessionId)?.attached) return;
        void vscode.commands.executeCommand(OPEN_SWEEP_COMMAND, event.sweep_dir);
      }),
    );
  }

  /** The panel of this sweep: the current one if it shows it, else a new one in its place. */
  public static show(extensionUri: vscode.Uri, runs: RunManagerApi, sweep: SweepFolder): SweepPanel {
    return slot.showFor(
      extensionUri,
      `Sweep ${sweep.id}`,
      (current) => current.sweep.dir === sweep.dir,
      (panel) => new SweepPanel(panel, extensionUri, runs, sweep),
    );
  }

  private constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly runs: RunManagerApi,
    public readonly sweep: SweepFolder,
  ) {
    super(panel, extensionUri, { app: 'sweep', title: 'Sweep', parse: parseSweepMessage });
    // The engine's events: this sweep's progress. A trial's new state is in the manifest before its sweep_trial
    // event, and a session's start or end changes Stop and Resume: both read the folder again (which posts both).
    runs.onDidEvent(
      ({ sessionId, event }) => {
        if (sessionId !== this.session()?.id) return;
        if (event.type === 'sweep_trial') void this.refresh();
        else this.postLive();
      },
      null,
      this.disposables,
    );
    runs.onDidChangeSessions(() => void this.refresh(), null, this.disposables);
    // The watcher is the fast path; the poll is the sure one (see folderPoll.ts: the watcher misses changes under
    // folders created in one go, as a sweep's folder is). A workspace-relative glob rides on the workspace's own
    // recursive watcher; one with a folder of its own as base saw no atomic replace at all in code-server.
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(sweep.dir));
    const files = `{${MANIFEST_FILE},${RESULTS_FILE}}`;
    const watcher = vscode.workspace.createFileSystemWatcher(
      folder
        ? new vscode.RelativePattern(
            folder,
            `${path.relative(folder.uri.fsPath, sweep.dir).split(path.sep).join('/')}/${files}`,
          )
        : new vscode.RelativePattern(vscode.Uri.file(sweep.dir), files),
    );
    const changed = () => void this.refresh();
    watcher.onDidCreate(changed, null, this.disposables);
    watcher.onDidChange(changed, null, this.disposables);
    watcher.onDidDelete(changed, null, this.disposables);
    const watched = [MANIFEST_FILE, RESULTS_FILE].map((name) => path.join(sweep.dir, name));
    this.disposables.push(
      watcher,
      pollForChanges(() => filesSignature(watched), changed),
    );
  }

  protected override async onReady(): Promise<void> {
    await this.refresh();
    this.postLive();
  }

  /** The engine session running (or that last ran) this sweep in this window. */
  public session(): Session | undefined {
    return sessionOfSweep(this.runs.sessions(), this.sweep.id);
  }

  /** Posts the engine side: this sweep's progress while its engine runs, and which of Stop / Resume applies. */
  public postLive(): void {
    const session = this.session();
    const engine = session && isActive(session) ? (session.state as SweepLive['engine']) : null;
    const other = this.runs.activeSession();
    const counts = this.lastState && this.lastState.problems.length === 0 ? this.lastState.counts : null;
    const live: SweepLive = {
      engine,
      progress: engine && session ? sweepProgress(session.events, Date.now() / 1000) : null,
      canStop: engine === 'running' || engine === 'starting',
      unfinished: unfinishedTrials(counts),
      resumeBlocked: engine
        ? 'the sweep is running'
        : other
          ? `a ${sessionNoun(other.kind)} is running; stop it first`
          : (sweepResumeRefusal({ id: this.sweep.id, counts }) ?? null),
    };
    this.lastLive = live;
    this.post({ type: SweepMessages.live, live });
  }

  protected override async onRequest(msg: RequestMessage<SweepChannel>): Promise<void> {
    switch (msg.type) {
      case SweepMessages.exportCsv:
        return this.save('csv', () => sweepCsv(this.table()));
      case SweepMessages.exportMarkdown:
        return this.save('md', () => sweepMarkdown(this.table(), this.sweep.id));
      case SweepMessages.exportPng:
        return this.save('png', () => Buffer.from(msg.dataUrl.slice(PNG_DATA_URL_PREFIX.length), 'base64'));
      case SweepMessages.exportChart:
        return this.save(msg.kind, () => chartExport(this.lastState!, msg.axis, msg.kind) ?? '');
      case SweepMessages.stop:
        await vscode.commands.executeCommand(STOP_SWEEP_COMMAND, this.sweep.dir);
        return;
      case SweepMessages.resume:
        await vscode.commands.executeCommand(RESUME_SWEEP_COMMAND, this.sweep.dir);
        return;
    }
  }

  private table() {
    return this.lastState!.table;
  }

  /** Re-reads the folder's two files and posts the new state; calls during a refresh coalesce into one more. */
  public refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        const state = await this.read();
        this.lastState = state;
        this.post({ type: SweepMessages.state, state });
        this.postLive(); // Resume depends on the trials' states
      } while (this.refreshAgain && !this.isDisposed);
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async read(): Promise<SweepState> {
    try {
      const [manifest, results] = await Promise.all(
        [MANIFEST_FILE, RESULTS_FILE].map((name) => readOptional(path.join(this.sweep.dir, name))),
      );
      return buildSweepState(this.sweep.id, manifest, results, await backboneFolderLayers(manifest));
    } catch (e) {
      // A file there but unreadable (permissions, a folder in its place): said as such, not as a missing sweep.
      return {
        ...buildSweepState(this.sweep.id, null, null),
        problems: [`Cannot read the sweep folder: ${(e as Error).message}`],
      };
    }
  }

  private async save(kind: 'csv' | 'md' | 'png', content: () => string | Uint8Array): Promise<void> {
    if (!this.lastState) await this.refresh();
    if (kind !== 'png' && this.lastState!.table.rows.length === 0) {
      void vscode.window.showInformationMessage('Ladder Lab: this sweep has no results yet (results.json) to export.');
      return;
    }
    const filters: Record<typeof kind, Record<string, string[]>> = {
      csv: { CSV: ['csv'] },
      md: { Markdown: ['md'] },
      png: { 'PNG image': ['png'] },
    };
    await saveExport({ name: `sweep-${this.sweep.id}.${kind}`, filters: filters[kind], data: content() });
  }
}
