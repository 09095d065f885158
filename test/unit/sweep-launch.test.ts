// The pure parts of launching sweeps from the extension: the engine's arguments, the session file and final state of
// a sweep, when Resume is offered, and a running sweep's progress and ETA read from a real sweep's engine output
// (test/unit/fixtures/sweep-events/: see its README): a whole sweep, one stopped in its third trial, its resume.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import type { EngineEvent } from '../../protocol/events';
import { TRIAL_STATES } from '../../protocol/webviews/sweep';
import { sweepArgs, sweepBackendArgs, sweepResumeArgs } from '../../src/engine/worker';
import { sweepResumeRefusal } from '../../src/runs/launchChecks';
import { parseSessionFile } from '../../src/runs/sessionFiles';
import { finalState, sessionOfSweep } from '../../src/runs/sessionState';
import { runsDirOfSweep, unfinishedTrials } from '../../src/sweeps/sweepFolders';
import { sweepProgress, sweepProgressText } from '../../src/sweeps/sweepProgress';
import type { Session } from '../../src/runs/types';
import { checkJsonlFile, REPO_ROOT } from './jsonl';

const DIR = path.join(REPO_ROOT, 'test/unit/fixtures/sweep-events');

function stream(name: string): EngineEvent[] {
  const { events, errors } = checkJsonlFile(path.join(DIR, `${name}.jsonl`));
  assert.deepEqual(errors, [], 'every line is a valid event');
  return events;
}

type TrialEvent = Extract<EngineEvent, { type: 'sweep_trial' }>;
const trialEvents = (events: EngineEvent[]) => events.filter((e): e is TrialEvent => e.type === 'sweep_trial');

test('sweepBackendArgs: the settings as the engine flags; an address means that cluster', () => {
  assert.deepEqual(sweepBackendArgs('local'), ['--backend', 'local']);
  assert.deepEqual(sweepBackendArgs('ray'), ['--backend', 'ray']);
  assert.deepEqual(sweepBackendArgs('auto'), ['--backend', 'auto']);
  assert.deepEqual(sweepBackendArgs('auto', ' ray://head:10001 '), [
    '--backend',
    'ray',
    '--ray-address',
    'ray://head:10001',
  ]);
  assert.deepEqual(sweepBackendArgs('ray', 'head:6379'), ['--backend', 'ray', '--ray-address', 'head:6379']);
  // An explicit local backend wins over a leftover address (the engine would refuse the pair).
  assert.deepEqual(sweepBackendArgs('local', 'head:6379'), ['--backend', 'local']);
  assert.deepEqual(sweepBackendArgs('auto', '  '), ['--backend', 'auto']);
});

test('sweepArgs / sweepResumeArgs: paths stay one argument each, no shell quoting', () => {
  const file = '/w/my "exp" $(x).ladder.json';
  assert.deepEqual(sweepArgs(file, '/w/runs dir', ['--backend', 'local']), [
    '-m',
    'ladderlab.cli',
    'sweep',
    '--config',
    file,
    '--runs-dir',
    '/w/runs dir',
    '--backend',
    'local',
    '--format',
    'events',
  ]);
  assert.deepEqual(sweepResumeArgs('/w/runs/sweeps/2026 x', ['--backend', 'ray']), [
    '-m',
    'ladderlab.cli',
    'sweep',
    'resume',
    '/w/runs/sweeps/2026 x',
    '--backend',
    'ray',
    '--format',
    'events',
  ]);
  assert.equal(runsDirOfSweep('/w/.ladderlab/runs/sweeps/20261201-102241-80dd'), '/w/.ladderlab/runs');
});

test('session.json: a sweep session is read back; an unknown kind is refused', () => {
  const file = { version: 1, id: 'session-a', pid: 4242, kind: 'sweep', experimentPath: '/w/x', methods: ['lst'] };
  const parsed = parseSessionFile(JSON.stringify({ ...file, startedAt: 1 }));
  assert.ok(!('problem' in parsed));
  assert.equal(parsed.kind, 'sweep');
  const bad = parseSessionFile(JSON.stringify({ ...file, kind: 'grid', startedAt: 1 }));
  assert.ok('problem' in bad && /kind is not compare or resume or sweep/.test(bad.problem));
});

