// The monitor's progress box on real engine event streams (engine/tests/fixtures/events, written by
// make_event_fixture.py): LST's init as data (Fisher progress, cache, resume), no ETA once nothing runs, Stopped vs
// Failed, run counts after a failure and a reload, a gap in the memory line across a pause, data notes once, and the
// ETA of later methods at their own pace (or their last run's, from the host) with evaluation included.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { EngineEvent, InitProgressEvent } from '../../protocol/events';
import { createModel, progress, type MonitorModel } from '../../webview/shared/series';
import { fold, modelOf } from '../../webview/monitor/resume';
import { barFraction, etaText, phaseText, runText } from '../../webview/monitor/progressText';
import { stepTimesByMethod } from '../../src/panels/monitorHints';
import type { RunRecord } from '../../src/runs/types';
import { checkJsonlFile, REPO_ROOT } from './jsonl';

function fixture(name: string): EngineEvent[] {
  const report = checkJsonlFile(path.join(REPO_ROOT, 'engine/tests/fixtures/events', `${name}.jsonl`));
  assert.deepEqual(report.errors, []);
  return report.events;
}
const compare = fixture('compare-lst-lora');
const cached = fixture('cached-init');
const stopResume = fixture('stop-resume');
const oom = fixture('oom');
const distilled = fixture('distillation-init');

/** The model after the events up to and including the first one that `until` picks. */
function upTo(events: EngineEvent[], until: (e: EngineEvent) => boolean, methods: string[] = []): MonitorModel {
  const m = createModel(methods);
  for (const e of events) {
    fold(m, e);
    if (until(e)) break;
  }
  return m;
}
const isInit = (e: EngineEvent): e is InitProgressEvent => e.type === 'init_progress';

test('Fisher pass: its examples, its own ETA and a moving bar, never the training ETA', () => {
  const real = compare.find(isInit)!;
  assert.equal(real.source, 'scores');
  const before = upTo(compare, (e) => e.type === 'phase_started' && e.phase === 'pruning_init');
  assert.equal(phaseText(progress(before), false), 'Initialising the side network (pruning)');
  // the same event mid-pass, as a larger run writes it every two seconds
  const mid: InitProgressEvent = { ...real, elapsed_s: 4, examples: { done: 64, total: 128, eta_s: 4 } };
  fold(before, mid);
  const p = progress(before);
  assert.equal(phaseText(p, false), 'Initialising the side network (Fisher scores): 64/128 examples · ETA 4 s');
  assert.equal(barFraction(p), 0.5);
  assert.equal(p.runEtaS, null);
  assert.equal(etaText(p), '');
  const end = upTo(compare, isInit);
  assert.equal(phaseText(progress(end), false), 'Initialising the side network (Fisher scores): 4/4 examples');
  assert.match(
    end.messages.at(-1)!.text,
    /^lst: side network initialised in \d+\.\d s \(Fisher scores of 4 examples\)$/,
  );
  const training = upTo(compare, (e) => e.type === 'train_step');
  assert.equal(phaseText(progress(training), false), 'Training');
  assert.equal(barFraction(progress(training)), progress(training).fraction);
});

test('distillation init: its own phase, its examples and ETA, then training', () => {
  const started = upTo(distilled, (e) => e.type === 'phase_started' && e.phase === 'distillation_init');
  assert.equal(phaseText(progress(started), false), 'Initialising the side network (distillation)');
  const first = upTo(distilled, isInit);
  const p = progress(first);
  assert.equal(p.phase, 'distillation_init');
  assert.match(phaseText(p, false), /^Initialising the side network \(distillation\): 8\/24 examples · ETA \d+ s$/);
  assert.equal(barFraction(p), 8 / 24);
  assert.equal(p.runEtaS, null); // the training's ETA only once training runs
  const done = upTo(distilled, (e) => isInit(e) && e.examples?.done === 24);
  assert.match(
    done.messages.at(-1)!.text,
    /^lst: side network initialised in \d+\.\d s \(distillation on 24 examples\)$/,
  );
  const training = upTo(distilled, (e) => e.type === 'train_step');
  assert.equal(phaseText(progress(training), false), 'Training');
});

test('a cache hit says so, in the phase, on the run line and in the messages', () => {
  const hit = cached.filter(isInit);
  assert.deepEqual(
    hit.map((e) => [e.source, e.examples]),
    [['cache', undefined]],
  );
  const m = upTo(cached, isInit);
  const p = progress(m);
  assert.equal(phaseText(p, false), 'Side network from cache (no pruning to do)');
  assert.match(runText(p), /^Run 1 of 1: lst on cpu · step 0 \/ \d+ · side network from cache$/);
  assert.ok(m.messages.some((x) => x.text === 'lst: side network from cache (the pruning init was reused)'));
  assert.match(runText(progress(modelOf(cached, []))), /side network from cache · finished$/);
});

