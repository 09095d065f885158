// The Experiment form's sweep controls <-> the file's sweep block (protocol/sweepBlock.ts), the form's messages
// that change it, and the time a planned sweep takes from earlier runs (src/views/sweepTime.ts).
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { shapeFromConfig } from '../../protocol/backboneRules';
import { DEFAULTS, fieldSpec, parseExperimentText, SWEEP_KEY } from '../../protocol/experiment';
import {
  applySweepBlock,
  blockToControls,
  controlsToBlock,
  isSweepable,
  parseSweepText,
  sweepBackboneProblems,
  sweepProblems,
  SWEEP_FIELDS,
  withField,
  withSeedCount,
} from '../../protocol/sweepBlock';
import { ExperimentMessages, parseExperimentMessage, type PlannedTrial } from '../../protocol/webviews/experiment';
import type { RunRecord } from '../../src/runs/types';
import { PRESETS } from '../../src/views/backboneInfo';
import { sweepTime } from '../../src/views/sweepTime';
import { REPO_ROOT } from './jsonl';

const FIGURE5 = path.join(REPO_ROOT, 'examples', 'figure5.ladder.json');

test('numbers and choices are sweepable; seed, methods, paths and lists are not', () => {
  for (const name of [
    'r',
    'lora_rank',
    'adapter_size',
    'init',
    'lr',
    'task',
    'freeze_layers',
    'batch_size',
    'backbone',
  ])
    assert.ok(isSweepable(name), name);
  for (const name of ['seed', 'methods', 'on_failure', 'data', 'keep_layers', 'lrs', 'runs_dir', 'report_to'])
    assert.ok(!isSweepable(name), name);
  assert.ok(SWEEP_FIELDS.every((f) => ['int', 'number', 'enum', 'string'].includes(f.kind)));
});

test("a file's block is shown as one list per field and written back the same (Figure 5's file)", () => {
  const parsed = parseExperimentText(readFileSync(FIGURE5, 'utf8'));
  const block = parsed.raw![SWEEP_KEY];
  const controls = blockToControls(block)!;
  assert.deepEqual(controls.fields, { r: [4, 8, 16, 32], lora_rank: [4, 8, 16, 32], adapter_size: [6, 12, 24, 48] });
  assert.deepEqual(controls.seeds, [0, 1]);
  assert.equal(controls.unsupported, undefined);
  assert.deepEqual(controlsToBlock(controls, parsed.values.methods), block);
});

test('method-specific fields go to per_method of each chosen method they apply to, the rest to grid', () => {
  const c = withField(
    withField(withField({ fields: {}, seeds: [] }, 'r', [4, 8]), 'lr', [1e-3]),
    'freeze_layers',
    [0, 2],
  );
  assert.deepEqual(controlsToBlock(c, ['lst', 'lora', 'full']), {
    grid: { lr: [1e-3] },
    per_method: { lst: { r: [4, 8] }, lora: { freeze_layers: [0, 2] }, full: { freeze_layers: [0, 2] } },
  });
  // a field no chosen method uses stays in the grid, where the engine says which method to add
  assert.deepEqual(controlsToBlock(c, ['lora']), {
    grid: { r: [4, 8], lr: [1e-3] },
    per_method: { lora: { freeze_layers: [0, 2] } },
  });
  // read back, a field listed for several methods is one control
  assert.deepEqual(blockToControls(controlsToBlock(c, ['lst', 'lora', 'full']))!.fields, c.fields);
});

test('every toggle off and one seed removes the block; seeds count from the file seed or the block seeds', () => {
  const on = withField({ fields: {}, seeds: [] }, 'r', [4, 8]);
  assert.equal(controlsToBlock(withField(on, 'r', null), ['lst']), null);
  const three = withSeedCount({ fields: {}, seeds: [] }, 3, 42);
  assert.deepEqual(three.seeds, [42, 43, 44]);
  assert.deepEqual(controlsToBlock(three, ['lst']), { seeds: [42, 43, 44] });
  assert.deepEqual(withSeedCount({ fields: {}, seeds: [0, 5] }, 3, 42).seeds, [0, 5, 6]);
  assert.deepEqual(withSeedCount({ fields: {}, seeds: [0, 5, 6] }, 2, 42).seeds, [0, 5]);
  assert.equal(controlsToBlock(withSeedCount(three, 1, 42), ['lst']), null);
  // the keys the form does not edit (max_trials, early_stopping) are the file's and stay
  const kept = blockToControls({
    per_method: { lst: { r: [4] } },
    max_trials: 100,
    early_stopping: { metric: 'score' },
  })!;
  assert.deepEqual(kept.kept, { max_trials: 100, early_stopping: { metric: 'score' } });
  assert.deepEqual(controlsToBlock(withSeedCount(kept, 2, 0), ['lst']), {
    per_method: { lst: { r: [4] } },
    seeds: [0, 1],
    max_trials: 100,
    early_stopping: { metric: 'score' },
  });
  assert.deepEqual(controlsToBlock({ fields: { r: [4] }, seeds: [], kept: { max_trials: 100 } }, ['lst']), {
    per_method: { lst: { r: [4] } },
    max_trials: 100,
  });
});