test('finalState of a sweep: exit codes first; attached (no code), what its events say', () => {
  const full = stream('full');
  const stopped = stream('stopped');
  const attached = { code: null, signal: null };
  assert.equal(finalState('sweep', false, { code: 0, signal: null }, full), 'finished');
  assert.equal(finalState('sweep', false, { code: 130, signal: null }, stopped), 'stopped');
  assert.equal(finalState('sweep', false, attached, full), 'finished');
  assert.equal(finalState('sweep', false, attached, stopped), 'stopped'); // the stopped trial's run_stopped
  // Killed mid-trial: no sweep_finished, no stop said: resumable.
  const cut = full.slice(0, full.findIndex((e) => e.type === 'train_step' && e.step === 2) + 1);
  assert.equal(finalState('sweep', false, attached, cut), 'interrupted');
  // Killed between two trials: every run finished, still not the sweep.
  const between = full.slice(0, full.findIndex((e) => e.type === 'run_finished') + 1);
  assert.equal(finalState('sweep', false, attached, between), 'interrupted');
});

test('Resume is refused for a sweep with nothing left or an unreadable manifest, with what to do', () => {
  const counts = (c: Partial<Record<(typeof TRIAL_STATES)[number], number>>) =>
    Object.fromEntries(TRIAL_STATES.map((s) => [s, c[s] ?? 0])) as Record<(typeof TRIAL_STATES)[number], number>;
  assert.equal(unfinishedTrials(counts({ finished: 2, stopped: 1, queued: 1 })), 2);
  assert.equal(unfinishedTrials(counts({ finished: 3, failed: 1 })), 1); // a resume runs failed trials again
  assert.equal(unfinishedTrials(counts({ finished: 3, early_stopped: 1 })), 0); // and leaves early-stopped ones
  assert.equal(unfinishedTrials(null), null);
  assert.equal(sweepResumeRefusal({ id: 's1', counts: counts({ finished: 2, stopped: 1 }) }), undefined);
  assert.match(sweepResumeRefusal({ id: 's1', counts: counts({ finished: 4 }) })!, /s1 has no unfinished trial/);
  assert.match(sweepResumeRefusal({ id: 's1', counts: null })!, /manifest\.json is missing or unreadable/);
});

test('sessionOfSweep: the latest session of that sweep folder (a resume after the first run)', () => {
  const s = (id: string, sweepDir?: string): Session => ({
    id,
    kind: sweepDir ? 'sweep' : 'compare',
    experimentPath: '/w/x.ladder.json',
    methods: ['lst'],
    ...(sweepDir ? { sweepDir } : {}),
    state: 'finished',
    events: [],
  });
  const sessions = [s('a', '/r/sweeps/one'), s('b'), s('c', '/r/sweeps/two'), s('d', '/r/sweeps/one')];
  assert.equal(sessionOfSweep(sessions, 'one')?.id, 'd');
  assert.equal(sessionOfSweep(sessions, 'two')?.id, 'c');
  assert.equal(sessionOfSweep(sessions, 'three'), undefined);
});

test('sweepProgress along a whole sweep: trials done, the running trial, no ETA until a trial finished', () => {
  const events = stream('full');
  assert.equal(sweepProgress([], 0), null, 'nothing before sweep_started');
  const trials = trialEvents(events);
  const firstFinished = events.indexOf(trials.find((e) => e.status === 'finished')!);
  let lastDone = 0;
  for (let i = 1; i <= events.length; i++) {
    const seen = events.slice(0, i);
    const p = sweepProgress(seen, seen[i - 1].ts)!;
    assert.equal(p.total, 4);
    const done = trialEvents(seen).filter((e) => e.status === 'finished').length;
    assert.equal(p.done, done, `after event ${i}`);
    assert.ok(p.done >= lastDone, 'done never goes back');
    lastDone = p.done;
    assert.equal(p.etaS === null, i - 1 < firstFinished, `an ETA exactly once a trial has finished (event ${i})`);
    const last = seen[i - 1];
    if (last.type === 'train_step') {
      assert.ok(p.running, 'a trial trains');
      assert.equal(p.running.step, last.step);
      assert.equal(p.running.totalSteps, last.total_steps);
      const running = trialEvents(seen)
        .filter((e) => e.status === 'running')
        .pop()!;
      assert.equal(p.running.trialId, running.trial_id);
      assert.equal(running.run_id, last.run_id, 'the step is the running trial run');
    }
  }
  const end = sweepProgress(events, events[events.length - 1].ts)!;
  assert.deepEqual([end.done, end.running, end.etaS], [4, null, 0]);
  assert.equal(sweepProgressText(end), 'sweep 4/4 trials');
});

