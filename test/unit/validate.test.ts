import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import schema from '../../protocol/events.schema.json';
import type { EngineEvent } from '../../protocol/events';
import { AJV_OPTIONS, createEventAjv, EVENT_TYPES, parseEventLine, PROTOCOL_VERSION } from '../../protocol/validate';
import { checkJsonlFile, REPO_ROOT } from './jsonl';

const SAMPLE_FILE = path.join(REPO_ROOT, 'test/unit/sample-events.jsonl');
const samples = checkJsonlFile(SAMPLE_FILE);

test('PROTOCOL_VERSION comes from the schema', () => {
  assert.equal(PROTOCOL_VERSION, schema['x-protocol-version']);
  assert.equal(PROTOCOL_VERSION, schema.properties.v.const);
});

test('schema compiles in strict mode without errors or warnings', () => {
  const messages: unknown[] = [];
  const logger = {
    log: () => {},
    warn: (...m: unknown[]) => messages.push(m),
    error: (...m: unknown[]) => messages.push(m),
  };
  assert.doesNotThrow(() => createEventAjv({ ...AJV_OPTIONS, logger }).compile(schema));
  assert.deepEqual(messages, []);
});

test('every sample event is valid', () => {
  assert.deepEqual(samples.errors, []);
});

test('the sample file has exactly one event of each type', () => {
  assert.deepEqual(samples.events.map((e) => e.type).sort(), [...EVENT_TYPES].sort());
});

// A line made from the sample of the given type, with the value at a dotted path set (or removed: REMOVE).
// The sample is handled as plain JSON: the point is to break the event's type.
const REMOVE = Symbol('remove');
function variant(type: EngineEvent['type'], dotted: string, value: unknown): string {
  const sample = samples.events.find((e) => e.type === type);
  assert.ok(sample, `no sample of type ${type}`);
  const copy = jsonObject(structuredClone(sample));
  const keys = dotted.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce((obj, key) => jsonObject(obj[key]), copy);
  if (value === REMOVE) delete parent[last];
  else parent[last] = value;
  return JSON.stringify(copy);
}

function jsonObject(value: unknown): Record<string, unknown> {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), 'not a JSON object');
  return value as Record<string, unknown>;
}

const runStarted = JSON.stringify(samples.events.find((e) => e.type === 'run_started'));

const invalid: [name: string, line: string, expected: RegExp][] = [
  ['non-JSON text', 'Traceback (most recent call last):', /not valid JSON/],
  ['empty line', '', /not valid JSON/],
  ['torn line (truncated write)', runStarted.slice(0, runStarted.length / 2), /not valid JSON.*truncated/],
  ['two events glued together', runStarted + runStarted, /not valid JSON/],
  ['JSON array', '[1,2]', /must be a JSON object, got an array/],
  ['JSON null', 'null', /must be a JSON object, got null/],
  ['newer protocol version', variant('log', 'v', 2), /protocol version mismatch.*v=2.*version 1/],
  ['version as a string', variant('log', 'v', '1'), /protocol version mismatch.*v="1"/],
  ['missing v', variant('log', 'v', REMOVE), /required property 'v'/],
  ['missing type', variant('log', 'type', REMOVE), /required property 'type'/],
  ['missing ts', variant('log', 'ts', REMOVE), /required property 'ts'/],
  ['ts as a string', variant('log', 'ts', 'now'), /ts must be number/],
  ['unknown type', variant('log', 'type', 'train_stepp'), /unknown event type "train_stepp"/],
  [
    'run_started without params.trainable',
    variant('run_started', 'params.trainable', REMOVE),
    /invalid run_started event: params must have required property 'trainable'/,
  ],
  ['run_started without run_id', variant('run_started', 'run_id', REMOVE), /run_started.*required property 'run_id'/],
  [
    'negative saved_for_backward_bytes',
    variant('train_step', 'memory.saved_for_backward_bytes', -1),
    /memory\.saved_for_backward_bytes must be >= 0/,
  ],
  ['negative param_bytes', variant('phase_memory', 'memory.param_bytes', -8), /memory\.param_bytes must be >= 0/],
  ['fractional byte count', variant('phase_memory', 'memory.grad_bytes', 1.5), /memory\.grad_bytes must be integer/],
  ['train_step at step 0', variant('train_step', 'step', 0), /step must be >= 1/],
  [
    'unknown evaluation split',
    variant('evaluation', 'split', 'train'),
    /split must be equal to one of the allowed values \("validation", "test"\)/,
  ],
  ['non-numeric metric', variant('evaluation', 'metrics.accuracy', 'high'), /metrics\.accuracy must be number/],
  ['unknown log level', variant('log', 'level', 'debug'), /level must be equal to one of the allowed values/],
  ['error without hint', variant('error', 'hint', REMOVE), /invalid error event: must have required property 'hint'/],
  ['error with empty message', variant('error', 'message', ''), /message must NOT have fewer than 1 characters/],
  ['unknown phase', variant('phase_started', 'phase', 'warmup'), /phase must be equal to one of the allowed values/],
  [
    'summary without duration_s',
    variant('run_finished', 'summary.duration_s', REMOVE),
    /summary must have required property 'duration_s'/,
  ],
  ['compare rows not an array', variant('compare_finished', 'rows', {}), /rows must be array/],
];

for (const [name, line, expected] of invalid) {
  test(`rejects: ${name}`, () => {
    const result = parseEventLine(line);
    assert.equal(result.ok, false, `accepted ${line}`);
    if (!result.ok) assert.match(result.error, expected);
  });
}
