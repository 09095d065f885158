// Runs a setup plan (setupPlan.ts): each step as a child process (argument arrays, no shell), then the import check;
// on a failed step, a failed check or a cancel it removes the .venv when the plan created it. No vscode here, so the
// failure and cancel paths are tested with real processes (test/unit/setup-run.test.ts); setup.ts adds the UI.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { checkEnvironment, describeReport, type EnvironmentReport } from './environment';
import type { Logger } from './logger';
import { lastLines, progressLine, type SetupPlan, type SetupStep } from './setupPlan';

export interface RunOptions {
  cwd: string;
  log: Logger;
  signal?: AbortSignal; // cancel: the running step is killed and nothing more starts
  onProgress?: (message: string) => void;
  /** The check after the steps; the real import check by default. */
  check?: (python: string) => Promise<EnvironmentReport>;
}

export type SetupOutcome =
  | { ok: true; report: EnvironmentReport }
  | { ok: false; cancelled: boolean; why: string; detail?: string; removedVenv: boolean };

function runStep(step: SetupStep, opts: RunOptions, report: (m: string) => void): Promise<{ code: number | null; output: string[] }> {
  return new Promise((resolve) => {
    opts.log.info(`$ ${[step.command, ...step.args].join(' ')}`);
    const output: string[] = [];
    const child = spawn(step.command, step.args, {
      cwd: opts.cwd,
      shell: false,
      env: { ...process.env, ...step.env, PIP_NO_INPUT: '1', PYTHONUNBUFFERED: '1' },
    });
    const kill = () => child.kill('SIGTERM');
    opts.signal?.addEventListener('abort', kill);
    if (opts.signal?.aborted) kill(); // cancelled between the check and the spawn
    const pipe = (chunk: Buffer) =>
      chunk
        .toString('utf8')
        .split(/\r?\n/)
        .filter((l) => l.trim())
        .forEach((l) => {
          opts.log.info(l);
          output.push(l);
          if (output.length > 200) output.shift(); // the end is what an error message quotes
          const p = progressLine(l);
          if (p) report(`${step.title}: ${p}`);
        });
    child.stdout.on('data', pipe);
    child.stderr.on('data', pipe);
    child.on('error', (e) => {
      output.push(`cannot run ${step.command}: ${e.message}`);
      opts.log.error(output.at(-1)!);
    });
    child.on('close', (code) => {
      opts.signal?.removeEventListener('abort', kill);
      resolve({ code, output });
    });
  });
}

export async function executePlan(plan: SetupPlan, opts: RunOptions): Promise<SetupOutcome> {
  const total = plan.steps.length + 1;
  const progress = (m: string) => opts.onProgress?.(m);
  const fail = (cancelled: boolean, why: string, detail?: string): SetupOutcome => {
    // Only what this setup made: a .venv that was there before keeps whatever it had.
    const removedVenv = plan.createsVenv && existsSync(plan.venv);
    if (removedVenv) {
      rmSync(plan.venv, { recursive: true, force: true });
      opts.log.info(`removed ${plan.venv} (this setup created it)`);
    }
    opts.log.error(`setup: ${why}${detail ? `\n${detail}` : ''}`);
    return { ok: false, cancelled, why, detail, removedVenv };
  };
  for (const [i, step] of plan.steps.entries()) {
    if (opts.signal?.aborted) return fail(true, `cancelled before ${step.title}`);
    const prefix = `(${i + 1}/${total}) `;
    progress(prefix + step.title);
    const { code, output } = await runStep(step, opts, (m) => progress(prefix + m));
    if (opts.signal?.aborted) return fail(true, `cancelled while ${step.title}`);
    if (code !== 0) return fail(false, `${step.title} failed (exit ${code ?? 'killed'})`, lastLines(output));
  }
  progress(`(${total}/${total}) checking that torch, transformers, peft and ladderlab import`);
  const report = await (opts.check ?? ((py) => checkEnvironment(py, { deep: true, cwd: opts.cwd })))(plan.python);
  opts.log.info(describeReport(report));
  if (opts.signal?.aborted) return fail(true, 'cancelled while checking the imports');
  if (!report.ok) return fail(false, `the check after installing failed: ${describeReport(report)}`);
  return { ok: true, report };
}
