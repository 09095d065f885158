// Texts of the Runs tree and the status bar. Pure (no vscode) so the wording is unit-tested.
import type { EngineEvent, RunSummary } from '../../protocol/events';
import { methodName } from '../../protocol/runLabel';
import type { RunRecord } from '../runs/types';
import { binomialSe } from '../panels/resultsNoise';

/** A method's name as every view shows it: METHOD_TABLE's label (config.py), less its explanation. */
export function methodLabel(method: string): string {
  return methodName(method);
}

export function mib(bytes: number): string {
  const m = bytes / 2 ** 20;
  return `${m >= 100 ? m.toFixed(0) : m >= 10 ? m.toFixed(1) : m.toFixed(2)} MiB`;
}

/** Peak training memory: torch's CUDA peak when there is one, else the exact accounted bytes, marked "(acct)". */
export function peakMemoryText(summary: RunSummary): string | undefined {
  const m = summary.memory;
  if (m.train_peak_bytes !== null && m.train_peak_bytes !== undefined) return mib(m.train_peak_bytes);
  const acct = m.accounted_bytes ?? m.param_bytes + m.grad_bytes + m.optimizer_bytes + m.saved_for_backward_bytes;
  return `${mib(acct)} (acct)`;
}

/** The task's main metric ("score"), one decimal, as the paper's tables print it. */
export function scoreText(summary: RunSummary): string | undefined {
  const s = summary.metrics.score;
  return typeof s === 'number' ? s.toFixed(1) : undefined;
}

export function runDescription(run: RunRecord): string {
  switch (run.status) {
    case 'finished': {
      if (!run.summary) return '';
      const score = scoreText(run.summary);
      return [score && `score ${score}`, peakMemoryText(run.summary)].filter(Boolean).join(' · ');
    }
    case 'running':
      return run.lastStep ? `step ${run.lastStep.step}/${run.lastStep.totalSteps}` : 'starting…';
    case 'failed':
      return run.error ? `${run.error.kind.replace('_', ' ')}` : 'failed';
    case 'interrupted':
      return run.lastStep ? `stopped at step ${run.lastStep.step}/${run.lastStep.totalSteps}` : 'stopped';
    case 'corrupt':
      return 'unreadable';
  }
}

/** "accuracy 85.20 ±2.25": an accuracy with its sampling error over the run's test examples (the Results table's
 * ± SE) where the summary records how many there were; any other metric, or an older summary, as the bare value. */
export function metricText(name: string, value: number, s: RunSummary): string {
  const se = name === 'accuracy' ? binomialSe(value, s.test_examples) : null;
  return `${name} ${value.toFixed(2)}${se === null ? '' : ` ±${se.toFixed(2)}`}`;
}

/** Markdown for the tree item's tooltip, headed by the run's name (its label, or the user's name for it). */
export function runTooltip(run: RunRecord, name = methodLabel(run.method)): string {
  const lines = [`**${name}** — ${run.status}`, '', `\`${run.id}\``];
  if (run.startedAt) lines.push('', `started ${new Date(run.startedAt * 1000).toLocaleString()}`);
  const s = run.summary;
  if (s) {
    lines.push(
      '',
      Object.entries(s.metrics)
        .map(([k, v]) => metricText(k, v, s))
        .join(' · '),
    );
    lines.push(
      '',
      `trainable ${s.trainable_pct.toFixed(2)}% · peak ${peakMemoryText(s)} · ${s.duration_s.toFixed(0)} s`,
    );
    lines.push(
      '',
      `saved for backward ${mib(s.memory.saved_for_backward_bytes)} · optimizer ${mib(s.memory.optimizer_bytes)}`,
    );
  }
  if (run.lastStep && run.status !== 'finished')
    lines.push('', `step ${run.lastStep.step}/${run.lastStep.totalSteps}, loss ${run.lastStep.loss.toFixed(4)}`);
  if (run.error)
    lines.push(
      '',
      `${run.error.kind}: ${run.error.message}`,
      ...(run.error.hint ? ['', `hint: ${run.error.hint}`] : []),
    );
  if (run.problem) lines.push('', `problem: ${run.problem}`);
  return lines.join('\n');
}

/** "$(sync~spin) LST step 40/126 · 312 MiB" from a session's events so far (undefined before the first run starts). */
export function statusBarText(events: readonly EngineEvent[]): string | undefined {
  let method: string | undefined;
  let step: { step: number; total: number; bytes: number } | undefined;
  let total: number | undefined;
  for (const e of events) {
    if (e.type === 'run_started') {
      method = e.method;
      total = e.total_steps;
      step = undefined;
    } else if (e.type === 'train_step') {
      // Current GPU memory when on CUDA; otherwise the bytes saved for backward, the part the methods differ in.
      step = {
        step: e.step,
        total: e.total_steps,
        bytes: e.memory.allocated_bytes ?? e.memory.saved_for_backward_bytes,
      };
    }
  }
  if (!method) return undefined;
  const label = methodLabel(method);
  if (!step) return `$(sync~spin) ${label} starting${total ? ` (${total} steps)` : ''}…`;
  return `$(sync~spin) ${label} step ${step.step}/${step.total} · ${mib(step.bytes)}`;
}