test('a block the form cannot show as one list per field is kept as it is and says why', () => {
  const differs = blockToControls({ per_method: { lst: { freeze_layers: [1] }, lora: { freeze_layers: [2] } } });
  assert.match(differs!.unsupported!, /freeze_layers has different values per method/);
  assert.match(
    blockToControls({ grid: { keep_layers: [[1], [2]] } })!.unsupported!,
    /cannot sweep sweep\.grid\.keep_layers/,
  );
  assert.match(blockToControls({ grid: { r: 8 } })!.unsupported!, /sweep\.grid\.r is not a list/);
  assert.match(blockToControls([1])!.unsupported!, /not an object/);
  assert.equal(blockToControls(undefined), null);
});

test("values are checked by the field's own declaration, each problem naming the field and what to fix", () => {
  const r = fieldSpec('r')!;
  assert.deepEqual(parseSweepText(r, '4, 8,16'), { values: [4, 8, 16] });
  assert.match((parseSweepText(r, '4, 100') as { error: string }).error, /^Reduction factor: 100: must be at most 64/);
  assert.match((parseSweepText(r, '4, x') as { error: string }).error, /expected a whole number, got "x"/);
  assert.match((parseSweepText(r, '4, 4') as { error: string }).error, /lists 4 twice/);
  assert.match((parseSweepText(r, ' , ') as { error: string }).error, /one or more values/);
  const init = fieldSpec('init')!;
  assert.deepEqual(parseSweepText(init, 'fisher, random'), { values: ['fisher', 'random'] });
  assert.match((parseSweepText(init, 'fisher, best') as { error: string }).error, /must be one of fisher, magnitude/);
  // backbones: the built-in ones; a folder is swept in the file (where the path rule is the user's own)
  const backbone = fieldSpec('backbone')!;
  assert.deepEqual(parseSweepText(backbone, 'default, preset:bert-tiny'), { values: ['default', 'preset:bert-tiny'] });
  assert.match((parseSweepText(backbone, 'default, ../models/x') as { error: string }).error, /default or preset:NAME/);
  assert.equal(sweepProblems({ fields: { backbone: ['default', '../models/x'] }, seeds: [] }).length, 0);
  const lr = fieldSpec('lr')!;
  assert.deepEqual(parseSweepText(lr, '1e-3, 3e-3'), { values: [1e-3, 3e-3] });
  // a file's block with a bad value: an error beside the field
  assert.deepEqual(sweepProblems({ fields: { r: [4, 1] }, seeds: [] }), [
    { field: 'r', message: 'r (sweep): 1: must be at least 2, got 1' },
  ]);
});

test("each swept value meets the backbone's rules: an r that does not divide bert-tiny's width is named beside r", () => {
  const shape = shapeFromConfig(PRESETS['bert-tiny'])!;
  const values = { ...DEFAULTS, backbone: 'preset:bert-tiny', methods: ['lst' as const] };
  assert.deepEqual(sweepBackboneProblems({ fields: { r: [4, 8] }, seeds: [] }, values, shape), []);
  const [problem, ...rest] = sweepBackboneProblems({ fields: { r: [4, 5] }, seeds: [] }, values, shape);
  assert.equal(rest.length, 0);
  assert.equal(problem.field, 'r');
  assert.match(problem.message, /^r \(sweep\): r=5 /);
  assert.deepEqual(sweepBackboneProblems({ fields: { r: [4, 5] }, seeds: [] }, values, null), []); // shape unknown
});

