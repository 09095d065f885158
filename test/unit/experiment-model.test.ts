// The experiment file <-> form texts: round trips and validation messages that name the field.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  FIELDS,
  fieldSpec,
  fieldText,
  lrFor,
  parseExperimentText,
  parseFieldText,
  serializeExperiment,
  STARTER_EXPERIMENT,
  validateExperiment,
  valueProblem,
} from '../../protocol/experiment';

const FULL = {
  $schema: './schemas/ladder.schema.json',
  backbone: 'preset:bert-tiny',
  task: 'file',
  data: 'data/reviews.csv',
  methods: ['lst', 'lora', 'full'],
  r: 16,
  keep_layers: [1, 3, 5],
  init: 'magnitude',
  side_heads: 2,
  lora_targets: ['query', 'value'],
  lr: 0.001,
  lrs: { lora: 0.0005, full: 5e-5 },
  warmup_ratio: 0.1,
  max_train_examples: 16,
  device: 'cuda:1',
  precision: 'bf16',
  text_columns: ['text'],
  label_column: 'label',
};

test('file -> form texts -> file keeps every value, the $schema key, and the engine field order', () => {
  const text = serializeExperiment(FULL);
  const { raw, errors } = parseExperimentText(text);
  assert.deepEqual(errors, []);
  const form = Object.fromEntries(FIELDS.map((f) => [f.name, fieldText(f, raw![f.name])]));
  assert.equal(form.keep_layers, '1,3,5');
  assert.equal(form.lrs, 'lora=0.0005,full=0.00005');
  assert.equal(form.eval_batch_size, ''); // not set: the engine's default
  const back: Record<string, unknown> = { $schema: raw!.$schema };
  for (const f of FIELDS) {
    const parsed = parseFieldText(f, form[f.name]);
    if ('error' in parsed) assert.fail(`${f.name}: ${parsed.error}`);
    if (parsed.value !== null) back[f.name] = parsed.value;
  }
  assert.equal(serializeExperiment(back), text);
  assert.deepEqual(JSON.parse(serializeExperiment(back)), FULL);
});

test('a field the file leaves out stays out (the engine default applies), even if it equals the default', () => {
  const values = { methods: ['lst'], r: 8 };
  const again = parseExperimentText(serializeExperiment(values)).raw;
  assert.deepEqual(again, values);
});

test('the starter experiment is valid', () => {
  assert.deepEqual(validateExperiment(STARTER_EXPERIMENT), []);
  assert.equal(parseExperimentText(serializeExperiment(STARTER_EXPERIMENT)).errors.length, 0);
});

const cases: [string, Record<string, unknown>, string, RegExp][] = [
  ['unknown field', { methods: ['lst'], epoch: 3 }, 'epoch', /unknown field "epoch"/],
  ['wrong type', { r: '8' }, 'r', /^r: must be a whole number/],
  ['float for int', { epochs: 1.5 }, 'epochs', /^epochs: must be a whole number/],
  ['bool for int', { batch_size: true }, 'batch_size', /whole number/],
  ['range', { r: 100 }, 'r', /^r: must be at most 64/],
  ['unknown method', { methods: ['lst', 'qlora'] }, 'methods', /unknown method\(s\) qlora/],
  ['no method', { methods: [] }, 'methods', /choose one or more/],
  ['repeated method', { methods: ['lst', 'lst'] }, 'methods', /twice/],
  ['enum', { init: 'xavier' }, 'init', /^init: must be one of fisher, magnitude, distillation, random/],
  ['keep_layers order', { keep_layers: [3, 1] }, 'keep_layers', /increasing/],
  ['keep_layers empty', { keep_layers: [] }, 'keep_layers', /is empty/],
  ['lr range', { lr: 0 }, 'lr', /^lr: must be in \(0, 10\)/],
  ['lrs method', { lrs: { qlora: 0.1 } }, 'lrs', /unknown method "qlora"/],
  ['lrs type', { lrs: [0.1] }, 'lrs', /method -> learning rate/],
  ['warmup', { warmup_ratio: 1 }, 'warmup_ratio', /\[0, 1\)/],
  ['device', { device: 'tpu' }, 'device', /unknown device "tpu"/],
  ['task', { task: 'squad' }, 'task', /unknown task "squad"/],
  ['file needs data', { task: 'file' }, 'data', /needs a data file/],
  ['columns only for file', { task: 'sst2', text_columns: ['a'] }, 'text_columns', /task "file" only/],
];
for (const [name, values, field, message] of cases) {
  test(`validation names the field: ${name}`, () => {
    const errors = validateExperiment(values);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0].field, field);
    assert.match(errors[0].message, message);
  });
}

test('GLUE folder spellings of a task are accepted, like the engine does', () => {
  assert.deepEqual(validateExperiment({ task: 'SST-2' }), []);
  assert.deepEqual(validateExperiment({ task: 'sts_b' }), []);
});

test('null means "the engine default" for every field', () => {
  assert.deepEqual(validateExperiment(Object.fromEntries(FIELDS.map((f) => [f.name, null]))), []);
});

test('form texts that do not parse are refused', () => {
  const texts: Record<string, string> = { r: 'eight', keep_layers: '1,x', lrs: 'lora:1e-3', lr: 'fast' };
  for (const [name, text] of Object.entries(texts)) assert.ok('error' in parseFieldText(fieldSpec(name)!, text), name);
  assert.deepEqual(parseFieldText(fieldSpec('r')!, ' '), { value: null }); // empty = the engine's default
});

test('a form text that parses is still validated', () => {
  const spec = fieldSpec('methods')!;
  const parsed = parseFieldText(spec, 'lst, lora, lst');
  assert.ok('value' in parsed);
  assert.match(valueProblem(spec, parsed.value) ?? '', /twice/);
});

test('not JSON, or not an object: one file-level error', () => {
  assert.match(parseExperimentText('{"r": 8,}').errors[0].message, /not valid JSON/);
  assert.match(parseExperimentText('[]').errors[0].message, /one JSON object/);
  assert.equal(parseExperimentText('[]').errors[0].field, '');
});

test('lrFor follows the engine: lrs, then lr, then the paper default', () => {
  assert.equal(lrFor({ lrs: { lora: 1e-3 }, lr: 2e-4 }, 'lora'), 1e-3);
  assert.equal(lrFor({ lrs: { lora: 1e-3 }, lr: 2e-4 }, 'full'), 2e-4);
  assert.equal(lrFor({}, 'lst'), 3e-3);
  assert.equal(lrFor({}, 'prompt'), 0.3);
});
