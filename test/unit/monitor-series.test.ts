// Chart data shaping for the run monitor, on real engine output (a CPU comparison of LST and LoRA) and on
// synthetic CUDA events; plus the nvidia-smi parser and the GPU monitor's polling life cycle.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { EngineEvent, TrainStepEvent } from '../../protocol/events';
import type { GpuSample } from '../../protocol/webviews/common';
import { GpuMonitor, NVIDIA_SMI_ARGS, parseNvidiaSmi, type Exec } from '../../src/engine/gpuMonitor';
import type { Session } from '../../src/runs/types';
import {
  applyEvent,
  applyGpuSample,
  countPoints,
  createModel,
  formatDuration,
  median,
  MIB,
  modelFromEvents,
  progress,
} from '../../webview/shared/series';
import { checkJsonlFile, REPO_ROOT } from './jsonl';

const compare = checkJsonlFile(path.join(REPO_ROOT, 'engine/tests/fixtures/events/compare-lst-lora.jsonl'));

test('the engine fixture is valid', () => assert.deepEqual(compare.errors, []));

test('loss: one series per method, one point per train_step, x = step', () => {
  const model = modelFromEvents(compare.events);
  const steps = compare.events.filter((e): e is TrainStepEvent => e.type === 'train_step');
  assert.deepEqual([...model.loss.keys()], ['lst', 'lora']);
  assert.equal(countPoints(model.loss.values()), steps.length);
  const lst = model.loss.get('lst')!;
  assert.deepEqual(
    lst.map((p) => p.x),
    lst.map((_, i) => i + 1),
  );
  const firstLst = steps.find((e) => e.run_id === compare.events.find((x) => x.type === 'run_started')!.run_id)!;
  assert.equal(lst[0].y, firstLst.loss);
});

test('memory on CPU: the saved-for-backward line per method, labelled as accounted (not CUDA), in MiB', () => {
  const model = modelFromEvents(compare.events);
  const series = [...model.memory.values()];
  assert.deepEqual(
    series.map((s) => s.key),
    ['lst/saved', 'lora/saved'],
  );
  for (const s of series) {
    assert.equal(s.kind, 'saved');
    assert.match(s.label, /saved for backward.*not CUDA/);
  }
  const step = compare.events.find((e): e is TrainStepEvent => e.type === 'train_step')!;
  assert.equal(series[0].points[0].y, step.memory.saved_for_backward_bytes / MIB);
  // x = seconds since the session's first event, increasing.
  for (const s of series) assert.ok(s.points.every((p, i) => p.x >= 0 && (i === 0 || p.x >= s.points[i - 1].x)));
  assert.ok(series[1].points[0].x > series[0].points.at(-1)!.x); // LoRA ran after LST
});

test('progress: runs, phases and the end of a comparison', () => {
  const model = createModel(['lst', 'lora']);
  const seen: string[] = [];
  for (const e of compare.events) {
    applyEvent(model, e);
    const p = progress(model);
    if (p.phase && seen[seen.length - 1] !== `${p.current?.method}:${p.phase}`)
      seen.push(`${p.current?.method}:${p.phase}`);
  }
  assert.deepEqual(seen.slice(0, 2), ['lst:pruning_init', 'lst:train']);
  assert.ok(seen.includes('lora:train'));
  const end = progress(model);
  assert.equal(end.fraction, 1);
  assert.equal(end.runEtaS, null); // nothing left to count down: no ETA after the end
  assert.equal(end.runCount, 2);
  assert.equal(model.finished, true);
  assert.deepEqual(
    model.runs.map((r) => [r.method, r.status]),
    [
      ['lst', 'finished'],
      ['lora', 'finished'],
    ],
  );
});