test('sweepProgress ETA: the finished trials mean for each waiting trial, the running trial from its pace', () => {
  const events = stream('full');
  const trials = trialEvents(events);
  const at = (id: string, status: string) => trials.find((e) => e.trial_id === id && e.status === status)!;
  // Just after t0001's second step: t0000 finished, t0001 trains, two wait.
  const t1Steps = events.filter((e) => e.type === 'train_step' && e.run_id === at('t0001', 'running').run_id);
  const cut = events.indexOf(t1Steps[1]) + 1;
  const p = sweepProgress(events.slice(0, cut), t1Steps[1].ts)!;
  const trialS = at('t0000', 'finished').ts - at('t0000', 'running').ts;
  const [a, b] = t1Steps as Extract<EngineEvent, { type: 'train_step' }>[];
  const pace = (b.ts - a.ts) / (b.step - a.step);
  assert.equal(p.done, 1);
  assert.ok(Math.abs(p.etaS! - (2 * trialS + pace * (b.total_steps - b.step))) < 1e-9, `${p.etaS}`);
  assert.equal(sweepProgressText(p), `sweep 1/4 trials · t0001 step ${b.step}/${b.total_steps}`);
  // Before its first step the running trial counts as the mean less its time so far (never below 0).
  const started = events.indexOf(at('t0001', 'running')) + 1;
  const q = sweepProgress(events.slice(0, started), at('t0001', 'running').ts + 0.25)!;
  assert.ok(Math.abs(q.etaS! - (2 * trialS + Math.max(0, trialS - 0.25))) < 1e-9);
  assert.equal(sweepProgressText(q), 'sweep 1/4 trials · t0001 running');
});

test('sweepProgress with trials side by side (Ray packing a GPU): the others counted, the waiting ones shared out', () => {
  const events = stream('full');
  const trials = trialEvents(events);
  const at = (id: string, status: string) => trials.find((e) => e.trial_id === id && e.status === status)!;
  // The real stream just after t0001's second step, with t0002 started beside it (as a packed Ray sweep reports it).
  const t1Steps = events.filter((e) => e.type === 'train_step' && e.run_id === at('t0001', 'running').run_id);
  const [a, b] = t1Steps as Extract<EngineEvent, { type: 'train_step' }>[];
  const seen = [...events.slice(0, events.indexOf(b) + 1), { ...at('t0002', 'running'), ts: b.ts }];
  const p = sweepProgress(seen, b.ts)!;
  const trialS = at('t0000', 'finished').ts - at('t0000', 'running').ts;
  const t1Left = ((b.ts - a.ts) / (b.step - a.step)) * (b.total_steps - b.step);
  assert.equal(p.alsoRunning, 1);
  assert.equal(p.running?.trialId, 't0001');
  // one trial waits, on two slots; the longer of the two running remainders (t0002: a whole mean, just started)
  assert.ok(Math.abs(p.etaS! - (Math.max(t1Left, trialS) + trialS / 2)) < 1e-9, `${p.etaS}`);
  assert.equal(sweepProgressText(p), `sweep 1/4 trials · t0001 step ${b.step}/${b.total_steps} +1`);
});

test('sweepProgress: a trial ASHA stopped early is done, as a resume leaves it', () => {
  const events = stream('full');
  const t0 = trialEvents(events).find((e) => e.trial_id === 't0000' && e.status === 'finished')!;
  const early: EngineEvent[] = events.map((e) => (e === t0 ? { ...t0, status: 'early_stopped' } : e));
  const p = sweepProgress(early.slice(0, early.indexOf(events[events.indexOf(t0) + 1])), t0.ts)!;
  assert.equal(p.done, 1);
  assert.equal(p.etaS, null, 'an early-stopped trial says nothing of how long a trial takes');
});

test('sweepProgress of a stopped sweep and of its resume: trials done before count, the stopped one waits', () => {
  const stopped = stream('stopped');
  const p = sweepProgress(stopped, stopped[stopped.length - 1].ts)!;
  assert.deepEqual([p.total, p.done, p.running], [4, 2, null]);
  const resumed = stream('resumed');
  const start = resumed.find((e) => e.type === 'sweep_started')!;
  assert.equal(start.type === 'sweep_started' && start.pending, 2);
  const first = sweepProgress(resumed.slice(0, resumed.indexOf(start) + 1), start.ts)!;
  assert.deepEqual([first.total, first.done, first.etaS], [4, 2, null], 'no ETA from the earlier engine run');
  const end = sweepProgress(resumed, resumed[resumed.length - 1].ts)!;
  assert.equal(end.done, 4);
  // The resumed trial's steps go on from its checkpoint: the step shown is the engine's, not a count of events.
  const resumedRun = resumed.find((e) => e.type === 'run_started' && e.resumed);
  assert.ok(resumedRun && resumedRun.type === 'run_started');
  const step = resumed.find((e) => e.type === 'train_step' && e.run_id === resumedRun.run_id)!;
  const mid = sweepProgress(resumed.slice(0, resumed.indexOf(step) + 1), step.ts)!;
  assert.equal(mid.running?.step, resumedRun.resumed!.step + 1);
});
