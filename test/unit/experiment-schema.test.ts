// The extension's field module (protocol/experimentFields.ts) and schemas/ladder.schema.json are both generated from
// the engine's Experiment (engine/tests/test_schema.py fails when either is stale). Here: the two agree field by
// field, the schema is one VS Code can use, and it refuses what the extension's validation refuses.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import Ajv from 'ajv';
import schema from '../../schemas/ladder.schema.json';
import pkg from '../../package.json';
import { DEFAULT_LR, FIELDS, METHODS, STARTER_EXPERIMENT, validateExperiment } from '../../protocol/experiment';

type Bounds = { minimum?: number; maximum?: number };
type Prop = Bounds & { default?: unknown; enum?: unknown[]; title?: string; items?: Bounds & { enum?: unknown[] } };
const props = schema.properties as unknown as Record<string, Prop>;
// `sweep` is the file's sweep block (ladderlab sweep), not an experiment field: the form does not edit it.
const schemaFields = Object.keys(props).filter((k) => k !== '$schema' && k !== 'sweep');

test('the field module lists the schema fields, in the engine order, with their defaults, labels and bounds', () => {
  assert.ok(FIELDS.length >= 30, `only ${FIELDS.length} fields`);
  assert.deepEqual(
    FIELDS.map((f) => f.name),
    schemaFields,
  );
  for (const f of FIELDS) {
    const p = props[f.name];
    assert.deepEqual(f.default, p.default, f.name);
    assert.equal(f.label, p.title, f.name);
    const bounds = f.kind === 'intList' ? p.items : p; // a list's bounds hold for each item
    assert.equal(f.minimum, bounds?.minimum, f.name);
    assert.equal(f.maximum, bounds?.maximum, f.name);
    if (f.kind === 'enum') assert.deepEqual(f.choices, p.enum, f.name);
  }
});

test('choices and learning-rate defaults: one list of methods everywhere', () => {
  assert.deepEqual(props.methods.items?.enum, [...METHODS]);
  assert.deepEqual(Object.keys(DEFAULT_LR), [...METHODS]);
  assert.deepEqual(DEFAULT_LR, { lst: 3e-3, lora: 3e-4, adapter: 3e-4, bitfit: 3e-4, prompt: 3e-1, full: 3e-4 });
});

test('package.json contributes the schema for *.ladder.json', () => {
  const contributed = pkg.contributes.jsonValidation.find((j) => j.fileMatch === '*.ladder.json');
  assert.ok(contributed);
  assert.equal(path.normalize(contributed.url), path.normalize('./schemas/ladder.schema.json'));
});

// Ajv's default draft is draft-07, the one VS Code's JSON language service fully supports.
const validate = new Ajv({ strict: true, strictTypes: false, allowUnionTypes: true }).compile(schema);

test('the schema accepts the starter and a full example, and rejects what the model rejects', () => {
  assert.ok(validate(STARTER_EXPERIMENT), JSON.stringify(validate.errors));
  const bad: Record<string, unknown>[] = [
    { epoch: 3 },
    { r: 100 },
    { methods: ['qlora'] },
    { methods: [] },
    { methods: ['lst', 'lst'] },
    { init: 'xavier' },
    { lr: 0 },
    { lrs: { qlora: 0.1 } },
    { warmup_ratio: 1 },
    { device: 'tpu' },
    { batch_size: 1.5 },
    { keep_layers: [] },
  ];
  for (const values of bad) {
    assert.equal(validate(values), false, `schema accepted ${JSON.stringify(values)}`);
    assert.ok(validateExperiment(values).length > 0, `model accepted ${JSON.stringify(values)}`);
  }
});
