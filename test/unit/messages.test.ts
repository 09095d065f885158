// The webview -> host validators: valid messages come back as fresh, exact copies; hundreds of hostile ones
// (wrong types, huge strings, prototype keys, path traversal, unknown fields) are all rejected.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isSafePathString } from '../../protocol/webviews/common';
import { ExperimentMessages, parseExperimentMessage, parseExperimentPatch } from '../../protocol/webviews/experiment';
import { MonitorMessages, parseMonitorMessage } from '../../protocol/webviews/monitor';
import { parseResultsMessage, ResultsMessages } from '../../protocol/webviews/results';
import { prng } from './fuzzMessages';

const parsers = [parseExperimentMessage, parseMonitorMessage, parseResultsMessage];

const valid: [parser: (raw: unknown) => unknown, message: unknown][] = [
  [parseExperimentMessage, { type: ExperimentMessages.ready }],
  [parseExperimentMessage, { type: ExperimentMessages.run }],
  [parseExperimentMessage, { type: ExperimentMessages.openFile }],
  [parseExperimentMessage, { type: ExperimentMessages.pickBackboneFolder }],
  [parseExperimentMessage, { type: ExperimentMessages.pickData, kind: 'folder' }],
  [parseExperimentMessage, { type: ExperimentMessages.pickData, kind: 'file' }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { r: 4 } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { r: 2 } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { r: 32 } }],
  // Every field the form shows may be patched (the form is made from the field declarations), up to the engine's limits.
  [
    parseExperimentMessage,
    {
      type: ExperimentMessages.update,
      patch: { r: 64, side_heads: 1, lora_rank: 1, eval_batch_size: 1, seed: 2 ** 32 - 1 },
    },
  ],
  [
    parseExperimentMessage,
    { type: ExperimentMessages.update, patch: { lrs: { lora: 1e-3 }, tap_cache: 'cpu', lora_targets: ['query'] } },
  ],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { keep_layers: [1, 3, 5] } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { keep_layers: null } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { methods: ['lst', 'lora'] } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { backbone: 'default' } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { backbone: 'preset:bert-tiny' } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { backbone: 'models/minilm' } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { backbone: '/home/me/checkpoints/bert' } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { data: '/home/me/data/glue/SST-2' } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { data: 'data/my..file.csv' } }],
  [parseExperimentMessage, { type: ExperimentMessages.update, patch: { data: null } }],
  [
    parseExperimentMessage,
    { type: ExperimentMessages.update, patch: { task: 'stsb', init: 'magnitude', precision: 'bf16' } },
  ],
  [
    parseExperimentMessage,
    { type: ExperimentMessages.update, patch: { lr: 0.003, batch_size: 4, epochs: 1, max_length: 32, seed: 0 } },
  ],
  [
    parseExperimentMessage,
    { type: ExperimentMessages.update, patch: { lr: null, device: 'cuda:1', fisher_samples: 4 } },
  ],
  [
    parseExperimentMessage,
    { type: ExperimentMessages.update, patch: { max_train_examples: 16, max_eval_examples: null } },
  ],
  [
    parseExperimentMessage,
    { type: ExperimentMessages.update, patch: { text_columns: ['sentence1', 'sentence2'], label_column: 'label' } },
  ],
  [parseMonitorMessage, { type: MonitorMessages.ready }],
  [parseMonitorMessage, { type: MonitorMessages.stop, sessionId: 'session-1' }],
  [parseMonitorMessage, { type: MonitorMessages.stop, sessionId: '0f8fad5b-d9cb-469f-a165-70867728950e' }],
  [parseResultsMessage, { type: ResultsMessages.ready }],
  [parseResultsMessage, { type: ResultsMessages.selectLatest }],
  [parseResultsMessage, { type: ResultsMessages.exportCsv }],
  [parseResultsMessage, { type: ResultsMessages.exportMarkdown }],
  [parseResultsMessage, { type: ResultsMessages.tryModel }],
  [parseResultsMessage, { type: ResultsMessages.openSweep, sweepId: '20261201-100852-2378' }],
  [parseResultsMessage, { type: ResultsMessages.showTrials, show: true }],
  [parseResultsMessage, { type: ResultsMessages.select, runIds: [] }],
  [
    parseResultsMessage,
    { type: ResultsMessages.select, runIds: ['20261126-223533-lst-424f', '20261126-223633-lora-f967'] },
  ],
];

