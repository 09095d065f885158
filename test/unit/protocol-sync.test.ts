// Keeps protocol/events.ts in step with protocol/events.schema.json.
// The field tables below are checked against the TS types by `tsc` (npm run typecheck):
// a missing, extra or wrongly optional field is a compile error. The tests then check the
// same tables against the schema, so together TS <-> tables <-> schema must agree.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import schema from '../../protocol/events.schema.json';
import type * as P from '../../protocol/events';

// A field is optional when the object without it still fits.
type Presence<T> = { readonly [K in keyof T]-?: Partial<Pick<T, K>> extends Pick<T, K> ? 'optional' : 'required' };
type EventOf<K extends P.EngineEventType> = Extract<P.EngineEvent, { type: K }>;

const R = 'required';
const O = 'optional';
const base = { v: R, type: R, ts: R, run_id: O } as const;

const EVENT_FIELDS: { [K in P.EngineEventType]: Presence<EventOf<K>> } = {
  run_started: {
    ...base,
    run_id: R,
    method: R,
    run_dir: R,
    device: R,
    config: R,
    params: R,
    total_steps: R,
    resumed: O,
  },
  phase_started: { ...base, phase: R },
  train_step: { ...base, step: R, total_steps: R, epoch: R, loss: R, lr: R, step_s: O, memory: R },
  evaluation: { ...base, split: R, step: R, epoch: R, examples: O, metrics: R },
  phase_memory: { ...base, phase: R, memory: R },
  log: { ...base, level: R, message: R },
  error: { ...base, kind: R, message: R, hint: R, phase: O, detail: O, step: O, memory: O },
  run_finished: { ...base, run_id: R, summary: R },
  compare_finished: { ...base, rows: R, failed: O, skipped: O },
  checkpoint_saved: {
    ...base,
    run_id: R,
    step: R,
    total_steps: R,
    epoch: R,
    step_in_epoch: R,
    reason: R,
    path: R,
    bytes: R,
  },
  run_stopped: { ...base, run_id: R, step: R, total_steps: R, signal: R, checkpoint: R, message: R },
  init_progress: { ...base, source: R, init: R, elapsed_s: R, examples: O },
  sweep_started: { ...base, sweep_id: R, sweep_dir: R, trials: R, pending: R },
  sweep_trial: { ...base, trial_id: R, method: R, point: R, seed: R, status: R },
  sweep_finished: { ...base, sweep_id: R, sweep_dir: R, points: R },
};

// Nested objects, keyed by their JSON pointer in the schema.
const NESTED_FIELDS: Record<string, Presence<unknown> | object> = {
  '/$defs/params': { total: R, trainable: R, trainable_pct: R } satisfies Presence<P.Params>,
  '/$defs/memory': {
    peak_allocated_bytes: R,
    peak_reserved_bytes: R,
    saved_for_backward_bytes: R,
    param_bytes: R,
    grad_bytes: R,
    optimizer_bytes: R,
    accounted_bytes: O,
  } satisfies Presence<P.PhaseMemory>,
  '/$defs/train_step/properties/memory': {
    allocated_bytes: R,
    reserved_bytes: R,
    saved_for_backward_bytes: R,
  } satisfies Presence<P.StepMemory>,
  '/$defs/init_progress/properties/examples': { done: R, total: R, eta_s: R } satisfies Presence<P.InitExamples>,
  '/$defs/summary': {
    method: R,
    run_dir: R,
    trainable_pct: R,
    metrics: R,
    validation_metrics: O,
    memory: R,
    best_epoch: O,
    duration_s: R,
    test_examples: O,
  } satisfies Presence<P.RunSummary>,
  '/$defs/sweep_point': {
    method: R,
    point: R,
    trials: R,
    n: R,
    mean: R,
    std: R,
    peak_bytes: R,
    memory: R,
  } satisfies Presence<P.SweepPoint>,
  '/$defs/summary/properties/memory': {
    train_peak_bytes: R,
    train_reserved_bytes: O,
    saved_for_backward_bytes: R,
    param_bytes: R,
    grad_bytes: R,
    optimizer_bytes: R,
    accounted_bytes: O,
  } satisfies Presence<P.SummaryMemory>,
};

interface ObjectSchema {
  properties: Record<string, { const?: string }>;
  required?: string[];
}

function at(pointer: string): ObjectSchema {
  let node: unknown = schema;
  for (const key of pointer.split('/').slice(1))
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  assert.ok(node, `schema has nothing at ${pointer}`);
  return node as ObjectSchema;
}

// Field name -> presence, as the schema says, sorted so comparisons ignore order.
function presence(properties: string[], required: string[]): Record<string, string> {
  return Object.fromEntries([...properties].sort().map((k) => [k, required.includes(k) ? R : O]));
}

function sorted(fields: object): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).sort(([a], [b]) => a.localeCompare(b)));
}

const schemaTypes: string[] = schema.properties.type.enum;

test('every schema event type has a TS event type and vice versa', () => {
  assert.deepEqual(Object.keys(EVENT_FIELDS).sort(), [...schemaTypes].sort());
});

test('the schema oneOf lists exactly the event types, each with a matching type const', () => {
  const refs = schema.oneOf.map((r) => r.$ref.replace('#/$defs/', ''));
  assert.deepEqual([...refs].sort(), [...schemaTypes].sort());
  for (const t of schemaTypes) assert.equal(at(`/$defs/${t}`).properties.type.const, t);
});

for (const t of schemaTypes) {
  test(`fields of ${t} match the schema`, () => {
    const def = at(`/$defs/${t}`);
    const expected = presence(
      [...new Set([...Object.keys(schema.properties), ...Object.keys(def.properties)])],
      [...schema.required, ...(def.required ?? [])],
    );
    assert.deepEqual(sorted(EVENT_FIELDS[t as P.EngineEventType]), expected);
  });
}

for (const [pointer, fields] of Object.entries(NESTED_FIELDS)) {
  test(`fields of ${pointer} match the schema`, () => {
    const node = at(pointer);
    assert.deepEqual(sorted(fields), presence(Object.keys(node.properties), node.required ?? []));
  });
}
