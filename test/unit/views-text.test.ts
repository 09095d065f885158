// Texts of the CodeLens, hover, Runs tree and status bar, and which runs belong to an experiment file.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { RunSummary } from '../../protocol/events';
import { FIELDS } from '../../protocol/experiment';
import type { StoredRun } from '../../src/runs/runStore';
import {
  latestResults,
  resultsHoverMarkdown,
  resultsLensTitle,
  runMatchesExperiment,
} from '../../src/views/codeLensText';
import { mib, peakMemoryText, runDescription, runTooltip, statusBarText } from '../../src/views/format';
import { configsUnder, groupRuns, isRunGroup, runName } from '../../src/runs/runText';

const MiB = 2 ** 20;
const FILE = { backbone: 'preset:bert-tiny', task: 'sst2', methods: ['lst', 'lora', 'full'], epochs: 1 };

/** config.json as the engine writes it for one method of FILE: every field resolved. */
function configFor(method: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const defaults = Object.fromEntries(FIELDS.map((f) => [f.name, f.default]));
  const lr = { lst: 3e-3, lora: 3e-4, full: 3e-4 }[method];
  return { ...defaults, ...FILE, method, lr, device: 'cpu', runs_dir: '/elsewhere', ...over };
}

function summary(method: string, score: number, peak: number | null = null): RunSummary {
  return {
    method,
    run_dir: `/r/${method}`,
    trainable_pct: 1.5,
    duration_s: 61.4,
    metrics: { accuracy: score, score },
    memory: {
      train_peak_bytes: peak,
      saved_for_backward_bytes: 100 * MiB,
      param_bytes: 80 * MiB,
      grad_bytes: 2 * MiB,
      optimizer_bytes: 4 * MiB,
      accounted_bytes: 186 * MiB,
    },
  };
}

let n = 0;
function run(
  method: string,
  score: number,
  config = configFor(method),
  status: StoredRun['status'] = 'finished',
): StoredRun {
  n++;
  return {
    id: `20261126-2200${String(n).padStart(2, '0')}-${method}-beef`,
    dir: '/r',
    method,
    status,
    summary: summary(method, score),
    config,
  };
}

test('a run matches its experiment file: defaults filled in, per-method lr, resolved device and runs_dir ignored', () => {
  assert.ok(runMatchesExperiment(FILE, configFor('lst')));
  assert.ok(runMatchesExperiment(FILE, configFor('lora')));
  assert.ok(!runMatchesExperiment(FILE, configFor('lst', { epochs: 3 })), 'another epochs');
  assert.ok(!runMatchesExperiment(FILE, configFor('bitfit')), 'a method the file does not list');
  assert.ok(!runMatchesExperiment(FILE, configFor('lst', { lr: 1e-3 })), 'another learning rate');
  assert.ok(runMatchesExperiment({ ...FILE, lrs: { lst: 1e-3 } }, configFor('lst', { lr: 1e-3 })));
  assert.ok(!runMatchesExperiment({ ...FILE, device: 'cuda' }, configFor('lst')), 'asked for cuda, ran on cpu');
  assert.ok(runMatchesExperiment({ ...FILE, device: 'cuda' }, configFor('lst', { device: 'cuda:0' })));
});

test('latestResults: the newest finished matching run of each method, in the file order', () => {
  // Newest first, as the store lists them.
  const runs = [
    run('lora', 10, configFor('lora'), 'failed'),
    run('lst', 84.63),
    run('lora', 85.04),
    run('lst', 70, configFor('lst', { seed: 1 })), // another experiment
    run('lst', 60),
  ];
  const results = latestResults(FILE, runs);
  assert.deepEqual(
    results.map((r) => [r.method, r.run?.summary?.metrics.score]),
    [
      ['lst', 84.63],
      ['lora', 85.04],
      ['full', undefined],
    ],
  );
  // Each result named by its run's label (method + identity settings), a method without a run by its name.
  assert.equal(resultsLensTitle(results), 'LST r=8 84.6 · LoRA rank 32 85.0 · Full fine-tuning —');
  assert.equal(resultsLensTitle(latestResults(FILE, [])), undefined);
});

test('the hover is a markdown table with the full numbers', () => {
  const md = resultsHoverMarkdown(latestResults(FILE, [run('lst', 84.63), run('lora', 85.04)]))!;
  const rows = md.split('\n').filter((l) => l.startsWith('|'));
  assert.equal(rows.length, 2 + 3);
  assert.match(
    rows[2],
    /^\| LST r=8 \| 84\.6 \| accuracy 84\.63 \| 1\.50% \| 186 MiB \(acct\) \| 61 s \| `20261126-\d+-lst-beef` \|$/,
  );
  assert.match(rows[4], /^\| Full fine-tuning \| — \| no finished run yet/);
  // A summary that records its test examples shows the accuracy's sampling error (the Results table's ± SE).
  const counted = run('lst', 80);
  counted.summary = { ...counted.summary!, test_examples: 100 };
  const countedMd = resultsHoverMarkdown(latestResults(FILE, [counted]))!;
  assert.match(countedMd, /\| accuracy 80\.00 ±4\.00 \|/);
  assert.match(runTooltip(counted), /accuracy 80\.00 ±4\.00 · score 80\.00/);
});

