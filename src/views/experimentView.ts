// The sidebar Experiment view (view id ladderLab.experiment): a form over one `*.ladder.json` file of the
// workspace. The file is the source of truth: the form's changes are written to it (through the open editor
// when there is one, so undo works and nothing is clobbered), and changes to it, on disk or in an editor, update
// the form. Which file: the *.ladder.json in the active editor, else the one used last, else the first found;
// with none, the first change creates experiment.ladder.json.
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  applyPatch,
  experimentErrors,
  parseExperimentText,
  serializeExperiment,
  STARTER_EXPERIMENT,
  SWEEP_KEY,
  type ExperimentPatch,
  type FieldError,
} from '../../protocol/experiment';
import {
  applySweepBlock,
  blockToControls,
  controlsToBlock,
  sweepBackboneProblems,
  sweepProblems,
  withField,
  withSeedCount,
  type SweepControls,
} from '../../protocol/sweepBlock';
import type { RequestMessage } from '../../protocol/webviews/common';
import {
  ExperimentMessages,
  parseExperimentMessage,
  type ExperimentChannel,
  type ExperimentState,
  type SweepState,
} from '../../protocol/webviews/experiment';
import { WebviewChannel } from '../panels/webviewChannel';
import { renderWebviewHtml, webviewOptions } from '../panels/webviewHtml';
import { launchBlockedReason } from '../runs/launchChecks';
import type { RunManagerApi } from '../runs/types';
import { cacheChoices, type CachedModel } from '../../protocol/hubCache';
import { findPython } from '../engine/python';
import { backboneInfo, PRESETS } from './backboneInfo';
import { listCachedModels } from './hubCacheListing';
import { instructFileProblem } from './instructData';
import { acceptPaths, experimentPath, isHubName, PathPolicy, type PathField, type RefusedPath } from './pathPolicy';
import { SweepPlanner } from './sweepPlan';
import { sweepTime } from './sweepTime';

const FILE_GLOB = '**/*.ladder.json';
const NEW_FILE_NAME = 'experiment.ladder.json';

