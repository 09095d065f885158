// The Try-model panel: one finished run, exported to ONNX (`ladderlab export`, run by the engine's Python), loaded
// with onnxruntime-node in the extension host. The user types one text (two for pair tasks) and gets the prediction,
// the class probabilities (or the regression score) and the latency. Latency and memory per method are measured in
// a child process and stored as the run's inference.json, which the results table shows.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseTryMessage, TryMessages, type TryResult, type TryState, type TryToWebview } from '../../protocol/webviews/try';
import { findPython } from '../engine/python';
import { EXPORT_DIR, measureInChild, readInferenceFigures, writeInferenceFigures } from '../inference/benchmark';
import { ExportError } from '../inference/manifest';
import { ExportedModel } from '../inference/model';
import { restoredRunId } from './restoredState';
import type { RunManagerApi, RunRecord } from '../runs/types';
import { renderWebviewHtml, webviewOptions } from './webviewHtml';

export const TRY_MODEL_COMMAND = 'ladderLab.tryModel';

export class TryModelPanel {
  public static readonly viewType = 'ladderLab.tryModel';
  public static currentPanel: TryModelPanel | undefined;

  private readonly disposables: vscode.Disposable[] = [];
  private model: ExportedModel | undefined;
  private state: TryState;
  private ready = false;
  private disposed = false; // an export or measurement may finish after the panel closed

  public static show(extensionUri: vscode.Uri, run: RunRecord): TryModelPanel {
    const current = TryModelPanel.currentPanel;
    if (current && current.run.id === run.id) {
      current.panel.reveal(undefined);
      return current;
    }
    current?.dispose();
    const panel = vscode.window.createWebviewPanel(TryModelPanel.viewType, `Try Model: ${run.method}`, vscode.ViewColumn.Active, webviewOptions(extensionUri));
    TryModelPanel.currentPanel = new TryModelPanel(panel, extensionUri, run);
    return TryModelPanel.currentPanel;
  }