function step(run: string, n: number, total: number, ts: number, extra: Partial<TrainStepEvent> = {}): EngineEvent {
  return {
    v: 1,
    type: 'train_step',
    ts,
    run_id: run,
    step: n,
    total_steps: total,
    epoch: 0,
    loss: 1 / n,
    lr: 1e-3,
    memory: { allocated_bytes: null, reserved_bytes: null, saved_for_backward_bytes: 1000 },
    ...extra,
  };
}
function started(run: string, method: string, total: number, ts: number): EngineEvent {
  return {
    v: 1,
    type: 'run_started',
    ts,
    run_id: run,
    method,
    run_dir: `/runs/${run}`,
    device: 'cuda:0',
    config: { methods: ['lst', 'lora', 'full'] },
    params: { total: 10, trainable: 1, trainable_pct: 10 },
    total_steps: total,
  };
}

test('ETA: remaining steps x the median recent step time; later runs assumed alike', () => {
  const model = createModel();
  applyEvent(model, started('a', 'lst', 100, 1000));
  // step_s given: 0.5 s per step, with one outlier that the median ignores.
  for (let i = 1; i <= 10; i++) applyEvent(model, step('a', i, 100, 1000 + i, { step_s: i === 5 ? 30 : 0.5 }));
  const p = progress(model);
  assert.deepEqual(model.methods, ['lst', 'lora', 'full']); // from run_started.config
  assert.equal(p.runEtaS, 90 * 0.5);
  assert.equal(p.sessionEtaS, 90 * 0.5 + 2 * 100 * 0.5);
  assert.ok(Math.abs(p.fraction - 0.1 / 3) < 1e-9);
});

test('ETA without step_s falls back to the gaps between step events', () => {
  const model = createModel(['lst']);
  applyEvent(model, started('a', 'lst', 10, 0));
  for (let i = 1; i <= 4; i++) applyEvent(model, step('a', i, 10, 2 * i));
  assert.deepEqual(model.runs[0].stepTimes, [2, 2, 2]);
  assert.equal(progress(model).runEtaS, 6 * 2);
  // the comparison (run_started.config) has two more methods, of as many steps, at this pace
  assert.equal(progress(model).sessionEtaS, 12 + 2 * 10 * 2);
});

test('memory on CUDA: allocated and reserved lines, no accounted line', () => {
  const model = createModel();
  applyEvent(model, started('a', 'lora', 10, 0));
  applyEvent(
    model,
    step('a', 1, 10, 1, { memory: { allocated_bytes: 2 * MIB, reserved_bytes: 4 * MIB, saved_for_backward_bytes: 5 } }),
  );
  assert.deepEqual([...model.memory.keys()], ['lora/allocated', 'lora/reserved']);
  assert.deepEqual(model.memory.get('lora/allocated')!.points, [{ x: 1, y: 2 }]);
  assert.deepEqual(model.memory.get('lora/reserved')!.points, [{ x: 1, y: 4 }]);
});

test('GPU samples join the memory chart on the same clock, one line per device', () => {
  const model = createModel();
  const sample: GpuSample = {
    t: 105,
    gpus: [
      { index: 0, usedMiB: 1200, totalMiB: 81559 },
      { index: 1, usedMiB: 5, totalMiB: 81559 },
    ],
  };
  applyGpuSample(model, sample); // before any event: nothing to align with, dropped
  assert.equal(model.memory.size, 0);
  applyEvent(model, started('a', 'lst', 10, 100));
  applyGpuSample(model, sample);
  assert.deepEqual(model.memory.get('gpu0')!.points, [{ x: 5, y: 1200 }]);
  assert.match(model.memory.get('gpu1')!.label, /GPU 1 .*nvidia-smi/);
});

