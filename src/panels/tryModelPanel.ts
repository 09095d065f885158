// The Try-model panel: one finished run, exported to ONNX (`ladderlab export`, run by the engine's Python), loaded
// with onnxruntime-node in the extension host. The user types one text (two for pair tasks) and gets the prediction,
// the class probabilities (or the regression score) and the latency. Latency and memory per method are measured in
// a child process and stored as the run's inference.json, which the results table shows. A causal-LM run (task
// instruct) is not exported: the engine generates its text (`ladderlab generate`, kept running while the panel is
// open, killed with it) and the panel shows the answer with its tokens per second.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RequestMessage } from '../../protocol/webviews/common';
import {
  parseTryMessage,
  TryMessages,
  type GenerateResult,
  type TryChannel,
  type TryResult,
  type TryState,
} from '../../protocol/webviews/try';
import { findPython } from '../engine/python';
import { engineEnv } from '../engine/worker';
import { EXPORT_DIR, measureInChild, readInferenceFigures, writeInferenceFigures } from '../inference/benchmark';
import { EngineGenerator, tokensPerSecond } from '../inference/engineGenerator';
import { ExportError } from '../inference/manifest';
import { ExportedModel } from '../inference/model';
import { runName } from '../runs/runText';
import type { RunManagerApi, RunRecord } from '../runs/types';
import { PanelShell, PanelSlot, registerSingletonPanel } from './panelShell';
import { restoredRunId } from './restoredState';

export const TRY_MODEL_COMMAND = 'ladderLab.tryModel';

const slot = new PanelSlot<TryModelPanel>('ladderLab.tryModel');

export class TryModelPanel extends PanelShell<TryChannel> {
  private model: ExportedModel | undefined;
  private generator: EngineGenerator | undefined; // engine mode: the `ladderlab generate` worker
  private state: TryState;
  private starting: Promise<void> | undefined;
  /** Test seam: the last answer posted in engine mode, and the texts streamed before it. */
  public lastGenerated: GenerateResult | undefined;
  public lastStreamed: string[] = [];

  public static get currentPanel(): TryModelPanel | undefined {
    return slot.current;
  }

  /** Test seam: the process id of the engine worker (engine mode), while it runs. */
  public get workerPid(): number | undefined {
    return this.generator?.running ? this.generator.pid : undefined;
  }

  /** Test seam: the state the webview was last sent. */
  public get shownState(): TryState {
    return this.state;
  }

  /** The command: a run from the Runs tree (its record or id) or, from the palette, a pick among finished runs. */
  public static register(extensionUri: vscode.Uri, runManager: RunManagerApi): vscode.Disposable {
    return vscode.Disposable.from(
      registerSingletonPanel({
        slot,
        command: TRY_MODEL_COMMAND,
        show: async (arg?: unknown) => {
          const run = await pickFinishedRun(runManager, arg);
          if (run) TryModelPanel.show(extensionUri, run);
        },
        // The webview's saved state is untrusted: only a run id that names a finished run of this workspace reopens it.
        restore: async (panel, state) => {
          const runId = restoredRunId(state);
          const run = runId
            ? (await runManager.listRuns()).find((r) => r.id === runId && r.status === 'finished')
            : undefined;
          return run && new TryModelPanel(panel, extensionUri, run);
        },
      }),
      // The panel holds an onnxruntime session: release it with the extension.
      { dispose: () => slot.current?.dispose() },
    );
  }

  /** The panel of this run: the current one if it shows it, else a new one in its place. */
  public static show(extensionUri: vscode.Uri, run: RunRecord): TryModelPanel {
    return slot.showFor(
      extensionUri,
      `Try Model: ${runName(run)}`,
      (current) => current.run.id === run.id,
      (panel) => new TryModelPanel(panel, extensionUri, run),
    );
  }

