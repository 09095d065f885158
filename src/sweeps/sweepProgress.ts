// A running sweep's progress from its engine's events: trials done of the total, the running trial's step and an
// ETA for the whole sweep. Trials' durations come from their sweep_trial events (running -> finished), which every
// backend sends; the running trials' pace from their train_step events (the local backend's, and a Ray trial's as the
// driver relays them). Trials that run side by side (Ray packing several on one GPU) share out the waiting ones.
// Pure (no vscode): unit-tested on real engine output.
import type { EngineEvent } from '../../protocol/events';
import type { SweepProgress } from '../../protocol/webviews/sweep';

interface TrialTimes {
  startedAt?: number; // the sweep_trial "running" event's time
  runId?: string;
  firstStep?: { step: number; ts: number };
  lastStep?: { step: number; totalSteps: number; ts: number };
}

/** The progress of the sweep the events belong to (one engine process), or null before its sweep_started. */
export function sweepProgress(events: readonly EngineEvent[], now: number): SweepProgress | null {
  let total: number | undefined;
  let doneBefore = 0; // trials this process does not run: finished or early-stopped before (a resume)
  const status = new Map<string, string>();
  const times = new Map<string, TrialTimes>();
  const trialOfRun = new Map<string, string>();
  const durations: number[] = [];
  for (const e of events) {
    if (e.type === 'sweep_started') {
      total = e.trials;
      doneBefore = e.trials - e.pending;
    } else if (e.type === 'sweep_trial') {
      status.set(e.trial_id, e.status);
      const t = times.get(e.trial_id) ?? {};
      times.set(e.trial_id, t);
      if (e.run_id) trialOfRun.set((t.runId = e.run_id), e.trial_id);
      if (e.status === 'running') t.startedAt ??= e.ts;
      if (e.status === 'finished' && t.startedAt !== undefined) durations.push(e.ts - t.startedAt);
    } else if (e.type === 'train_step' && e.run_id) {
      const trial = trialOfRun.get(e.run_id);
      const t = trial === undefined ? undefined : times.get(trial);
      if (!t) continue;
      t.firstStep ??= { step: e.step, ts: e.ts };
      t.lastStep = { step: e.step, totalSteps: e.total_steps, ts: e.ts };
    }
  }
  if (total === undefined) return null;
  const states = [...status.values()];
  const count = (s: string) => states.filter((x) => x === s).length;
  const runningIds = [...status].filter(([, s]) => s === 'running').map(([id]) => id);
  const runningId = runningIds[0];
  const t = runningId === undefined ? undefined : times.get(runningId);
  const running =
    runningId === undefined
      ? null
      : {
          trialId: runningId,
          step: t?.lastStep?.step ?? 0,
          totalSteps: t?.lastStep?.totalSteps ?? null,
        };
  const done = doneBefore + count('finished') + count('failed') + count('early_stopped');
  const waiting = Math.max(0, total - done - runningIds.length - count('stopped'));
  return {
    total,
    done,
    failed: count('failed'),
    running,
    alsoRunning: Math.max(0, runningIds.length - 1),
    etaS:
      durations.length === 0
        ? null
        : eta(
            mean(durations),
            waiting,
            runningIds.map((id) => times.get(id) ?? {}),
            now,
          ),
  };
}

/** Seconds left: the running trials' longest remainder, then the waiting trials, each the finished ones' mean, shared
 * among as many slots as trials run now. A running trial's remainder is what its pace says is left of its steps, or
 * (no pace yet) the mean less its time so far. */
function eta(trialS: number, waiting: number, running: TrialTimes[], now: number): number {
  const remainders = running.map(({ firstStep: a, lastStep: b, startedAt }) =>
    a && b && b.step > a.step
      ? ((b.ts - a.ts) / (b.step - a.step)) * (b.totalSteps - b.step)
      : Math.max(0, trialS - (now - (startedAt ?? now))),
  );
  return Math.max(0, ...remainders) + (waiting * trialS) / Math.max(1, running.length);
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** "2/4 trials · t0002 step 5/8": the status bar's and the Runs view's words for a running sweep. */
export function sweepProgressText(p: SweepProgress | null): string {
  if (!p) return 'sweep starting…';
  const trial = p.running
    ? ` · ${p.running.trialId} ${p.running.totalSteps ? `step ${p.running.step}/${p.running.totalSteps}` : 'running'}` +
      (p.alsoRunning ? ` +${p.alsoRunning}` : '')
    : '';
  return `sweep ${p.done}/${p.total} trials${p.failed ? ` (${p.failed} failed)` : ''}${trial}`;
}
