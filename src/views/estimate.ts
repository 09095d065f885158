// "Ladder Lab: Estimate Memory": runs `ladderlab estimate --json` on an experiment file and keeps the last result
// per file (in memory and in the workspace state, so it is there again after a reload), for the CodeLens and the
// hover (codeLens.ts). The GPU size for the verdict is the user's (asked in a quick input, remembered per
// workspace) or, left empty, the engine's own GPU.
import { execFile, type ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';
import { parseExperimentText } from '../../protocol/experiment';
import { findPython } from '../engine/python';
import { engineEnv, type Logger } from '../engine/worker';
import { launchBlockedReason } from '../runs/launchChecks';
import { estimateSummary, parseEstimate, parseGpuGiB, type EstimateResult } from './estimateText';

export const ESTIMATE_COMMAND = 'ladderLab.estimateMemory';
const ESTIMATES_KEY = 'ladderLab.estimates';
const GPU_KEY = 'ladderLab.estimateGpuGiB';
const KEPT_FILES = 50; // the workspace state keeps the estimates of this many files, the newest

export interface StoredEstimate {
  result: EstimateResult;
  /** When it was made (ms since the epoch). */
  at: number;
  /** The GPU size the verdict used (GiB), or null: the engine's own GPU (none on a CPU machine). */
  gpuGiB: number | null;
  /** The experiment as estimated (its parsed values as JSON), to tell when the file changed since. */
  values: string;
}

export interface EstimateOptions {
  /** The GPU size for the verdict (GiB; null: this machine's GPU); remembered for the next estimates. */
  gpuGiB?: number | null;
  /** Ask for the GPU size first (the palette, the hover's link). */
  askGpu?: boolean;
}

/** The experiment's values as the estimate saw them; formatting and key order do not count as a change. */
export function experimentKey(text: string): string {
  const { raw } = parseExperimentText(text);
  return raw ? JSON.stringify(Object.entries(raw).sort(([a], [b]) => a.localeCompare(b))) : text;
}

export class MemoryEstimates implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  /** Fires with the file whose estimate changed. */
  readonly onDidChange = this.changed.event;
  private readonly byFile: Map<string, StoredEstimate>;

  constructor(
    private readonly state: vscode.Memento,
    private readonly log: Logger,
    /** The experiment to estimate when none is given and none is in the active editor (commands.ts). */
    private readonly pick: (arg?: vscode.Uri) => Promise<vscode.Uri | undefined>,
  ) {
    const saved = state.get<Record<string, StoredEstimate>>(ESTIMATES_KEY, {});
    // Saved by an older version, or edited: only entries whose result still parses are kept.
    this.byFile = new Map(
      Object.entries(saved).filter(([, e]) => e && !('error' in parseEstimate(JSON.stringify(e.result)))),
    );
  }

  get(uri: vscode.Uri): StoredEstimate | undefined {
    return this.byFile.get(uri.toString());
  }

  /** The GPU size the user set (GiB), or null: this machine's GPU. */
  get gpuGiB(): number | null {
    return this.state.get<number | null>(GPU_KEY, null);
  }

  /** Whether `text` (the file now) differs from what was estimated. */
  isStale(stored: StoredEstimate, text: string): boolean {
    return stored.values !== experimentKey(text);
  }

  /** The command: estimates the given file, the active editor's, or one the user picks; returns what it kept. */
  async estimate(arg?: vscode.Uri | string, options: EstimateOptions = {}): Promise<StoredEstimate | undefined> {
    // A command link (the hover's) passes the file as a string: JSON has no Uri.
    const target = await this.pick(typeof arg === 'string' ? vscode.Uri.parse(arg) : arg);
    if (!target) return undefined;
    const blocked = launchBlockedReason(vscode.workspace.isTrusted);
    if (blocked) return void vscode.window.showErrorMessage(blocked);
    let gpuGiB = options.gpuGiB !== undefined ? options.gpuGiB : this.gpuGiB;
    if (options.askGpu && options.gpuGiB === undefined) {
      const typed = await askGpuGiB(gpuGiB);
      if (typed === undefined) return undefined;
      gpuGiB = typed;
    }
    if (options.gpuGiB !== undefined || options.askGpu) await this.state.update(GPU_KEY, gpuGiB);
    // The engine reads the file from disk: save pending edits so the estimate is of what is on screen.
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.toString());
    if (doc?.isDirty) await doc.save();
    const text = doc?.getText() ?? new TextDecoder().decode(await vscode.workspace.fs.readFile(target));

    const result = await this.runEngine(target, gpuGiB);
    if (!result) return undefined;
    const stored: StoredEstimate = { result, at: Date.now(), gpuGiB, values: experimentKey(text) };
    this.byFile.delete(target.toString()); // re-inserted last: the map's order is oldest first
    this.byFile.set(target.toString(), stored);
    await this.state.update(ESTIMATES_KEY, Object.fromEntries([...this.byFile].slice(-KEPT_FILES)));
    this.changed.fire(target);
    this.log.info(estimateSummary(result));
    void vscode.window.showInformationMessage(`Ladder Lab: ${estimateSummary(result)}`);
    return stored;
  }

  private async runEngine(target: vscode.Uri, gpuGiB: number | null): Promise<EstimateResult | undefined> {
    const folder = vscode.workspace.getWorkspaceFolder(target);
    const python = (await findPython(folder)).path;
    const args = ['-m', 'ladderlab.cli', 'estimate', '--config', target.fsPath, '--json'];
    if (gpuGiB !== null) args.push('--gpu-memory', String(gpuGiB));
    const title = 'Ladder Lab: estimating training memory (a traced step per method, no weights loaded)…';
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      (_, cancel) =>
        new Promise<{ stdout: string; stderr: string; error?: Error; cancelled?: boolean }>((resolve) => {
          const child: ChildProcess = execFile(
            python,
            args,
            { cwd: folder?.uri.fsPath, shell: false, maxBuffer: 16 * 2 ** 20, env: engineEnv() },
            (error, stdout, stderr) => resolve({ stdout, stderr, error: error ?? undefined }),
          );
          cancel.onCancellationRequested(() => {
            child.kill();
            resolve({ stdout: '', stderr: '', cancelled: true });
          });
        }),
    );
    if (outcome.cancelled) return undefined;
    if (outcome.error) {
      this.log.error(outcome.stderr.trim() || outcome.error.message);
      const lines = outcome.stderr.trim().split('\n');
      const said = lines.find((l) => l.startsWith('ladderlab:'))?.replace(/^ladderlab: (error: )?/, '');
      const hint = lines.find((l) => l.trim().startsWith('hint:'))?.trim();
      const noCommand = /invalid choice: 'estimate'/.test(outcome.stderr);
      const message = noCommand
        ? 'this engine has no estimate command; run Ladder Lab: Set Up Engine Environment'
        : `${said ?? outcome.error.message}${hint ? ` (${hint})` : ''}`;
      void vscode.window.showErrorMessage(`Ladder Lab: no estimate — ${message}`);
      return undefined;
    }
    const result = parseEstimate(outcome.stdout);
    if ('error' in result) {
      void vscode.window.showErrorMessage(`Ladder Lab: no estimate — ${result.error}`);
      return undefined;
    }
    return result;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** The GPU size for the verdict: a number (GiB), null for this machine's GPU, undefined if the user cancelled. */
async function askGpuGiB(current: number | null): Promise<number | null | undefined> {
  const typed = await vscode.window.showInputBox({
    title: 'Ladder Lab: Estimate Memory',
    prompt: 'GPU memory (GiB) for the fits / does-not-fit verdict; leave empty for this machine’s GPU',
    placeHolder: 'e.g. 8, 24, 80',
    value: current === null ? '' : String(current),
    validateInput: (text) => {
      const v = parseGpuGiB(text);
      return v !== null && typeof v === 'object' ? v.error : undefined;
    },
  });
  if (typed === undefined) return undefined;
  const v = parseGpuGiB(typed);
  return typeof v === 'number' ? v : null;
}
