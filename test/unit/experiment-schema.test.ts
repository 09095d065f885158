// Keeps schemas/ladder.schema.json and src/experiment/model.ts in step with the engine's Experiment dataclass,
// read as text from engine/src/ladderlab/config.py (no Python needed): same fields, same defaults, same choices.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import schema from '../../schemas/ladder.schema.json';
import pkg from '../../package.json';
import { DEFAULT_LR, FIELDS, INITS, METHODS, PRECISIONS, STARTER_EXPERIMENT, validateExperiment } from '../../src/experiment/model';
import { REPO_ROOT } from './jsonl';

const CONFIG_PY = readFileSync(path.join(REPO_ROOT, 'engine/src/ladderlab/config.py'), 'utf8');

/** `name: type = default  # comment` lines of `class Experiment:` -> name -> default (as JSON), in order. */
function pythonFields(): Map<string, unknown> {
  const body = /^class Experiment:\n([\s\S]*?)(?=^\S|\n    def )/m.exec(CONFIG_PY);
  assert.ok(body, 'class Experiment not found in config.py');
  const fields = new Map<string, unknown>();
  for (const line of body[1].split('\n')) {
    const m = /^ {4}(\w+): [^=#]+?(?: = (.+?))?\s*(?:#.*)?$/.exec(line);
    if (m) fields.set(m[1], m[2] === undefined ? undefined : pythonLiteral(m[2]));
  }
  return fields;
}

function pythonLiteral(expr: string): unknown {
  const factory = /^field\(default_factory=lambda: (.+)\)$/.exec(expr);
  const text = (factory ? factory[1] : expr).replace(/\bNone\b/g, 'null').replace(/\bTrue\b/g, 'true').replace(/\bFalse\b/g, 'false').replace(/'/g, '"');
  return JSON.parse(text);
}

function pythonTuple(name: string): string[] {
  const m = new RegExp(`^${name} = \\(([^)]*)\\)`, 'm').exec(CONFIG_PY);
  assert.ok(m, `${name} not found in config.py`);
  return JSON.parse(`[${m[1].replace(/'/g, '"').replace(/,\s*$/, '')}]`);
}

const py = pythonFields();
const schemaProps = Object.keys(schema.properties).filter((k) => k !== '$schema');

test('config.py parses into the expected number of fields', () => {
  assert.ok(py.size >= 30, `only ${py.size} fields parsed: the regex no longer fits config.py`);
  assert.deepEqual(py.get('methods'), ['lst']);
});

test('schema property names are the Experiment fields', () => {
  assert.deepEqual([...schemaProps].sort(), [...py.keys()].sort());
});

test('schema defaults are the Experiment defaults', () => {
  for (const [name, dflt] of py) {
    assert.deepEqual((schema.properties as Record<string, { default?: unknown }>)[name].default, dflt, name);
  }
});

test('the model has the same fields, in the engine order, with the same defaults', () => {
  assert.deepEqual(FIELDS.map((f) => f.name), [...py.keys()]);
  for (const f of FIELDS) assert.deepEqual(f.default, py.get(f.name), f.name);
});

test('choices and learning-rate defaults match config.py', () => {
  assert.deepEqual([...METHODS], pythonTuple('METHODS'));
  assert.deepEqual([...INITS], pythonTuple('INITS'));
  assert.deepEqual([...PRECISIONS], pythonTuple('PRECISIONS'));
  assert.deepEqual(schema.properties.methods.items.enum, pythonTuple('METHODS'));
  assert.deepEqual(schema.properties.init.enum, pythonTuple('INITS'));
  assert.deepEqual(schema.properties.precision.enum, pythonTuple('PRECISIONS'));
  const lr = /^DEFAULT_LR = (\{.*\})$/m.exec(CONFIG_PY);
  assert.ok(lr);
  assert.deepEqual(DEFAULT_LR, pythonLiteral(lr[1]));
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
    { epoch: 3 }, { r: 100 }, { methods: ['qlora'] }, { methods: [] }, { methods: ['lst', 'lst'] }, { init: 'xavier' },
    { lr: 0 }, { lrs: { qlora: 0.1 } }, { warmup_ratio: 1 }, { device: 'tpu' }, { batch_size: 1.5 }, { keep_layers: [] },
  ];
  for (const values of bad) {
    assert.equal(validate(values), false, `schema accepted ${JSON.stringify(values)}`);
    assert.ok(validateExperiment(values).length > 0, `model accepted ${JSON.stringify(values)}`);
  }
});