test('valid messages are accepted as exact, fresh copies', () => {
  for (const [parse, message] of valid) {
    const out = parse(structuredClone(message));
    assert.deepEqual(out, message, JSON.stringify(message));
    assert.notEqual(out, message);
  }
});

test('extra top-level fields are dropped, not passed on', () => {
  const out = parseExperimentMessage({
    type: ExperimentMessages.pickData,
    kind: 'file',
    path: '/etc/passwd',
    extra: 1,
  });
  assert.deepEqual(out, { type: ExperimentMessages.pickData, kind: 'file' });
  const out2 = parseMonitorMessage({ type: MonitorMessages.ready, command: 'rm -rf /' });
  assert.deepEqual(out2, { type: MonitorMessages.ready });
});

test('a message for one webview is not accepted by another', () => {
  assert.equal(parseMonitorMessage({ type: ExperimentMessages.ready }), undefined);
  assert.equal(parseResultsMessage({ type: MonitorMessages.ready }), undefined);
  assert.equal(parseExperimentMessage({ type: ResultsMessages.exportCsv }), undefined);
});

// ---- hostile messages --------------------------------------------------------------------------------------------

const HUGE = 'x'.repeat(1_000_000);
// ".." passes this layer (a file in a subfolder names the workspace's data "../data"); where a path leads is the
// host's PathPolicy's decision, tested in data-paths.test.ts, security.test.ts and the integration fuzz.
const DOTDOT = [
  '../../etc/passwd',
  '..',
  '../',
  'data/../../secrets',
  '..\\..\\windows\\system32',
  'a/b/../../../c',
  '/tmp/../etc/shadow',
  'data/..',
  './..',
  'C:\\..\\..\\x',
];
const BAD_PATHS = ['data\u0000.csv', 'line\nbreak', ' /leading/space', 'trailing/space ', '\u007f', HUGE];
const WRONG_VALUES: unknown[] = [
  null,
  undefined,
  true,
  0,
  -1,
  1.5,
  NaN,
  Infinity,
  -Infinity,
  '',
  HUGE,
  [],
  [[]],
  {},
  { a: 1 },
  new Date(0),
  new Map(),
  Symbol.iterator,
  () => 1,
  10n,
  '__proto__',
  'constructor',
];

/** Raw objects with hostile own keys, built the way JSON.parse / structured clone would deliver them. */
function hostileObject(json: string): unknown {
  return JSON.parse(json);
}