test('stop, then resume: Stopped (not Failed) with no ETA; the resumed run restores its side network, no init', () => {
  const stopped = upTo(stopResume, (e) => e.type === 'run_stopped');
  const p = progress(stopped);
  assert.equal(p.current!.status, 'stopped');
  assert.equal(p.runEtaS, null);
  assert.equal(etaText(p), '');
  assert.equal(phaseText(p, stopped.finished), '');
  assert.match(runText(p), / · stopped$/);
  assert.match(stopped.messages.at(-1)!.text, /^lst: stopped at step 3 of \d+; it can be resumed from its checkpoint$/);

  const resumed = upTo(stopResume, (e) => isInit(e) && e.source === 'checkpoint');
  const q = progress(resumed);
  assert.equal(q.current!.status, 'running');
  assert.notEqual(q.phase, 'pruning_init');
  assert.match(
    runText(q),
    /^Run 1 of 1: lst on cpu · step 3 \/ 6 · side network restored from its checkpoint \(no init\)$/,
  );
  assert.ok(resumed.messages.some((x) => x.text === 'lst: side network restored from its checkpoint (no init)'));
  // its first step after the resume: training, its own pace
  const restoredAt = stopResume.find((e) => isInit(e) && e.source === 'checkpoint')!.ts;
  const again = upTo(stopResume, (e) => e.type === 'train_step' && e.ts >= restoredAt);
  assert.equal(phaseText(progress(again), false), 'Training');
});

test('the memory line has a gap across the pause, and data notes show once', () => {
  const m = modelOf(stopResume, []);
  const line = m.memory.get('lst/saved')!;
  const gap = line.points.findIndex((pt) => Number.isNaN(pt.y));
  assert.ok(gap > 0 && gap < line.points.length - 1, 'one gap between the stopped and the resumed part');
  assert.equal(line.points.filter((pt) => Number.isNaN(pt.y)).length, 1);
  assert.ok(line.points[gap + 1].x > line.points[gap - 1].x);
  const resumedAt = stopResume.filter((e) => e.type === 'run_started')[1].ts - m.startTs!;
  assert.equal(line.points[gap].x, resumedAt);

  const notes = compare.filter((e) => e.type === 'log').map((e) => (e.type === 'log' ? e.message : ''));
  assert.ok(notes.length >= 2 && new Set(notes).size < notes.length, 'the fixture repeats its notes per method');
  const shown = modelFromAll(compare).messages.map((x) => x.text);
  for (const note of new Set(notes)) assert.equal(shown.filter((t) => t === note).length, 1, note);
});

function modelFromAll(events: EngineEvent[], methods: string[] = []): MonitorModel {
  return modelOf(events, methods);
}

test('no ETA after the end or once the session is not live; Failed where the engine failed', () => {
  const done = progress(modelFromAll(compare));
  assert.equal(done.fraction, 1);
  assert.equal(done.runEtaS, null);
  assert.equal(etaText(done), '');
  const midway = upTo(compare, (e) => e.type === 'train_step' && e.step < e.total_steps);
  assert.ok(progress(midway).runEtaS !== null);
  assert.equal(progress(midway, { live: false }).runEtaS, null); // stopped, interrupted: nothing counts down
  assert.equal(progress(midway, { live: false }).phase, null);

  const failed = progress(modelFromAll(oom));
  assert.deepEqual(failed.current && [failed.current.method, failed.current.status], ['lst', 'failed']);
  assert.match(runText(failed), /^Run 2 of 2: lst .* · failed$/);
  assert.equal(failed.runEtaS, null);
});

