// How long a planned sweep takes, from the runs this workspace has already finished: per method and backbone, the
// median set-up time (run_started -> training) and the median seconds per training step of the rest of the run
// (training and its evaluations, duration_s less set-up, over its total steps). A trial's time is its set-up plus
// its steps (the engine's plan counts them) at that rate. Pure (no vscode): unit-tested on real run records.
import type { PlannedTrial } from '../../protocol/webviews/experiment';
import type { RunRecord } from '../runs/types';

export interface SweepTime {
  trials: PlannedTrial[]; // with `seconds` (null where unknown)
  totalSeconds: number | null; // every trial one after another; null when any trial's time is unknown
  note: string;
}

interface Pace {
  setupS: number;
  stepS: number;
  runs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** The pace of finished runs per "method backbone". */
export function measuredPace(runs: readonly RunRecord[]): Map<string, Pace> {
  const seen = new Map<string, { setup: number[]; step: number[] }>();
  for (const run of runs) {
    const steps = run.lastStep?.totalSteps;
    const duration = run.summary?.duration_s;
    const backbone = run.config?.backbone;
    if (run.status !== 'finished' || !steps || !duration || typeof backbone !== 'string') continue;
    const setup = Math.min(run.timing?.initS ?? 0, duration);
    const key = `${run.method} ${backbone}`;
    const entry = seen.get(key) ?? { setup: [], step: [] };
    entry.setup.push(setup);
    entry.step.push((duration - setup) / steps);
    seen.set(key, entry);
  }
  return new Map(
    [...seen].map(([key, e]) => [key, { setupS: median(e.setup), stepS: median(e.step), runs: e.step.length }]),
  );
}

/** Each trial's estimated time and the sweep's; `backbone`: the file's (a trial's point may sweep it). */
export function sweepTime(trials: readonly PlannedTrial[], backbone: string, runs: readonly RunRecord[]): SweepTime {
  const pace = measuredPace(runs);
  const missing = new Set<string>();
  const used = new Set<Pace>();
  const timed = trials.map((t) => {
    const b = typeof t.point.backbone === 'string' ? t.point.backbone : backbone;
    const p = pace.get(`${t.method} ${b}`);
    if (p) used.add(p);
    else missing.add(t.method);
    const seconds = p && typeof t.total_steps === 'number' ? p.setupS + t.total_steps * p.stepS : null;
    return { ...t, seconds };
  });
  const known = timed.every((t) => t.seconds !== null);
  const runsUsed = [...used].reduce((n, p) => n + p.runs, 0);
  let note: string;
  if (missing.size)
    note = `Time unknown until the first trial of ${[...missing].join(', ')} ends: no earlier run of it on this backbone in this workspace.`;
  else if (!known) note = 'Time follows once the estimate has counted the training steps.';
  else
    note = `From ${runsUsed} earlier run${runsUsed === 1 ? '' : 's'} of the same method and backbone in this workspace (set-up, training, evaluation; not the engine's start or data loading); trials one after another.`;
  return {
    trials: timed,
    totalSeconds: known ? timed.reduce((s, t) => s + (t.seconds as number), 0) : null,
    note,
  };
}