test('errors fail the run and show as messages; non-finite losses are not plotted', () => {
  const model = createModel(['lst']);
  applyEvent(model, started('a', 'lst', 10, 0));
  applyEvent(model, step('a', 1, 10, 1, { loss: NaN }));
  applyEvent(model, {
    v: 1,
    type: 'error',
    ts: 2,
    run_id: 'a',
    kind: 'oom',
    message: 'CUDA out of memory',
    hint: 'lower the batch size',
  });
  assert.equal(model.loss.get('lst')!.length, 0);
  assert.equal(model.runs[0].status, 'failed');
  assert.deepEqual(model.messages.at(-1), { level: 'error', text: 'CUDA out of memory — lower the batch size', ts: 2 });
  assert.equal(progress(model).phase, null);
});

test('median and durations', () => {
  assert.equal(median([]), null);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(formatDuration(null), '—');
  assert.equal(formatDuration(42.4), '42 s');
  assert.equal(formatDuration(125), '2 min 05 s');
  assert.equal(formatDuration(3 * 3600 + 7 * 60), '3 h 07 min');
});

// ---- nvidia-smi ---------------------------------------------------------------------------------------------------

test('parseNvidiaSmi reads one "used, total" line per GPU and skips junk', () => {
  assert.deepEqual(parseNvidiaSmi('1234, 81559\n17, 81559\n', 10), {
    t: 10,
    gpus: [
      { index: 0, usedMiB: 1234, totalMiB: 81559 },
      { index: 1, usedMiB: 17, totalMiB: 81559 },
    ],
  });
  assert.deepEqual(parseNvidiaSmi('0, 143771\r\n', 1)?.gpus, [{ index: 0, usedMiB: 0, totalMiB: 143771 }]);
  assert.equal(parseNvidiaSmi('', 1), undefined);
  assert.equal(
    parseNvidiaSmi("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", 1),
    undefined,
  );
  assert.equal(parseNvidiaSmi('[N/A], [N/A]', 1), undefined);
});

function fakeRunManager() {
  const listeners = new Set<() => void>();
  let active: Session | undefined;
  return {
    onDidChangeSessions: (l: () => void) => (listeners.add(l), { dispose: () => listeners.delete(l) }),
    activeSession: () => active,
    set(state: Session['state'] | undefined, id = 's1') {
      active = state
        ? { id, kind: 'compare', experimentPath: '/x.ladder.json', methods: ['lst'], state, events: [] }
        : undefined;
      for (const l of listeners) l();
    },
  };
}

test('GpuMonitor polls only while a session runs, with the exact arguments, and resets per session', () => {
  const rm = fakeRunManager();
  const calls: string[][] = [];
  const exec: Exec = (file, args, cb) => {
    calls.push([file, ...args]);
    cb(null, '100, 1000\n');
  };
  const gpu = new GpuMonitor(rm, { exec, intervalMs: 60_000, now: () => 5000 });
  const got: GpuSample[] = [];
  gpu.onDidSample((s) => got.push(s));
  assert.equal(gpu.polling, false);
  rm.set('running');
  assert.equal(gpu.polling, true);
  assert.deepEqual(calls, [['nvidia-smi', ...NVIDIA_SMI_ARGS]]);
  assert.deepEqual(got, [{ t: 5, gpus: [{ index: 0, usedMiB: 100, totalMiB: 1000 }] }]);
  rm.set('finished');
  assert.equal(gpu.polling, false);
  assert.equal(gpu.samples().length, 1); // kept for a monitor that opens after the run
  rm.set('starting', 's2');
  assert.equal(gpu.samples().length, 1); // the new session's first sample only
  gpu.dispose();
  assert.equal(gpu.polling, false);
});

test('GpuMonitor goes quiet for good when nvidia-smi is absent', () => {
  const rm = fakeRunManager();
  let calls = 0;
  const exec: Exec = (_f, _a, cb) => {
    calls++;
    cb(Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' }), '');
  };
  const gpu = new GpuMonitor(rm, { exec, intervalMs: 60_000 });
  rm.set('running');
  assert.equal(gpu.available, false);
  assert.equal(gpu.polling, false);
  rm.set('running', 's2');
  assert.equal(calls, 1);
  gpu.dispose();
});