function hostileMessages(): unknown[] {
  const out: unknown[] = [];
  // Not objects at all, or objects of the wrong shape.
  out.push(...WRONG_VALUES, [ExperimentMessages.ready], Object.create({ type: MonitorMessages.ready }));
  // The type field itself.
  for (const t of [
    ...WRONG_VALUES,
    'monitor/READY',
    'monitor/ready ',
    'experiment/',
    'results/unknown',
    'ready',
    HUGE,
    'monitor/ready'.repeat(10),
  ]) {
    out.push({ type: t });
  }
  // Inherited (not own) type.
  out.push(Object.assign(Object.create({ type: ExperimentMessages.ready }), {}));
  // Prototype-pollution shaped payloads.
  out.push(
    hostileObject(`{"type":"${ExperimentMessages.update}","patch":{"__proto__":{"polluted":true}}}`),
    hostileObject(`{"type":"${ExperimentMessages.update}","patch":{"constructor":{"prototype":{"polluted":true}}}}`),
    hostileObject(`{"type":"${ExperimentMessages.update}","patch":{"r":4,"__proto__":{"runs_dir":"/"}}}`),
    hostileObject(`{"type":"${ExperimentMessages.update}","patch":{"prototype":1}}`),
    hostileObject(`{"type":"${ExperimentMessages.update}","__proto__":{"patch":{"r":4}}}`),
    hostileObject(`{"__proto__":{"type":"${MonitorMessages.ready}"}}`),
    hostileObject(`{"type":"${ResultsMessages.select}","runIds":{"__proto__":[]}}`),
  );
  // Update: no patch, empty patch, patch of the wrong shape.
  for (const p of [undefined, null, {}, [], 'r=4', [['r', 4]], new Map([['r', 4]])])
    out.push({ type: ExperimentMessages.update, patch: p });
  // Update: fields the form never writes (runs_dir would redirect where the engine writes), or with a wrong value.
  for (const key of ['runs_dir', 'lrs', 'unknown', 'R', 'toString', 'hasOwnProperty']) {
    out.push({ type: ExperimentMessages.update, patch: { [key]: 1 } });
  }
  // Update: every field with every wrong value.
  const fields = [
    'backbone',
    'task',
    'data',
    'methods',
    'r',
    'keep_layers',
    'init',
    'fisher_samples',
    'epochs',
    'batch_size',
    'lr',
    'max_length',
    'seed',
    'precision',
    'device',
    'max_train_examples',
    'max_eval_examples',
    'text_columns',
    'label_column',
  ];
  const nullable = new Set([
    'data',
    'keep_layers',
    'lr',
    'max_train_examples',
    'max_eval_examples',
    'text_columns',
    'label_column',
  ]);
  for (const f of fields) {
    for (const v of WRONG_VALUES) {
      if (v === null && nullable.has(f)) continue;
      if (typeof v === 'string' && v !== '' && v.length < 20 && ['backbone', 'data', 'label_column'].includes(f))
        continue; // a plausible name
      if ((f === 'lr' && v === 1.5) || (f === 'seed' && v === 0)) continue; // in range for these fields
      out.push({ type: ExperimentMessages.update, patch: { [f]: v } });
    }
  }
  // Paths with control characters, padding or absurd length.
  for (const p of BAD_PATHS) {
    out.push({ type: ExperimentMessages.update, patch: { data: p } });
    out.push({ type: ExperimentMessages.update, patch: { backbone: p } });
  }
  // Field-specific out-of-range values.
  const specific: Record<string, unknown>[] = [
    { r: 1 },
    { r: 65 },
    { r: 8.5 },
    { side_heads: 0 },
    { lora_rank: 0 },
    { eval_batch_size: 0 },
    { lrs: { lora: 0 } },
    { r: '8' },
    { methods: [] },
    { methods: ['lst', 'lst'] },
    { methods: ['lst', 'qlora'] },
    { methods: 'lst,lora' },
    { methods: Array(7).fill('lst') },
    { keep_layers: [] },
    { keep_layers: [3, 1] },
    { keep_layers: [1, 1] },
    { keep_layers: [-1] },
    { keep_layers: [256] },
    { keep_layers: ['1'] },
    { keep_layers: '1,3,5' },
    { keep_layers: Array.from({ length: 300 }, (_, i) => i) },
    { task: 'SST2' },
    { task: 'sst3' },
    { init: 'Fisher' },
    { precision: 'fp16' },
    { device: 'cuda:123' },
    { device: 'tpu' },
    { device: 'cuda; rm -rf /' },
    { lr: 0 },
    { lr: -0.1 },
    { lr: 10 },
    { lr: '3e-3' },
    { max_length: 0 },
    { max_length: 5000 },
    { seed: -1 },
    { seed: 2 ** 32 },
    { epochs: 0 },
    { batch_size: 0 },
    { fisher_samples: 0 },
    { max_train_examples: 0 },
    { text_columns: [] },
    { text_columns: ['a', 'b', 'c'] },
    { text_columns: ['a,b'] },
    { text_columns: [HUGE] },
    { label_column: '' },
    { label_column: 'x'.repeat(201) },
    { backbone: 'preset:../../etc' },
    { backbone: '' },
  ];
  for (const patch of specific) out.push({ type: ExperimentMessages.update, patch });
  // One bad field spoils the whole patch, even next to good ones.
  out.push({ type: ExperimentMessages.update, patch: { r: 4, runs_dir: '/var/x' } });
  out.push({ type: ExperimentMessages.update, patch: { r: 4, data: 'data\u0000' } });
  // pickData kinds.
  for (const kind of [...WRONG_VALUES, 'Folder', 'files', 'directory', '../'])
    out.push({ type: ExperimentMessages.pickData, kind });
  // Monitor stop: ids that are paths, empty or huge.
  const notIds = WRONG_VALUES.filter((v) => v !== 'constructor'); // a legal folder name, harmless as an id
  for (const id of [...notIds, '../session', 'a/b', '.hidden', 'a..b', ' id', 'id\n', 'x'.repeat(201), HUGE]) {
    out.push({ type: MonitorMessages.stop, sessionId: id });
  }
  // Results select: ids that are paths, wrong containers, too many.
  for (const id of ['../../etc', '..', 'a/b', 'C:\\runs', '', ' ', 'run\u0000', HUGE, 1, null, {}]) {
    out.push({ type: ResultsMessages.select, runIds: ['20261126-223533-lst-424f', id] });
  }
  for (const ids of [undefined, null, 'run', {}, { length: 1, 0: 'run' }, Array(501).fill('run')])
    out.push({ type: ResultsMessages.select, runIds: ids });
  // Results openSweep / showTrials: a sweep id that is a path, a show that is no boolean.
  for (const id of ['../../etc', '..', 'a/b', '', HUGE, 1, null, {}, undefined])
    out.push({ type: ResultsMessages.openSweep, sweepId: id });
  for (const show of ['true', 1, 0, null, undefined, {}, []]) out.push({ type: ResultsMessages.showTrials, show });
  // Random junk: valid types with random wrong payloads.
  const rand = prng(20261126); // seeded so failures reproduce
  const types = [ExperimentMessages.update, ExperimentMessages.pickData, MonitorMessages.stop, ResultsMessages.select];
  for (let i = 0; i < 60; i++) {
    const type = types[Math.floor(rand() * types.length)];
    const junk = notIds.filter((x) => !(Array.isArray(x) && x.length === 0)); // [] is a valid (empty) selection
    const v = junk[Math.floor(rand() * junk.length)];
    out.push({ type, patch: v, kind: v, sessionId: v, runIds: v });
  }
  return out;
}