test('memory: the CUDA peak when known, else the accounted bytes marked (acct)', () => {
  assert.equal(peakMemoryText(summary('lst', 1, 312 * MiB)), '312 MiB');
  assert.equal(peakMemoryText(summary('lst', 1)), '186 MiB (acct)');
  assert.equal(mib(1.5 * MiB), '1.50 MiB');
  assert.equal(mib(12.34 * MiB), '12.3 MiB');
});

test('tree descriptions by status', () => {
  const finished = run('lst', 84.63);
  assert.equal(runDescription(finished), 'score 84.6 · 186 MiB (acct)');
  const base = { id: 'x', dir: '/x', method: 'lst' };
  assert.equal(
    runDescription({ ...base, status: 'running', lastStep: { step: 40, totalSteps: 126, loss: 0.5 } }),
    'step 40/126',
  );
  assert.equal(
    runDescription({ ...base, status: 'interrupted', lastStep: { step: 3, totalSteps: 9, loss: 0.5 } }),
    'stopped at step 3/9',
  );
  assert.equal(
    runDescription({ ...base, status: 'failed', error: { kind: 'bad_input', message: 'm', hint: null } }),
    'bad input',
  );
  assert.equal(runDescription({ ...base, status: 'corrupt', problem: 'config.json is not valid JSON' }), 'unreadable');
  assert.match(
    runTooltip({ ...base, status: 'corrupt', problem: 'config.json is not valid JSON' }),
    /problem: config\.json is not valid JSON/,
  );
  assert.match(runTooltip(finished), /trainable 1\.50% · peak 186 MiB \(acct\) · 61 s/);
});

test('status bar: method, step and memory (GPU allocated if known, else saved for backward)', () => {
  const started = {
    v: 1,
    type: 'run_started',
    ts: 1,
    run_id: 'r',
    method: 'lst',
    run_dir: '/r',
    device: 'cpu',
    config: {},
    params: { total: 1, trainable: 1, trainable_pct: 100 },
    total_steps: 126,
  } as const;
  const step = (allocated: number | null) =>
    ({
      v: 1,
      type: 'train_step',
      ts: 2,
      step: 40,
      total_steps: 126,
      epoch: 0,
      loss: 1,
      lr: 1e-3,
      memory: { allocated_bytes: allocated, reserved_bytes: null, saved_for_backward_bytes: 5 * MiB },
    }) as const;
  assert.equal(statusBarText([]), undefined);
  assert.equal(statusBarText([started]), '$(sync~spin) LST starting (126 steps)…');
  assert.equal(statusBarText([started, step(312 * MiB)]), '$(sync~spin) LST step 40/126 · 312 MiB');
  assert.equal(statusBarText([started, step(null)]), '$(sync~spin) LST step 40/126 · 5.00 MiB');
  const lora = { ...started, method: 'lora' };
  assert.equal(statusBarText([started, step(null), lora]), '$(sync~spin) LoRA starting (126 steps)…');
});

test('Runs tree groups: experiment file > comparison > runs in the order they ran; older runs apart', () => {
  const from = (file: string | null, comparison: string | null, method: string, over = {}) =>
    run(method, 80, configFor(method, { experiment_file: file, comparison, ...over }));
  // Newest first, as the store lists them.
  const runs = [
    from('/ws/b.ladder.json', 'c3', 'lst'),
    from('/ws/a.ladder.json', 'c2', 'lora'),
    from('/ws/a.ladder.json', 'c2', 'lst', { r: 4 }),
    from(null, 'c1', 'lst'),
    from('/ws/a.ladder.json', 'c0', 'lst'),
    run('lst', 70, configFor('lst')), // an engine that recorded neither
  ];
  const groups = groupRuns(runs, (f) => f.replace('/ws/', ''));
  assert.deepEqual(
    groups.map((g) => [g.title, g.description]),
    [
      ['b.ladder.json', 'b.ladder.json'],
      ['a.ladder.json', 'a.ladder.json'],
      ['Runs started without an experiment file', '1 run'],
      ['Earlier runs (no comparison recorded)', '1 run'],
    ],
  );
  const a = groups[1];
  const comparisons = a.children.filter(isRunGroup);
  assert.deepEqual(
    comparisons.map((c) => [c.id, c.description]),
    [
      ['comparison:c2', 'LST, LoRA'], // in the order they ran
      ['comparison:c0', 'LST'],
    ],
  );
  assert.deepEqual(
    comparisons[0].children.map((r) => (r as StoredRun).id),
    [runs[2].id, runs[1].id],
  );
  assert.ok(!isRunGroup(groups[3].children[0]), 'runs without a comparison sit directly under their group');
  // Names are made among the runs of one file: r differs there (4 vs 8), so LST shows it; the user's name wins.
  const among = configsUnder(a);
  assert.equal(runName(runs[2], among), 'LST r=4');
  assert.equal(runName(runs[4], among), 'LST r=8');
  assert.equal(runName({ ...runs[4], userLabel: 'baseline' }, among), 'baseline');
  assert.match(runTooltip(runs[2], 'LST r=4'), /^\*\*LST r=4\*\* — finished/);
});