  private constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly run: RunRecord,
  ) {
    super(panel, extensionUri, { app: 'try', title: 'Try Model', parse: parseTryMessage });
    this.state = {
      runId: run.id,
      method: run.method,
      task: null,
      mode: isCausalLm(run) ? 'engine' : 'onnx',
      status: 'busy',
      busy: 'Loading the model…',
      error: null,
      pair: false,
      labels: null,
      inference: null,
      device: null,
    };
    this.disposables.push({
      dispose: () => {
        void this.model?.release();
        this.model = undefined;
        this.generator?.dispose();
        this.generator = undefined;
      },
    });
  }

  private get exportDir(): string {
    return path.join(this.run.dir, EXPORT_DIR);
  }

  protected override async onReady(): Promise<void> {
    if (this.model || this.generator?.running || this.starting || this.state.status === 'error')
      this.post({ type: TryMessages.state, state: this.state });
    else if (this.state.mode === 'engine') await this.startGenerator();
    else await this.load();
  }

  protected override async onRequest(msg: RequestMessage<TryChannel>): Promise<void> {
    switch (msg.type) {
      case TryMessages.reload:
        await (this.state.mode === 'engine' ? this.startGenerator() : this.load());
        break;
      case TryMessages.generate:
        await this.generate(msg.prompt, msg.maxNewTokens);
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

  /** Engine mode: (re)start the run's `ladderlab generate` worker; ready once it has loaded the run. A second call
   * while one is loading waits for that one. */
  private startGenerator(): Promise<void> {
    this.starting ??= this.restartGenerator().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async restartGenerator(): Promise<void> {
    this.generator?.dispose();
    this.generator = undefined;
    this.setState({ status: 'busy', busy: 'Loading the model in the engine (ladderlab generate)…', error: null });
    try {
      const folder = vscode.workspace.workspaceFolders?.[0];
      const python = (await findPython(folder)).path;
      const { generator, device } = await EngineGenerator.start(python, this.run.dir, {
        cwd: folder?.uri.fsPath,
        env: engineEnv(),
      });
      if (this.isDisposed) return generator.dispose();
      this.generator = generator;
      this.setState({ status: 'ready', busy: null, task: 'instruct', device });
    } catch (e) {
      this.setState({ status: 'error', busy: null, error: messageOf(e) });
    }
  }

  /** Engine mode: one prompt's answer (asked by the webview's try/generate). */
  private async generate(prompt: string, maxNewTokens: number | null): Promise<void> {
    let result: GenerateResult;
    if (this.state.mode !== 'engine' || !this.generator?.running) {
      const why = this.state.mode !== 'engine' ? 'this run is not a causal-LM run' : 'the engine is not running';
      result = { ok: false, error: `${why}: press Reload`, text: '', tokens: 0, seconds: 0, tokensPerSecond: null };
    } else {
      this.lastStreamed = [];
      try {
        const g = await this.generator.generate(prompt, {
          maxNewTokens: maxNewTokens ?? undefined,
          onPartial: (text, tokens) => {
            this.lastStreamed.push(text);
            this.post({ type: TryMessages.generating, text, tokens });
          },
        });
        result = { ok: true, error: null, ...g, tokensPerSecond: tokensPerSecond(g) };
      } catch (e) {
        result = { ok: false, error: messageOf(e), text: '', tokens: 0, seconds: 0, tokensPerSecond: null };
      }
    }
    this.lastGenerated = result;
    this.post({ type: TryMessages.generated, result });
  }

  private async load(): Promise<void> {
    await this.model?.release();
    this.model = undefined;
    if (!existsSync(path.join(this.exportDir, 'manifest.json'))) {
      this.setState({
        status: 'needs-export',
        busy: null,
        error: null,
        inference: await readInferenceFigures(this.run.dir),
      });
      return;
    }
    this.setState({ status: 'busy', busy: 'Loading the model…', error: null });
    try {
      const model = await ExportedModel.load(this.exportDir);
      if (this.isDisposed) return void (await model.release());
      this.model = model;
      const m = model.manifest;
      this.setState({
        status: 'ready',
        busy: null,
        task: m.task,
        pair: m.pair,
        labels: m.labels,
        inference: await readInferenceFigures(this.run.dir),
      });
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
    const fail = (error: string): TryResult => ({
      ok: false,
      error,
      label: null,
      probabilities: [],
      score: null,
      latencyMs: 0,
      tokens: 0,
    });
    let result: TryResult;
    if (!this.model) {
      result = fail(this.state.error ?? 'The model is not loaded: export the run first.');
    } else {
      try {
        const p = await this.model.predict(textA, textB);
        result = {
          ok: true,
          error: null,
          label: p.label,
          probabilities: p.probabilities,
          score: p.score,
          latencyMs: p.latencyMs,
          tokens: p.tokens,
        };
      } catch (e) {
        result = fail(messageOf(e));
      }
    }
    this.post({ type: TryMessages.result, result });
  }
}

/** A run of task instruct trains a decoder to answer prompts: text comes from the engine, not from an ONNX export. */
export function isCausalLm(run: RunRecord): boolean {
  return run.config?.task === 'instruct';
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
      cwd: folder?.uri.fsPath,
      shell: false,
      windowsHide: true,
      env: engineEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) =>
      reject(
        new ExportError(
          `cannot start ${python}: ${e.message}. Set ladderLab.pythonPath or run "Ladder Lab: Set Up Engine Environment".`,
        ),
      ),
    );
    child.on('exit', (code) => {
      const lines = err
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('ladderlab:') || l.trim().startsWith('hint:'));
      if (code === 0) resolve();
      else
        reject(
          new ExportError(
            `export failed (exit ${code}): ${(lines.length ? lines : err.trim().split('\n').slice(-2)).join(' ').trim()}`,
          ),
        );
    });
  });
}

async function pickFinishedRun(runManager: RunManagerApi, arg: unknown): Promise<RunRecord | undefined> {
  const finished = (await runManager.listRuns()).filter((r) => r.status === 'finished');
  const wanted = typeof arg === 'string' ? arg : (arg as RunRecord | undefined)?.id;
  if (wanted) {
    const run = finished.find((r) => r.id === wanted);
    if (!run)
      void vscode.window.showErrorMessage(
        `Ladder Lab: run ${wanted} is not a finished run; only finished runs can be tried.`,
      );
    return run;
  }
  if (!finished.length) {
    void vscode.window.showInformationMessage(
      'Ladder Lab: no finished runs yet. Run an experiment first, then try its model.',
    );
    return undefined;
  }
  const among = finished.map((r) => r.config ?? { method: r.method });
  const pick = await vscode.window.showQuickPick(
    finished.map((r) => ({
      label: `${runName(r, among)} · ${r.id}`,
      description: r.summary ? `score ${r.summary.metrics.score?.toFixed(2) ?? '—'}` : '',
      run: r,
    })),
    { placeHolder: 'The finished run whose model to try' },
  );
  return pick?.run;
}
