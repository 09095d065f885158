// The sweep panel: one sweep folder (<runs_dir>/sweeps/<id>/, written by `ladderlab sweep`) as its trials' live grid,
// the Table 1 layout of its results and the score-vs-memory trade-off chart, with CSV / Markdown / PNG export. It
// reads the folder only (launching sweeps from the form is a later step) and follows it with a FileSystemWatcher:
// the engine replaces manifest.json and results.json atomically, so every change is a whole file.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isSafeId, type RequestMessage } from '../../protocol/webviews/common';
import {
  parseSweepMessage,
  PNG_DATA_URL_PREFIX,
  SweepMessages,
  type SweepChannel,
  type SweepState,
} from '../../protocol/webviews/sweep';
import { tryRunsDir } from '../runs/workspaceRuns';
import {
  countsText,
  listSweepFolders,
  MANIFEST_FILE,
  readOptional,
  RESULTS_FILE,
  type SweepFolder,
} from '../runs/sweepFolders';
import { PanelShell, PanelSlot, registerSingletonPanel } from './panelShell';
import { buildSweepState, sweepCsv, sweepMarkdown } from './sweepTable';

export const OPEN_SWEEP_COMMAND = 'ladderLab.openSweep';

const slot = new PanelSlot<SweepPanel>('ladderLab.sweep');

/** Every sweep folder of the workspace's runs folders (the ones the Runs view reads), newest first. */
async function workspaceSweeps(): Promise<SweepFolder[]> {
  const dirs = (vscode.workspace.workspaceFolders ?? []).map(tryRunsDir).filter((d): d is string => !!d);
  const all = (await Promise.all(dirs.map(listSweepFolders))).flat();
  return all.sort((a, b) => b.id.localeCompare(a.id));
}

/** The command's argument (a sweep folder's path or id, from a test or another command) or the user's pick. Only a
 * folder that is one of the workspace's sweeps opens: an argument is not trusted to name any other folder. */
async function chooseSweep(arg: unknown): Promise<SweepFolder | undefined> {
  const sweeps = await workspaceSweeps();
  if (typeof arg === 'string') {
    const found = sweeps.find((s) => s.id === arg || path.resolve(s.dir) === path.resolve(arg));
    if (!found)
      void vscode.window.showErrorMessage(`Ladder Lab: ${arg} is not a sweep folder of this workspace's runs folder.`);
    return found;
  }
  if (sweeps.length === 0) {
    void vscode.window.showInformationMessage(
      'Ladder Lab: no sweeps yet. Run one from a terminal: ladderlab sweep --config FILE.ladder.json (its folder appears under <runs folder>/sweeps).',
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
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;

  public static register(extensionUri: vscode.Uri): vscode.Disposable {
    return registerSingletonPanel({
      slot,
      command: OPEN_SWEEP_COMMAND,
      show: async (arg?: unknown) => {
        const sweep = await chooseSweep(arg);
        return sweep && SweepPanel.show(extensionUri, sweep);
      },
      // The webview's saved state is untrusted: only an id that names one of the workspace's sweeps reopens it.
      restore: async (panel, state) => {
        const id = typeof state === 'object' && state !== null ? (state as { sweepId?: unknown }).sweepId : undefined;
        const sweep = isSafeId(id) ? (await workspaceSweeps()).find((s) => s.id === id) : undefined;
        return sweep && new SweepPanel(panel, extensionUri, sweep);
      },
    });
  }

  /** The panel of this sweep: the current one if it shows it, else a new one in its place. */
  public static show(extensionUri: vscode.Uri, sweep: SweepFolder): SweepPanel {
    const current = slot.current;
    if (current && current.sweep.dir === sweep.dir) {
      current.reveal();
      return current;
    }
    return slot.create(
      extensionUri,
      `Sweep ${sweep.id}`,
      { viewColumn: vscode.ViewColumn.Active },
      (panel) => new SweepPanel(panel, extensionUri, sweep),
    );
  }

  private constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    public readonly sweep: SweepFolder,
  ) {
    super(panel, extensionUri, { app: 'sweep', title: 'Sweep', parse: parseSweepMessage });
    // A workspace-relative glob rides on the workspace's own recursive watcher (as the Runs view's does); a watcher
    // with a folder of its own as base saw no change of the atomically replaced files in code-server.
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
    this.disposables.push(watcher);
  }

  protected override onReady(): Promise<void> {
    return this.refresh();
  }

  protected override async onRequest(msg: RequestMessage<SweepChannel>): Promise<void> {
    switch (msg.type) {
      case SweepMessages.exportCsv:
        return this.save('csv', () => sweepCsv(this.table()));
      case SweepMessages.exportMarkdown:
        return this.save('md', () => sweepMarkdown(this.table(), this.sweep.id));
      case SweepMessages.exportPng:
        return this.save('png', () => Buffer.from(msg.dataUrl.slice(PNG_DATA_URL_PREFIX.length), 'base64'));
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
      } while (this.refreshAgain && !this.isDisposed);
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async read(): Promise<SweepState> {
    try {
      const [manifest, results] = await Promise.all(
        [MANIFEST_FILE, RESULTS_FILE].map((name) => readOptional(path.join(this.sweep.dir, name))),
      );
      return buildSweepState(this.sweep.id, manifest, results);
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
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `sweep-${this.sweep.id}.${kind}`;
    const filters: Record<string, string[]> = {
      csv: { CSV: ['csv'] },
      md: { Markdown: ['md'] },
      png: { 'PNG image': ['png'] },
    }[kind];
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
      filters,
      saveLabel: `Export ${Object.keys(filters)[0]}`,
    });
    if (!target) return;
    const data = content();
    await vscode.workspace.fs.writeFile(target, typeof data === 'string' ? new TextEncoder().encode(data) : data);
    void vscode.window.showInformationMessage(`Ladder Lab: wrote ${vscode.workspace.asRelativePath(target)}`);
  }
}
