// The plan of the Experiment form's sweep, asked of the engine (never re-expanded here): `ladderlab sweep plan
// --config F --json` for the trials (a second or two: the grid's own checks, nothing imported that trains), then
// the same with --estimate for each trial's predicted peak and training steps (the engine traces one step per grid
// point: seconds each). One file's text at a time: a newer text cancels what the engine was still doing.
import { execFile, type ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';
import type { PlannedTrial } from '../../protocol/webviews/experiment';
import { findPython } from '../engine/python';
import { engineEnv } from '../engine/worker';
import { experimentKey } from './estimate';

export interface PlanOutcome {
  planning: boolean;
  estimating: boolean;
  trials?: PlannedTrial[]; // the plan, with peak_bytes and total_steps once estimated
  refused?: string; // the engine's message (and hint) for a refused grid
  estimateError?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The trials of `ladderlab sweep plan --json`'s stdout, or undefined when it is not that shape. */
export function parsePlan(stdout: string): PlannedTrial[] | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!isObject(raw) || !Array.isArray(raw.trials)) return undefined;
  const trials: PlannedTrial[] = [];
  for (const t of raw.trials as unknown[]) {
    if (!isObject(t) || typeof t.trial_id !== 'string' || typeof t.method !== 'string') return undefined;
    if (!isObject(t.point) || typeof t.seed !== 'number') return undefined;
    const trial: PlannedTrial = { trial_id: t.trial_id, method: t.method, point: t.point, seed: t.seed };
    if (typeof t.peak_bytes === 'number') trial.peak_bytes = t.peak_bytes;
    if (typeof t.total_steps === 'number' || t.total_steps === null) trial.total_steps = t.total_steps;
    trials.push(trial);
  }
  return trials;
}

/** The engine's refusal on stderr ("ladderlab: error: MESSAGE" and "  hint: HINT") as one sentence. */
export function engineRefusal(stderr: string): string | undefined {
  const lines = stderr.trim().split('\n');
  const said = lines.find((l) => l.startsWith('ladderlab:'))?.replace(/^ladderlab: (error|crash): /, '');
  const hint = lines.find((l) => l.trim().startsWith('hint:'))?.trim();
  return said && `${said}${hint ? ` (${hint})` : ''}`;
}

export class SweepPlanner implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the engine has answered (the form asks `get` again). */
  readonly onDidChange = this.changed.event;
  private key: string | undefined;
  private outcome: PlanOutcome = { planning: false, estimating: false };
  private readonly children = new Set<ChildProcess>();

  /** What is known of the plan of `uri` as `text` holds it; a new text starts the engine (the file is on disk). */
  get(uri: vscode.Uri, text: string): PlanOutcome {
    const key = `${uri.toString()}\n${experimentKey(text)}`;
    if (key !== this.key) {
      this.cancel();
      this.key = key;
      this.outcome = { planning: true, estimating: false };
      void this.ask(uri, key);
    }
    return this.outcome;
  }

  private async ask(uri: vscode.Uri, key: string): Promise<void> {
    const update = (outcome: PlanOutcome) => {
      if (this.key !== key) return false; // the file moved on: a newer plan is on its way
      this.outcome = outcome;
      this.changed.fire();
      return true;
    };
    const planned = await this.runEngine(uri, false);
    if ('error' in planned) return void update({ planning: false, estimating: false, refused: planned.error });
    if (!update({ planning: false, estimating: true, trials: planned.trials })) return;
    const estimated = await this.runEngine(uri, true);
    if ('error' in estimated)
      update({ planning: false, estimating: false, trials: planned.trials, estimateError: estimated.error });
    else update({ planning: false, estimating: false, trials: estimated.trials });
  }

  private async runEngine(uri: vscode.Uri, estimate: boolean): Promise<{ trials: PlannedTrial[] } | { error: string }> {
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    const python = (await findPython(folder)).path;
    const args = ['-m', 'ladderlab.cli', 'sweep', 'plan', '--config', uri.fsPath, '--json'];
    if (estimate) args.push('--estimate');
    const { stdout, stderr, error } = await new Promise<{ stdout: string; stderr: string; error?: Error }>(
      (resolve) => {
        const child = execFile(
          python,
          args,
          { cwd: folder?.uri.fsPath, shell: false, maxBuffer: 16 * 2 ** 20, env: engineEnv() },
          (err, out, errOut) => {
            this.children.delete(child);
            resolve({ stdout: out, stderr: errOut, error: err ?? undefined });
          },
        );
        this.children.add(child);
      },
    );
    if (error) {
      const noCommand = /invalid choice: 'plan'|invalid choice: 'sweep'/.test(stderr);
      return {
        error: noCommand
          ? 'this engine cannot plan a sweep; run Ladder Lab: Set Up Engine Environment'
          : (engineRefusal(stderr) ?? error.message),
      };
    }
    const trials = parsePlan(stdout);
    return trials ? { trials } : { error: 'the engine printed no plan' };
  }

  private cancel(): void {
    for (const child of this.children) child.kill();
    this.children.clear();
  }

  dispose(): void {
    this.cancel();
    this.changed.dispose();
  }
}