  /** A panel restored after a window reload (the serializer found its run). */
  public static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, run: RunRecord): TryModelPanel {
    TryModelPanel.currentPanel?.dispose();
    panel.webview.options = webviewOptions(extensionUri);
    TryModelPanel.currentPanel = new TryModelPanel(panel, extensionUri, run);
    return TryModelPanel.currentPanel;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly run: RunRecord,
  ) {
    this.state = {
      runId: run.id, method: run.method, task: null, status: 'busy', busy: 'Loading the model…', error: null,
      pair: false, labels: null, inference: null,
    };
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'ladder.svg');
    panel.webview.html = renderWebviewHtml(panel.webview, extensionUri, 'try', 'Try Model');
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw), null, this.disposables);
  }

  private get exportDir(): string {
    return path.join(this.run.dir, EXPORT_DIR);
  }

  /** Every message from the webview comes through here: untrusted until validated. */
  public async receive(raw: unknown): Promise<void> {
    const msg = parseTryMessage(raw);
    if (!msg) return;
    switch (msg.type) {
      case TryMessages.ready:
        this.ready = true;
        if (this.model || this.state.status === 'error') this.post({ type: TryMessages.state, state: this.state });
        else await this.load();
        break;
      case TryMessages.reload:
        await this.load();
        break;
      case TryMessages.export:
        await this.exportAndLoad();
        break;
      case TryMessages.measure:
        await this.measure();
        break;
      case TryMessages.predict:
        await this.predict(msg.textA, msg.textB);
        break;
    }
  }

  private setState(patch: Partial<TryState>): void {
    this.state = { ...this.state, ...patch };
    this.post({ type: TryMessages.state, state: this.state });
  }

  private async load(): Promise<void> {
    await this.model?.release();
    this.model = undefined;
    if (!existsSync(path.join(this.exportDir, 'manifest.json'))) {
      this.setState({ status: 'needs-export', busy: null, error: null, inference: await readInferenceFigures(this.run.dir) });
      return;
    }
    this.setState({ status: 'busy', busy: 'Loading the model…', error: null });
    try {
      const model = await ExportedModel.load(this.exportDir);
      if (this.disposed) return void (await model.release());
      this.model = model;
      const m = model.manifest;
      this.setState({ status: 'ready', busy: null, task: m.task, pair: m.pair, labels: m.labels, inference: await readInferenceFigures(this.run.dir) });
    } catch (e) {
      this.setState({ status: 'error', busy: null, error: messageOf(e) });
    }
  }

  private async exportAndLoad(): Promise<void> {
    this.setState({ status: 'busy', busy: 'Exporting to ONNX (ladderlab export)…', error: null });
    try {
      await runExport(this.run.dir);
    } catch (e) {
      this.setState({ status: 'error', busy: null, error: messageOf(e) });
      return;
    }
    await this.load();
    if (this.model) await this.measure();
  }

  private async measure(): Promise<void> {
    if (!this.model) return;
    const previous = this.state.status;
    this.setState({ status: 'busy', busy: 'Measuring latency and memory in a child process…' });
    try {
      const script = vscode.Uri.joinPath(this.extensionUri, 'dist', 'inferenceBenchmark.js').fsPath;
      const figures = await measureInChild(script, this.exportDir);
      await writeInferenceFigures(this.run.dir, figures);
      this.setState({ status: previous, busy: null, inference: figures });
    } catch (e) {
      this.setState({ status: previous, busy: null });
      void vscode.window.showErrorMessage(`Ladder Lab: ${messageOf(e)}`);
    }
  }

  private async predict(textA: string, textB: string | null): Promise<void> {
    const fail = (error: string): TryResult => ({ ok: false, error, label: null, probabilities: [], score: null, latencyMs: 0, tokens: 0 });
    let result: TryResult;
    if (!this.model) {
      result = fail(this.state.error ?? 'The model is not loaded: export the run first.');
    } else {
      try {
        const p = await this.model.predict(textA, textB);
        result = { ok: true, error: null, label: p.label, probabilities: p.probabilities, score: p.score, latencyMs: p.latencyMs, tokens: p.tokens };
      } catch (e) {
        result = fail(messageOf(e));
      }
    }
    this.post({ type: TryMessages.result, result });
  }

  private post(message: TryToWebview): void {
    if (this.ready && !this.disposed) void this.panel.webview.postMessage(message);
  }

  public dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (TryModelPanel.currentPanel === this) TryModelPanel.currentPanel = undefined;
    void this.model?.release();
    this.model = undefined;
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `python -m ladderlab.cli export RUN_DIR` with the engine's interpreter; rejects with the engine's own message. */
async function runExport(runDir: string): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const python = (await findPython(folder)).path;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(python, ['-m', 'ladderlab.cli', 'export', runDir], {
      cwd: folder?.uri.fsPath, shell: false, windowsHide: true,
      env: { ...process.env, HF_HUB_OFFLINE: '1', PYTHONIOENCODING: 'utf-8' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new ExportError(`cannot start ${python}: ${e.message}. Set ladderLab.pythonPath or run "Ladder Lab: Set Up Engine Environment".`)));
    child.on('exit', (code) => {
      const lines = err.trim().split('\n').filter((l) => l.startsWith('ladderlab:') || l.trim().startsWith('hint:'));
      if (code === 0) resolve();
      else reject(new ExportError(`export failed (exit ${code}): ${(lines.length ? lines : err.trim().split('\n').slice(-2)).join(' ').trim()}`));
    });
  });
}

/** The command: a run from the Runs tree (its record or id) or, from the palette, a pick among finished runs. */
export function registerTryModel(context: vscode.ExtensionContext, runManager: RunManagerApi): void {
  const uri = context.extensionUri;
  context.subscriptions.push(
    vscode.commands.registerCommand(TRY_MODEL_COMMAND, async (arg?: RunRecord | string) => {
      const finished = (await runManager.listRuns()).filter((r) => r.status === 'finished');
      const wanted = typeof arg === 'string' ? arg : arg?.id;
      let run = wanted ? finished.find((r) => r.id === wanted) : undefined;
      if (wanted && !run) {
        void vscode.window.showErrorMessage(`Ladder Lab: run ${wanted} is not a finished run; only finished runs can be tried.`);
        return;
      }
      if (!run) {
        if (!finished.length) {
          void vscode.window.showInformationMessage('Ladder Lab: no finished runs yet. Run an experiment first, then try its model.');
          return;
        }
        const pick = await vscode.window.showQuickPick(
          finished.map((r) => ({ label: `${r.method} · ${r.id}`, description: r.summary ? `score ${r.summary.metrics.score?.toFixed(2) ?? '—'}` : '', run: r })),
          { placeHolder: 'The finished run whose model to try' },
        );
        run = pick?.run;
      }
      if (run) TryModelPanel.show(uri, run);
    }),
    vscode.window.registerWebviewPanelSerializer(TryModelPanel.viewType, {
      // The webview's saved state is untrusted: only a run id that names a finished run of this workspace reopens it.
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const runId = restoredRunId(state);
        const run = runId ? (await runManager.listRuns()).find((r) => r.id === runId && r.status === 'finished') : undefined;
        if (run) TryModelPanel.revive(panel, uri, run);
        else panel.dispose();
      },
    }),
    { dispose: () => TryModelPanel.currentPanel?.dispose() },
  );
}
