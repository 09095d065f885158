// Hostile webview -> host messages for the fuzz tests (unit: the validators; integration: the panels' real
// handlers). Seeded, so a failure names a seed and an index that reproduce it. Every message built here is
// INVALID for its declared type: the validators must reject all of them and the host must act on none.
import { ExperimentMessages } from '../../protocol/webviews/experiment';
import { MonitorMessages } from '../../protocol/webviews/monitor';
import { ResultsMessages } from '../../protocol/webviews/results';
import { MAX_NEW_TOKENS, MAX_TRY_TEXT, TryMessages } from '../../protocol/webviews/try';

/** mulberry32: a tiny seeded PRNG (the same sequence on every machine). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEN_MB = 'A'.repeat(10 * 1024 * 1024);
const TRAVERSAL = [
  '../../etc/passwd',
  '..\\..\\windows\\system32',
  'runs/../../../etc',
  '/etc/passwd/..',
  '..',
  './..',
  'a/../../b',
  '../',
];
// Paths no form produces (control characters, padding). A ".." path is well formed: the host's PathPolicy judges where
// it leads (the integration fuzz sends such paths to the real handler, which must write nothing).
const BAD_PATHS = ['data\u0000.csv', 'line\nbreak', ' /padded', 'padded/ ', '\u007f'];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];
const ALL_TYPES = [
  ...Object.values(ExperimentMessages),
  ...Object.values(MonitorMessages),
  ...Object.values(ResultsMessages),
  ...Object.values(TryMessages),
];

function deep(depth: number): unknown {
  let v: unknown = { type: MonitorMessages.ready };
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { type: MonitorMessages.stop, sessionId: v };
  return v;
}

/** An object with an own key named like a prototype property (JSON.parse makes "__proto__" an own key). */
function withKey(base: Record<string, unknown>, key: string, value: unknown): unknown {
  return JSON.parse(JSON.stringify({ ...base, [key + '\u0000marker']: value }).replace('\\u0000marker', ''));
}

function badValue(rand: () => number): unknown {
  const values: unknown[] = [
    null,
    undefined,
    NaN,
    Infinity,
    -Infinity,
    -0,
    1e308,
    -1,
    2 ** 53,
    0.5,
    true,
    '',
    ' ',
    '\u0000',
    TEN_MB.slice(0, 201 + Math.floor(rand() * 70_000)) /* longer than any id */,
    [],
    [null],
    {},
    { length: 1 },
    () => 1,
    new Date(0),
    new Map([[1, 2]]),
    new Uint8Array(4),
    Symbol.iterator.toString(),
    ...TRAVERSAL,
    deep(50),
  ];
  return values[Math.floor(rand() * values.length)];
}

type Family = (rand: () => number) => unknown;