test('at least 200 hostile messages, and every one is rejected by every parser', (t) => {
  const hostile = hostileMessages();
  assert.ok(hostile.length >= 200, `only ${hostile.length} hostile messages`);
  t.diagnostic(`${hostile.length} hostile messages x ${parsers.length} parsers`);
  const accepted: string[] = [];
  hostile.forEach((m, i) => {
    for (const parse of parsers) {
      let out: unknown;
      try {
        out = parse(m);
      } catch (e) {
        assert.fail(`parser threw on hostile message #${i}: ${(e as Error).message}`);
      }
      if (out !== undefined) accepted.push(`#${i} by ${parse.name}: ${describe(m)}`);
    }
  });
  assert.deepEqual(accepted, []);
  // Nothing leaked onto Object.prototype along the way.
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).runs_dir, undefined);
});

function describe(m: unknown): string {
  try {
    return (JSON.stringify(m) ?? String(m)).slice(0, 160);
  } catch {
    return String(m).slice(0, 160);
  }
}

test('a patch is copied: later changes to the input do not reach the host', () => {
  const input = { keep_layers: [1, 2], methods: ['lst'] };
  const out = parseExperimentPatch(input)!;
  input.keep_layers.push(99);
  input.methods.push('full');
  assert.deepEqual(out, { keep_layers: [1, 2], methods: ['lst'] });
});

test('isSafePathString: no control characters or padding; ".." is for the host to judge', () => {
  for (const ok of ['/home/me/data/glue/SST-2', 'data/sst2', 'C:\\data\\x', 'a..b/c', '.hidden/x', '~/x', ...DOTDOT])
    assert.ok(isSafePathString(ok), ok);
  for (const bad of BAD_PATHS) assert.ok(!isSafePathString(bad), JSON.stringify(bad.slice(0, 40)));
  // A backbone that claims to be a preset must be one: "preset:../x" is neither a preset nor taken as a path.
  assert.equal(parseExperimentPatch({ backbone: 'preset:../../etc' }), undefined);
  assert.deepEqual(parseExperimentPatch({ data: '../data/SST-2' }), { data: '../data/SST-2' });
});