export class ExperimentViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  public static readonly viewType = 'ladderLab.experiment';

  private view: vscode.WebviewView | undefined;
  private readonly channel = new WebviewChannel<ExperimentChannel>(parseExperimentMessage, {
    onReady: () => this.postState(),
    onRequest: (message) => this.handle(message),
  });
  private file: vscode.Uri | undefined;
  private readonly policy = new PathPolicy(() => (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath));
  /** Paths the form sent that the rule refused, with the file's value at the time: shown in their field with the
   * reason until the field is changed again (or the file's value changes under it). */
  private readonly refused = new Map<PathField, RefusedPath & { file: string; fileValue: string | null }>();
  private readonly disposables: vscode.Disposable[] = [];
  private pending: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<unknown> = Promise.resolve();
  private readonly planner = new SweepPlanner();
  /** The Hugging Face cache's models (the engine's listing) for the backbone picker, and when they were asked. */
  private cached: CachedModel[] = [];
  private cacheAskedAt = 0;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly runManager: RunManagerApi,
    /** Opens the run monitor (the internal command registered next to this view). */
    private readonly showMonitor: () => unknown,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher(FILE_GLOB);
    this.disposables.push(
      this.channel,
      watcher,
      watcher.onDidChange((uri) => this.onFileEvent(uri)),
      watcher.onDidCreate((uri) => this.onFileEvent(uri)),
      watcher.onDidDelete((uri) => {
        if (this.file && uri.toString() === this.file.toString()) this.file = undefined;
        this.scheduleState();
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.file && e.document.uri.toString() === this.file.toString()) this.scheduleState();
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        const uri = editor?.document.uri;
        if (
          uri &&
          uri.scheme === 'file' &&
          uri.path.endsWith('.ladder.json') &&
          uri.toString() !== this.file?.toString()
        ) {
          this.file = uri;
          this.scheduleState();
        }
      }),
      runManager.onDidChangeSessions(() => this.scheduleState()),
      this.planner,
      this.planner.onDidChange(() => this.scheduleState()),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = renderWebviewHtml(view.webview, this.extensionUri, 'experiment', 'Experiment');
    this.channel.attach(view.webview);
    view.onDidChangeVisibility(
      () => {
        if (!view.visible) this.channel.hidden();
      },
      null,
      this.disposables,
    );
    view.onDidDispose(
      () => {
        if (this.view === view) this.view = undefined;
      },
      null,
      this.disposables,
    );
  }

  // ---- the file ---------------------------------------------------------------------------------------------------

  /** The file the form shows while it is visible (Estimate Memory from the palette estimates it). */
  get shownFile(): vscode.Uri | undefined {
    return this.view?.visible ? this.file : undefined;
  }

  private onFileEvent(uri: vscode.Uri): void {
    if (!this.file || uri.toString() === this.file.toString()) this.scheduleState();
  }

  private async currentFile(): Promise<vscode.Uri | undefined> {
    const active = vscode.window.activeTextEditor?.document.uri;
    if (!this.file && active?.scheme === 'file' && active.path.endsWith('.ladder.json')) this.file = active;
    if (this.file) return this.file;
    const found = await vscode.workspace.findFiles(FILE_GLOB, '**/{node_modules,.git,.venv,.ladderlab}/**', 20);
    found.sort((a, b) => a.path.length - b.path.length || a.path.localeCompare(b.path));
    this.file = found[0];
    return this.file;
  }

  private async readText(uri: vscode.Uri): Promise<string | null> {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (doc) return doc.getText();
    try {
      return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    } catch {
      return null;
    }
  }

  private async writeText(uri: vscode.Uri, text: string): Promise<void> {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (doc) {
      const edit = new vscode.WorkspaceEdit();
      edit.replace(uri, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), text);
      await vscode.workspace.applyEdit(edit);
      await doc.save();
    } else {
      await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
    }
  }

  private workspaceRoot(): vscode.Uri | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri;
  }

  /** The file a change goes to: the current one, or the one a first change creates (not written here). */
  private async fileToEdit(): Promise<vscode.Uri | undefined> {
    const existing = await this.currentFile();
    if (existing) return existing;
    const root = this.workspaceRoot();
    if (!root) {
      void vscode.window.showWarningMessage(
        'Ladder Lab: open a folder first; the experiment file lives in the workspace.',
      );
      return undefined;
    }
    return vscode.Uri.joinPath(root, NEW_FILE_NAME);
  }

  /** Reads the file, or creates it (with the form's defaults) when none exists yet. */
  private async ensureFile(): Promise<vscode.Uri | undefined> {
    const uri = await this.fileToEdit();
    if (uri && uri !== this.file) {
      await this.writeText(uri, applyPatch(null, {}));
      this.file = uri;
    }
    return uri;
  }

  // ---- state ------------------------------------------------------------------------------------------------------

  private scheduleState(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.postState();
    }, 100);
  }

  /** Asks the engine for the cache's models, at most once a minute (when the form is built again): the form never
   * waits for the answer, it is updated when the answer differs. Asking runs the workspace's Python: trusted only. */
  private askCache(): void {
    if (!vscode.workspace.isTrusted || Date.now() - this.cacheAskedAt < 60_000) return;
    this.cacheAskedAt = Date.now();
    const folder = vscode.workspace.workspaceFolders?.[0];
    void findPython(folder)
      .then((python) => listCachedModels(python.path, folder?.uri.fsPath))
      .then((models) => {
        if (JSON.stringify(models) === JSON.stringify(this.cached)) return;
        this.cached = models;
        this.scheduleState();
      })
      .catch(() => undefined); // no Python found: the picker offers what it did before
  }

  private async state(): Promise<ExperimentState> {
    this.askCache();
    const uri = await this.currentFile();
    const text = uri ? await this.readText(uri) : null;
    // No file yet (or an empty one): the form shows the starter, which the first change writes (see applyPatch).
    const parsed = parseExperimentText(text?.trim() ? text : serializeExperiment(STARTER_EXPERIMENT));
    const root = this.workspaceRoot()?.fsPath;
    // A backbone folder is read from the experiment file's folder, as the engine reads it (pathPolicy.ts); a hub id
    // from its snapshot in the Hugging Face cache.
    const from = uri ? path.dirname(uri.fsPath) : (root ?? '.');
    const backbone = parsed.values.backbone;
    const info = await backboneInfo(
      backbone,
      (p) => (uri ? experimentPath(p, uri.fsPath) : root ? path.resolve(root, p) : p),
      this.cached,
    );
    const active = this.runManager.activeSession();
    // A file that is not a JSON object makes the form read-only (problems); bad fields are shown with their own
    // values and their errors beside them, and editable; any error disables Run (the engine would refuse it).
    const errors = experimentErrors(parsed, info.shape);
    const shown = { ...parsed.shown };
    for (const [field, r] of this.refused) {
      if (uri?.fsPath !== r.file || parsed.values[field] !== r.fileValue)
        this.refused.delete(field); // another file, or the file moved on: the refusal is stale
      else {
        errors.push({ field, message: r.message });
        shown[field] = r.value; // the value as typed, beside its error, so it can be corrected where it is
      }
    }
    const data = parsed.values.data;
    if (parsed.values.task === 'instruct' && typeof data === 'string' && !errors.some((e) => e.field === 'data')) {
      const file = uri ? experimentPath(data, uri.fsPath) : root ? path.resolve(root, data) : data;
      const problem = await instructFileProblem(file, path.basename(file)); // its first lines, as the engine reads them
      if (problem) errors.push({ field: 'data', message: problem });
    }
    const controls = parsed.raw ? blockToControls(parsed.raw[SWEEP_KEY]) : null;
    if (controls) {
      const bad = sweepProblems(controls);
      errors.push(...(bad.length ? bad : sweepBackboneProblems(controls, parsed.values, info.shape)));
    }
    const sweep = controls && uri && text !== null ? await this.sweepState(uri, text, controls, errors) : null;
    return {
      file: uri ? vscode.workspace.asRelativePath(uri) : null,
      values: parsed.values,
      shown,
      backbone: info,
      presets: Object.keys(PRESETS),
      cached: cacheChoices(this.cached),
      backboneIsHubId: isHubName('backbone', backbone, from),
      problems:
        uri && text === null
          ? [`Cannot read ${vscode.workspace.asRelativePath(uri)}.`]
          : errors.filter((e) => e.field === '').map((e) => e.message),
      errors: errors.filter((e) => e.field !== ''),
      running:
        active !== undefined &&
        (active.state === 'starting' || active.state === 'running' || active.state === 'stopping'),
      sweep,
    };
  }

  /** The sweep as the form shows it: its controls, and the engine's plan once the file has nothing else to fix
   * (a refused grid becomes one of `errors`, so Run is disabled with the engine's words). */
  private async sweepState(
    uri: vscode.Uri,
    text: string,
    controls: SweepControls,
    errors: FieldError[],
  ): Promise<SweepState> {
    const shown = {
      fields: controls.fields,
      seeds: Math.max(1, controls.seeds.length),
      unsupported: controls.unsupported,
    };
    const blocked = launchBlockedReason(vscode.workspace.isTrusted);
    if (blocked) return { ...shown, plan: { status: 'waiting', note: blocked } };
    if (errors.length)
      return {
        ...shown,
        plan: { status: 'waiting', note: 'The trial count follows once the errors above are fixed.' },
      };
    const outcome = this.planner.get(uri, text);
    if (outcome.planning) return { ...shown, plan: { status: 'planning' } };
    if (outcome.refused !== undefined) {
      errors.push({ field: SWEEP_KEY, message: `sweep: ${outcome.refused}` });
      return { ...shown, plan: { status: 'refused', message: outcome.refused } };
    }
    const trials = outcome.trials ?? [];
    const backbone = parseExperimentText(text).values.backbone;
    const time = sweepTime(trials, backbone, await this.runManager.listRuns());
    return {
      ...shown,
      plan: {
        status: 'planned',
        count: trials.length,
        trials: time.trials,
        estimating: outcome.estimating,
        estimateError: outcome.estimateError,
        totalSeconds: time.totalSeconds,
        timeNote: time.note,
      },
    };
  }

  private async postState(): Promise<void> {
    if (!this.view || !this.channel.ready) return;
    this.channel.post({ type: ExperimentMessages.state, state: await this.state() });
  }

  // ---- messages -----------------------------------------------------------------------------------------------------

  /** Test seam: the state the form would be sent now (the integration suite reads a refused path's error). */
  public currentState(): Promise<ExperimentState> {
    return this.state();
  }

  /** Every message from the webview comes through here (also the test seam): untrusted until validated. */
  public async receive(raw: unknown): Promise<void> {
    await this.channel.receive(raw);
  }

  private async handle(msg: RequestMessage<ExperimentChannel>): Promise<void> {
    try {
      switch (msg.type) {
        case ExperimentMessages.update:
          await this.update(msg.patch);
          break;
        case ExperimentMessages.pickBackboneFolder:
          await this.pickBackbone();
          break;
        case ExperimentMessages.pickData:
          await this.pickData(msg.kind);
          break;
        case ExperimentMessages.openFile: {
          const uri = await this.currentFile();
          if (uri) await vscode.window.showTextDocument(uri, { preview: false });
          break;
        }
        case ExperimentMessages.run:
          await this.run();
          break;
        case ExperimentMessages.sweepField:
          await this.updateSweep((c) => withField(c, msg.field, msg.values));
          break;
        case ExperimentMessages.sweepSeeds:
          await this.updateSweep((c, seed) => withSeedCount(c, msg.count, seed));
          break;
      }
    } catch (e) {
      void vscode.window.showErrorMessage(`Ladder Lab: ${e instanceof Error ? e.message : String(e)}`);
      await this.postState();
    }
  }

  /** Applies a validated patch after the host-side check of paths (typed, pasted or chosen: one rule, acceptPaths);
   * a refused path is shown in its field with the reason and disables Run until it is changed. What the
   * engine would refuse about the values (a kept layer beyond the backbone, an r that does not divide it) is
   * written as asked and shown as an error beside the field, with Run disabled: the file is the user's. */
  private async update(patch: ExperimentPatch): Promise<void> {
    // Serialise writes: two quick edits must not read the same old text.
    const next = this.writing.then(async () => {
      const uri = await this.fileToEdit(); // a new file is written only for a change that is accepted
      if (!uri) return;
      const text = await this.readText(uri);
      const current = parseExperimentText(text ?? '');
      if (current.raw === null && text !== null && text.trim() !== '') {
        throw new Error(`${vscode.workspace.asRelativePath(uri)} is not a JSON object; fix it in the editor first.`);
      }
      const { accepted, refused } = acceptPaths(this.policy, patch, uri.fsPath, [
        current.values.backbone,
        current.values.data,
      ]);
      for (const field of Object.keys(patch)) this.refused.delete(field as PathField); // the field changed again
      for (const r of refused)
        this.refused.set(r.field, { ...r, file: uri.fsPath, fileValue: current.values[r.field] });
      if (Object.keys(accepted).length === 0) return;
      let next = applyPatch(text, accepted);
      const controls = current.raw ? blockToControls(current.raw[SWEEP_KEY]) : null;
      if (accepted.methods && controls && !controls.unsupported)
        // per_method follows the methods chosen
        next = applySweepBlock(next, controlsToBlock(controls, accepted.methods));
      await this.writeText(uri, next);
      this.file = uri;
    });
    this.writing = next.catch(() => undefined);
    try {
      await next;
    } finally {
      await this.postState();
    }
  }

  /** Changes the file's sweep block as the form's controls see it (a block the form cannot edit is refused). */
  private async updateSweep(change: (controls: SweepControls, fileSeed: number) => SweepControls): Promise<void> {
    const next = this.writing.then(async () => {
      const uri = await this.ensureFile();
      if (!uri) return;
      const text = (await this.readText(uri)) ?? '';
      const current = parseExperimentText(text);
      if (current.raw === null)
        throw new Error(`${vscode.workspace.asRelativePath(uri)} is not a JSON object; fix it in the editor first.`);
      const controls = blockToControls(current.raw[SWEEP_KEY]) ?? { fields: {}, seeds: [] };
      if (controls.unsupported)
        throw new Error(`the form cannot change this sweep block (${controls.unsupported}); edit it in the file.`);
      const block = controlsToBlock(change(controls, current.values.seed), current.values.methods);
      await this.writeText(uri, applySweepBlock(text, block));
    });
    this.writing = next.catch(() => undefined);
    try {
      await next;
    } finally {
      await this.postState();
    }
  }

  private async pickBackbone(): Promise<void> {
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      defaultUri: this.workspaceRoot(),
      openLabel: 'Use as backbone',
      title: 'A Hugging Face checkpoint folder (config.json + weights)',
    });
    const folder = picked?.[0];
    if (!folder) return this.postState(); // the select showed "folder…": put it back
    this.policy.approve(folder.fsPath);
    await this.update({ backbone: folder.fsPath }); // written as a typed path is (acceptPaths)
  }

  private async pickData(kind: 'folder' | 'file'): Promise<void> {
    // Instruction tuning reads JSON lines only (the form then checks the file's first lines: instructData.ts).
    const uri = await this.currentFile();
    const text = uri ? await this.readText(uri) : null;
    const instruct = !!text?.trim() && parseExperimentText(text).values.task === 'instruct';
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: kind === 'folder' && !instruct,
      canSelectFiles: kind === 'file' || instruct,
      canSelectMany: false,
      defaultUri: this.workspaceRoot(),
      filters: instruct
        ? { 'Instruction data (JSON lines)': ['jsonl'] }
        : kind === 'file'
          ? { 'Data files': ['json', 'jsonl', 'csv', 'tsv'] }
          : undefined,
      openLabel: 'Use as data',
      title: instruct
        ? 'Instruction data: a .jsonl of {"prompt", "response"} or {"messages"} objects'
        : kind === 'folder'
          ? 'The task folder (GLUE TSV files)'
          : 'The data file',
    });
    const target = picked?.[0];
    if (!target) return;
    this.policy.approve(target.fsPath);
    await this.update({ data: target.fsPath }); // written as a typed path is (acceptPaths)
  }

  private async run(): Promise<void> {
    await this.writing;
    const uri = await this.ensureFile();
    if (!uri) return;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (doc?.isDirty) await doc.save(); // the engine reads the file from disk
    const session = await this.runManager.startComparison(uri.fsPath);
    // A sweep opens its own panel once its folder exists; the monitor follows one comparison's runs.
    if (session.kind !== 'sweep') await this.showMonitor();
    await this.postState();
  }

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