// Each family makes one kind of hostile message; the generator cycles through them so every kind is well represented.
const FAMILIES: Record<string, Family> = {
  notAnObject: (r) => badValue(r),
  arrayOfValid: (r) => [{ type: ALL_TYPES[Math.floor(r() * ALL_TYPES.length)] }],
  missingType: (r) => ({ kind: 'file', runIds: [], sessionId: `session-${Math.floor(r() * 100)}` }),
  typeNotAString: (r) => ({
    type: [badValue(r), ['monitor/ready'], { toString: () => 'monitor/ready' }, 42, null][Math.floor(r() * 5)],
  }),
  typeAlmostRight: (r) => {
    const t = ALL_TYPES[Math.floor(r() * ALL_TYPES.length)];
    const variants = [
      t.toUpperCase(),
      ` ${t}`,
      `${t} `,
      `${t}\u0000`,
      `${t}x`,
      t.replace('/', '\\'),
      t.replace('/', '//'),
      `${t}/../run`,
      t.split('/')[0] + '/',
      `../${t}`,
    ];
    return { type: variants[Math.floor(r() * variants.length)] };
  },
  typeHuge: (r) => ({ type: `monitor/${'x'.repeat(64 + Math.floor(r() * 1000))}` }),
  typeProtoKey: (r) => ({ type: PROTO_KEYS[Math.floor(r() * 3)] }),
  protoPollution: (r) =>
    withKey({ type: PROTO_KEYS[Math.floor(r() * 3)] }, PROTO_KEYS[Math.floor(r() * 3)], {
      type: MonitorMessages.ready,
      polluted: true,
      run: true,
    }),
  notPlainObject: (r) =>
    Object.assign(Object.create({ type: ALL_TYPES[Math.floor(r() * ALL_TYPES.length)] }) as object, { x: 1 }),
  updateBadPatch: (r) => {
    const patches: unknown[] = [
      undefined,
      null,
      [],
      [{ r: 4 }],
      'r=4',
      {},
      { r: badValue(r) },
      { r: 100 },
      { r: 4.5 },
      { r: NaN },
      { lr: Infinity },
      { lr: -1 },
      { epochs: '3' },
      { methods: 'lst' },
      { methods: ['lst', 'lst'] },
      { methods: ['rm -rf'] },
      { keep_layers: [3, 1] },
      { keep_layers: [-1] },
      { data: BAD_PATHS[Math.floor(r() * BAD_PATHS.length)] },
      { backbone: BAD_PATHS[Math.floor(r() * BAD_PATHS.length)] },
      { data: TEN_MB },
      { backbone: '  padded ' },
      { device: 'cuda; rm -rf /' },
      { task: 'sst3' },
      { unknown_field: 1 },
      { r: 4, runs_dir: '/etc' },
      { text_columns: ['a,b'] },
      { label_column: '\u0007' },
      { seed: 2 ** 40 },
      withKey({ r: 4 }, PROTO_KEYS[Math.floor(r() * 3)], { polluted: true }),
      deep(200),
    ];
    return { type: ExperimentMessages.update, patch: patches[Math.floor(r() * patches.length)] };
  },
  pickDataBadKind: (r) => ({
    type: ExperimentMessages.pickData,
    kind: [undefined, 'dir', 'FILE', badValue(r), ['file']][Math.floor(r() * 5)],
  }),
  generateBadPrompt: (r) => ({
    type: TryMessages.generate,
    prompt: [undefined, null, '', 'x'.repeat(MAX_TRY_TEXT + 1), TEN_MB, 42, ['question'], { text: 'q' }, true][
      Math.floor(r() * 9)
    ],
  }),
  generateBadMaxNewTokens: (r) => ({
    type: TryMessages.generate,
    prompt: 'question 1',
    maxNewTokens: [0, -1, 1.5, MAX_NEW_TOKENS + 1, '128', NaN, Infinity, [128], { n: 1 }, true][Math.floor(r() * 10)],
  }),
  stopBadId: (r) => ({
    type: MonitorMessages.stop,
    sessionId: [...TRAVERSAL, undefined, 7, ['session-1'], TEN_MB, '', '.hidden', 'a b', badValue(r)][
      Math.floor(r() * (TRAVERSAL.length + 8))
    ],
  }),
  resumeBadId: (r) => ({
    type: MonitorMessages.resume,
    runId: [...TRAVERSAL, undefined, {}, ['x'], TEN_MB, '', '../20261126-221135-lst-d49c', badValue(r)][
      Math.floor(r() * (TRAVERSAL.length + 7))
    ],
  }),
  selectBadIds: (r) => {
    const lists: unknown[] = [
      undefined,
      'all',
      {},
      { 0: 'a', length: 1 },
      [TRAVERSAL[Math.floor(r() * TRAVERSAL.length)]],
      [1, 2],
      [['nested']],
      Array.from({ length: 501 }, (_, i) => `run-${i}`),
      [TEN_MB],
      [null],
      ['ok-id', '../../etc'],
    ];
    return { type: ResultsMessages.select, runIds: lists[Math.floor(r() * lists.length)] };
  },
};

export const FAMILY_NAMES = Object.keys(FAMILIES);

/** `count` hostile messages from `seed`, each tagged with its family (for failure messages). */
export function hostileMessages(seed: number, count: number): { family: string; message: unknown }[] {
  const rand = prng(seed);
  const out: { family: string; message: unknown }[] = [];
  for (let i = 0; i < count; i++) {
    const family = FAMILY_NAMES[i % FAMILY_NAMES.length];
    out.push({ family, message: FAMILIES[family](rand) });
  }
  return out;
}

/** A description that fits in an assertion message (no 10 MB strings). */
export function describe(message: unknown): string {
  try {
    const text = JSON.stringify(message, (_k, v: unknown) =>
      typeof v === 'string' && v.length > 60 ? `<${v.length} chars>` : v,
    );
    return (text ?? String(message)).slice(0, 200);
  } catch {
    return Object.prototype.toString.call(message);
  }
}
