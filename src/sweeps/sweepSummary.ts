// A sweep as one result (issue 13): the Results panel, the CodeLens and the Runs tree show a sweep's trials as one
// row / one line / one node: its best grid point by the primary metric (the score's mean over seeds), the size of
// its Pareto front of score vs peak memory and the best point's peak memory, from the sweep folder's manifest.json
// and results.json (the engine's aggregate; nothing is averaged again here). Trial run folders name their sweep in
// config.json ("sweep": {sweep_id, trial_id, point, seed}). No vscode: unit-tested; only readSweepSummaries reads.
import * as path from 'node:path';
import type { SweepSummaryRow } from '../../protocol/webviews/results';
import type { TrialState } from '../../protocol/webviews/sweep';
import type { RunGroup } from '../runs/runText';
import { SWEEPS_DIR } from '../runs/runStore';
import type { RunRecord } from '../runs/types';
import { MANIFEST_FILE, readOptional, RESULTS_FILE } from './sweepFolders';
import { buildTable, countStates, parseManifest, parseResults } from './sweepTable';

/** config.json's "sweep" block of a trial run, or null for a run of no sweep. */
export function sweepOf(
  config: Readonly<Record<string, unknown>> | null | undefined,
): { sweepId: string; trialId: string } | null {
  const sweep = config?.sweep;
  if (typeof sweep !== 'object' || sweep === null) return null;
  const { sweep_id: id, trial_id: trial } = sweep as { sweep_id?: unknown; trial_id?: unknown };
  return typeof id === 'string' && id ? { sweepId: id, trialId: typeof trial === 'string' ? trial : '' } : null;
}

/** A trial's sweep folder: <runs_dir>/sweeps/<id>, beside the trial's own folder. */
export function sweepDirOf(runDir: string, sweepId: string): string {
  return path.join(path.dirname(runDir), SWEEPS_DIR, sweepId);
}

/** The sweep folders the runs' trials name (each once), newest sweep first (ids start with their UTC start). */
export function sweepDirsOf(runs: readonly { dir: string; config?: Record<string, unknown> | null }[]): string[] {
  const dirs = new Set<string>();
  for (const r of runs) {
    const s = sweepOf(r.config);
    if (s) dirs.add(sweepDirOf(r.dir, s.sweepId));
  }
  return [...dirs].sort((a, b) => path.basename(b).localeCompare(path.basename(a)));
}

/** One sweep as one result: what the Results row, the lens and the tree node say. */
export interface SweepSummary extends SweepSummaryRow {
  dir: string;
  /** The experiment file the sweep was started from (manifest.json), absolute; null when not recorded. */
  experimentFile: string | null;
  counts: Record<TrialState, number> | null;
}

/** manifest.json + results.json's text (null = missing) -> the sweep as one result. */
export function summarizeSweep(dir: string, manifestText: string | null, resultsText: string | null): SweepSummary {
  const sweepId = path.basename(dir);
  const manifest = parseManifest(manifestText);
  const results = parseResults(resultsText, manifest.value?.task ?? 'score');
  const table = buildTable(results.value ?? null);
  // The primary metric: the GLUE average when the sweep spans GLUE tasks, else the (first) task's score.
  const scoreOf = (r: (typeof table.rows)[number]) =>
    table.hasGlueAverage ? r.glueAverage : (r.scores.find((s) => s !== null)?.mean ?? null);
  // Ties in score go to the point with less peak memory (the one on the Pareto front).
  const peak = (r: (typeof table.rows)[number]) => r.peakBytes ?? Infinity;
  const ranked = table.rows
    .filter((r) => scoreOf(r) !== null)
    .sort((a, b) => scoreOf(b)! - scoreOf(a)! || peak(a) - peak(b));
  const best = ranked[0];
  const counts = manifest.value ? countStates(manifest.value.trials) : null;
  return {
    sweepId,
    dir,
    experimentFile: manifest.value?.experimentFile ?? null,
    counts,
    trials: counts ? Object.values(counts).reduce((a, b) => a + b, 0) : 0,
    finished: counts?.finished ?? 0,
    tasks: table.tasks,
    best: best
      ? {
          label: best.label,
          method: best.method,
          score: scoreOf(best)!,
          std: table.hasGlueAverage ? null : (best.scores.find((s) => s !== null)?.std ?? null),
          n: best.n,
          peakBytes: best.peakBytes,
        }
      : null,
    paretoSize: table.rows.filter((r) => r.onPareto).length,
    problem: manifest.problem ?? results.problem ?? null,
  };
}