test('the form messages that change the sweep are checked as the engine checks their values', () => {
  const field = (f: unknown, values: unknown) =>
    parseExperimentMessage({ type: ExperimentMessages.sweepField, field: f, values });
  assert.deepEqual(field('r', [4, 8]), { type: ExperimentMessages.sweepField, field: 'r', values: [4, 8] });
  assert.deepEqual(field('r', null), { type: ExperimentMessages.sweepField, field: 'r', values: null });
  assert.deepEqual(field('backbone', ['default', 'preset:t5-base']), {
    type: ExperimentMessages.sweepField,
    field: 'backbone',
    values: ['default', 'preset:t5-base'],
  });
  for (const [f, values] of [
    ['r', [4, 100]],
    ['r', []],
    ['r', [4, 4]],
    ['r', '4,8'],
    ['seed', [1, 2]],
    ['methods', [['lst']]],
    ['__proto__', [1]],
    ['data', ['/etc']],
    ['backbone', ['default', '/models/x']],
    ['backbone', ['../../etc']],
    ['init', ['best']],
  ] as const)
    assert.equal(field(f, values), undefined, `${String(f)} ${JSON.stringify(values)}`);
  const seeds = (count: unknown) => parseExperimentMessage({ type: ExperimentMessages.sweepSeeds, count });
  assert.deepEqual(seeds(3), { type: ExperimentMessages.sweepSeeds, count: 3 });
  for (const bad of [0, -1, 1.5, 1000, '3', null]) assert.equal(seeds(bad), undefined, String(bad));
});

test("applySweepBlock sets or removes the file's block and keeps every other key in place", () => {
  const text = `${JSON.stringify({ $schema: 'x', r: 8, methods: ['lst'] }, null, 2)}\n`;
  const withBlock = applySweepBlock(text, { per_method: { lst: { r: [4, 8] } } });
  assert.deepEqual(Object.keys(JSON.parse(withBlock) as object), ['$schema', 'r', 'methods', 'sweep']);
  assert.equal(applySweepBlock(withBlock, null), text);
  assert.throws(() => applySweepBlock('[1]', null), /does not hold a JSON object/);
});

/** A finished run as the run store reads it: only what the time estimate uses. */
function run(method: string, backbone: string, durationS: number, initS: number, totalSteps: number): RunRecord {
  return {
    id: `${method}-${durationS}`,
    dir: '',
    method,
    status: 'finished',
    config: { backbone },
    lastStep: { step: totalSteps, totalSteps, loss: 0.5 },
    timing: { stepS: null, initS, testExamples: null },
    summary: { duration_s: durationS } as RunRecord['summary'],
  };
}

test("a trial's time is the median set-up plus its steps at the median pace of earlier runs of its method and backbone", () => {
  const trials: PlannedTrial[] = [
    { trial_id: 't0000', method: 'lst', point: { r: 4 }, seed: 0, total_steps: 10 },
    { trial_id: 't0001', method: 'lst', point: { r: 8 }, seed: 0, total_steps: 20 },
  ];
  const runs = [
    run('lst', 'preset:bert-tiny', 12, 2, 20), // 0.5 s a step after 2 s of set-up
    run('lst', 'preset:bert-tiny', 25, 4, 21), // 1 s a step after 4 s
    run('lst', 'preset:bert-tiny', 100, 2, 49), // 2 s a step after 2 s
    run('lst', 'default', 1000, 0, 10), // another backbone: not this sweep's pace
    run('lora', 'preset:bert-tiny', 1000, 0, 10), // another method
  ];
  const time = sweepTime(trials, 'preset:bert-tiny', runs);
  assert.deepEqual(
    time.trials.map((t) => t.seconds),
    [2 + 10 * 1, 2 + 20 * 1],
  );
  assert.equal(time.totalSeconds, 34);
  assert.match(time.note, /3 earlier runs/);

  const unknown = sweepTime(
    [...trials, { trial_id: 't0002', method: 'adapter', point: {}, seed: 0, total_steps: 5 }],
    'preset:bert-tiny',
    runs,
  );
  assert.equal(unknown.totalSeconds, null);
  assert.equal(unknown.trials[2].seconds, null);
  assert.match(unknown.note, /unknown until the first trial of adapter ends/);
  // a point that sweeps the backbone is timed by that backbone's runs
  const other = sweepTime([{ ...trials[0], point: { backbone: 'default' } }], 'preset:bert-tiny', runs);
  assert.equal(other.trials[0].seconds, 0 + 10 * 100);
});
