// Which finished runs belong to an experiment file, and the CodeLens / hover texts about them. Pure.
import { DEFAULT_LR, FIELDS, lrFor, type ExperimentFileValues } from '../../protocol/experiment';
import type { StoredRun } from '../runs/runStore';
import type { RunRecord } from '../runs/types';
import { runName } from '../runs/runText';
import { methodLabel, metricText, peakMemoryText } from './format';

// Not compared: methods (each run holds one), runs_dir (runs from VS Code go to the setting's folder), lr/lrs
// (config.json holds the one rate the run used: compared below), device (config.json holds the resolved one).
const NOT_COMPARED = new Set(['methods', 'runs_dir', 'lr', 'lrs', 'device']);

/** Was this run (its config.json, the engine's resolved experiment) made from these experiment file values? */
export function runMatchesExperiment(values: ExperimentFileValues, config: Record<string, unknown>): boolean {
  const method = config.method;
  if (typeof method !== 'string') return false;
  const methods = (values.methods as string[] | undefined) ?? ['lst'];
  if (!methods.includes(method)) return false;
  for (const spec of FIELDS) {
    if (NOT_COMPARED.has(spec.name)) continue;
    const want = values[spec.name] ?? spec.default;
    if (JSON.stringify(want) !== JSON.stringify(config[spec.name] ?? null)) return false;
  }
  const device = (values.device as string | undefined) ?? 'auto';
  if (device !== 'auto' && device !== config.device && !(device === 'cuda' && String(config.device).startsWith('cuda')))
    return false;
  return method in DEFAULT_LR ? lrFor(values, method) === config.lr : true;
}

export interface MethodResult {
  method: string;
  run?: RunRecord; // the newest finished run of this method for the file; undefined if none
}

/** For each method of the file, in its order, the newest matching finished run (runs come newest first). */
export function latestResults(values: ExperimentFileValues, runs: readonly StoredRun[]): MethodResult[] {
  const methods = (values.methods as string[] | undefined) ?? ['lst'];
  return methods.map((method) => ({
    method,
    run: runs.find(
      (r) =>
        r.status === 'finished' &&
        r.summary &&
        r.method === method &&
        r.config &&
        runMatchesExperiment(values, r.config),
    ),
  }));
}

function score(run: RunRecord | undefined): string {
  const s = run?.summary?.metrics.score;
  return typeof s === 'number' ? s.toFixed(1) : '—';
}

/** What each result is called: its run's name among the file's latest runs, else (no run yet) the method's. */
function namesOf(results: readonly MethodResult[]): string[] {
  const among = results.flatMap((r) => (r.run ? [r.run.config ?? { method: r.run.method }] : []));
  return results.map((r) => (r.run ? runName(r.run, among) : methodLabel(r.method)));
}

/** "LST r=8 84.6 · LoRA rank 32 85.0 · Full fine-tuning —", or undefined when no method has a result yet. */
export function resultsLensTitle(results: readonly MethodResult[]): string | undefined {
  if (!results.some((r) => r.run)) return undefined;
  const names = namesOf(results);
  return results.map((r, i) => `${names[i]} ${score(r.run)}`).join(' · ');
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** A markdown table of the full numbers of each method's latest result. */
export function resultsHoverMarkdown(results: readonly MethodResult[]): string | undefined {
  if (!results.some((r) => r.run)) return undefined;
  const rows = [
    '| method | score | metrics | trainable | peak memory | time | run |',
    '|---|---:|---|---:|---:|---:|---|',
  ];
  const names = namesOf(results).map(cell);
  for (const [i, { run }] of results.entries()) {
    const s = run?.summary;
    if (!run || !s) {
      rows.push(`| ${names[i]} | — | no finished run yet | | | | |`);
      continue;
    }
    const metrics = Object.entries(s.metrics)
      .filter(([k]) => k !== 'score')
      .map(([k, v]) => metricText(k, v, s))
      .join(', ');
    rows.push(
      `| ${names[i]} | ${score(run)} | ${cell(metrics)} | ${s.trainable_pct.toFixed(2)}% | ${peakMemoryText(s)} | ${s.duration_s.toFixed(0)} s | \`${run.id}\` |`,
    );
  }
  return `**Latest results**\n\n${rows.join('\n')}\n`;
}

export const RUN_LENS_TITLE = '$(play) Run comparison';
export const ESTIMATE_LENS_TITLE = '$(dashboard) Estimate memory';