/** What the webview gets of a summary: no folder paths. */
export function summaryRow(s: SweepSummary): SweepSummaryRow {
  const { sweepId, trials, finished, tasks, best, paretoSize, problem } = s;
  return { sweepId, trials, finished, tasks, best, paretoSize, problem };
}

/** "sweep 24 trials · best LST r=8 79.1 · Pareto: 3 points" (the CodeLens and the tree node's description). */
export function sweepResultText(s: SweepSummary): string {
  const parts = [`sweep ${s.trials} trial${s.trials === 1 ? '' : 's'}`];
  if (s.finished < s.trials) parts[0] += ` (${s.finished} finished)`;
  if (s.best) parts.push(`best ${s.best.label} ${s.best.score.toFixed(1)}`);
  else parts.push(s.problem ? 'results unreadable' : 'no results yet');
  if (s.best) parts.push(`Pareto: ${s.paretoSize} point${s.paretoSize === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

/** The newest sweep started from this experiment file (summaries come newest first). */
export function lastSweepOfFile(summaries: readonly SweepSummary[], file: string): SweepSummary | undefined {
  return summaries.find((s) => s.experimentFile !== null && path.resolve(s.experimentFile) === path.resolve(file));
}

/** A sweep node's id in the Runs tree: this, then its folder. */
export const SWEEP_NODE = 'sweep:';

/** One node per sweep, its trials inside in trial order, put under its experiment file's node when the tree has one
 * (newest sweep first, before the file's comparisons), else at the top level after the files. */
export function placeSweeps(groups: RunGroup[], sweeps: SweepSummary[], trials: RunRecord[]): void {
  const trialId = (r: RunRecord) => sweepOf(r.config)?.trialId ?? '';
  const loose: RunGroup[] = [];
  for (const s of [...sweeps].reverse()) {
    const children = trials
      .filter((r) => sweepOf(r.config)?.sweepId === s.sweepId)
      .sort((a, b) => trialId(a).localeCompare(trialId(b)));
    const node: RunGroup = {
      kind: 'group',
      level: 'sweep',
      id: SWEEP_NODE + s.dir,
      title: `Sweep ${s.sweepId}`,
      description: sweepResultText(s),
      children,
    };
    const file = s.experimentFile && groups.find((g) => g.id === `file:${s.experimentFile}`);
    if (file) file.children.unshift(node);
    else loose.unshift(node);
  }
  // Files' ids hold their absolute path; the groups of runs with no file ("Earlier runs"...) stay last.
  const firstLoose = groups.findIndex((g) => !path.isAbsolute(g.id.slice('file:'.length)));
  groups.splice(firstLoose === -1 ? groups.length : firstLoose, 0, ...loose);
}

/** The summaries of the sweeps the runs' trials belong to, newest first (reads each folder's two files). */
export async function readSweepSummaries(
  runs: readonly { dir: string; config?: Record<string, unknown> | null }[],
): Promise<SweepSummary[]> {
  return Promise.all(
    sweepDirsOf(runs).map(async (dir) => {
      const read = (name: string) => readOptional(path.join(dir, name)).catch(() => null);
      const [manifest, results] = await Promise.all([read(MANIFEST_FILE), read(RESULTS_FILE)]);
      return summarizeSweep(dir, manifest, results);
    }),
  );
}