test('run counts: by the method’s place, after a method that failed before its run and after a reload', () => {
  const lastRun = compare.slice(compare.findIndex((e) => e.type === 'run_started' && e.method === 'lora'));
  // a reload replays from the run folders: maybe only the last run's events, with the session's methods
  assert.match(runText(progress(modelOf(lastRun, ['lst', 'lora']))), /^Run 2 of 2: lora/);
  // read back from the folders of a comparison still under way: its config names every method
  const partial = compare.slice(
    0,
    compare.findIndex((e) => e.type === 'run_started' && e.method === 'lora'),
  );
  const listed = partial.map((e) =>
    e.type === 'run_started' ? { ...e, config: { ...e.config, methods: ['lst', 'lora', 'full'] } } : e,
  );
  assert.match(runText(progress(modelOf(listed, ['lst']))), /^Run 1 of 3: lst/);
  // lst failed before its run folder existed (no run_started): lora is still method 2 of 2
  const noLst = [
    {
      v: 1,
      type: 'error',
      ts: lastRun[0].ts - 1,
      kind: 'bad_input',
      message: 'r=7 does not divide the width',
      hint: null,
    } as EngineEvent,
    ...lastRun,
  ];
  const p = progress(modelOf(noLst, ['lst', 'lora']));
  assert.equal(p.runIndex, 1);
  assert.equal(p.runCount, 2);
});

// ---- ETA of the rest of a comparison ------------------------------------------------------------------------------

function started(run: string, method: string, ts: number, total = 10): EngineEvent {
  return {
    v: 1,
    type: 'run_started',
    ts,
    run_id: run,
    method,
    run_dir: `/runs/${run}`,
    device: 'cpu',
    config: { epochs: 1 },
    params: { total: 10, trainable: 1, trainable_pct: 10 },
    total_steps: total,
  };
}
function step(run: string, n: number, ts: number, stepS: number): EngineEvent {
  const memory = { allocated_bytes: null, reserved_bytes: null, saved_for_backward_bytes: 1 };
  return {
    v: 1,
    type: 'train_step',
    ts,
    run_id: run,
    step: n,
    total_steps: 10,
    epoch: 0,
    loss: 1,
    lr: 1,
    step_s: stepS,
    memory,
  };
}
function evaluation(run: string, split: 'validation' | 'test', ts: number): EngineEvent {
  return { v: 1, type: 'evaluation', ts, run_id: run, split, step: 10, epoch: 0, metrics: { score: 50 } };
}

test('ETA: later methods at their own pace (or a given one), evaluation timed and included', () => {
  const events: EngineEvent[] = [started('a', 'lst', 0)];
  for (let i = 1; i <= 10; i++) events.push(step('a', i, i, 0.5));
  const lstTraining = modelOf(events, ['lst', 'lora', 'full']);
  const early = progress(lstTraining);
  assert.equal(early.evalIncluded, false); // no evaluation timed yet: said, not guessed
  assert.match(etaText(early), /\+ evaluation/);
  events.push(
    evaluation('a', 'validation', 13), // 3 s after the last step
    { v: 1, type: 'phase_started', ts: 14, run_id: 'a', phase: 'eval' },
    evaluation('a', 'test', 16), // 2 s
    { v: 1, type: 'run_finished', ts: 17, run_id: 'a', summary: {} as never },
    started('b', 'lora', 20),
    step('b', 1, 21, 1),
    step('b', 2, 22, 1),
  );
  const p = progress(modelOf(events, ['lst', 'lora', 'full']));
  assert.equal(p.runIndex, 1);
  assert.equal(p.evalIncluded, true);
  assert.equal(p.runEtaS, 8 * 1 + 2 * 2.5); // its steps at its pace, a validation and a test at 2.5 s each
  assert.equal(p.sessionEtaS, p.runEtaS + 10 * 1 + 2 * 2.5); // full: unknown pace, so lora's
  const hinted = progress(modelOf(events, ['lst', 'lora', 'full']), { stepS: { full: 2 } });
  assert.equal(hinted.sessionEtaS, p.runEtaS + 10 * 2 + 2 * 2.5);
});

test('the host hands the ETA each method’s step time from its newest earlier run of the same experiment file', () => {
  const record = (id: string, method: string, file: string | null, stepS: number | null): RunRecord => ({
    id,
    dir: `/runs/${id}`,
    method,
    status: 'finished',
    config: file === null ? {} : { experiment_file: file },
    timing: { stepS, initS: null, testExamples: null },
  });
  const runs = [
    record('4-full', 'full', '/ws/a.ladder.json', 2.5), // newest first
    record('3-full', 'full', '/ws/a.ladder.json', 9),
    record('2-lora', 'lora', '/ws/other.ladder.json', 1), // another experiment
    record('1-adapter', 'adapter', null, 3), // from the CLI, no experiment file
    record('0-bitfit', 'bitfit', '/ws/a.ladder.json', null), // never timed a step
  ];
  assert.deepEqual(stepTimesByMethod(runs, '/ws/./a.ladder.json', ['lst', 'lora', 'full', 'adapter', 'bitfit']), {
    full: 2.5,
  });
});
