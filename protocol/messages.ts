// The one definition of the messages between the extension host and its webviews.
//
// Each webview has a constant object naming its message types (host -> webview and webview -> host) and the
// payload types that go with them. Host -> webview payloads are trusted (the host makes them). Every message a
// webview sends is NOT: a webview runs third-party-influenced content (run names, file contents), so the host
// passes each one through the `parse…Message` validator of its webview, which returns a fresh, fully typed
// object built from known fields only, or undefined for anything else (the host then ignores it).
import type { EngineEvent } from './events';

// ---------------------------------------------------------------------------------------------------------------
// Shared vocabulary (mirrors engine/src/ladderlab/config.py)

export const METHODS = ['lst', 'lora', 'adapter', 'bitfit', 'prompt', 'full'] as const;
export type Method = (typeof METHODS)[number];
export const GLUE_TASKS = ['sst2', 'mnli', 'qnli', 'qqp', 'rte', 'mrpc', 'cola', 'stsb'] as const;
export const TASKS = [...GLUE_TASKS, 'imdb', 'file'] as const;
export type Task = (typeof TASKS)[number];
export const INITS = ['fisher', 'magnitude', 'random'] as const;
export const PRECISIONS = ['fp32', 'bf16'] as const;
/** The side network's reduction factor as the form offers it (the engine accepts up to 64). */
export const R_MIN = 2;
export const R_MAX = 32;
export const MAX_PATH_LENGTH = 4096;
export const MAX_LAYERS = 256;

/** The experiment fields the form edits; every name is also a key of `*.ladder.json` and a CLI flag. */
export interface ExperimentValues {
  backbone: string; // "default", "preset:NAME" or a checkpoint folder
  task: Task;
  data: string | null;
  methods: Method[];
  r: number;
  keep_layers: number[] | null; // null = every layer
  init: (typeof INITS)[number];
  fisher_samples: number;
  epochs: number;
  batch_size: number;
  lr: number | null; // null = the paper's rate per method
  max_length: number;
  seed: number;
  precision: (typeof PRECISIONS)[number];
  device: string; // auto, cpu, cuda, cuda:N
  max_train_examples: number | null;
  max_eval_examples: number | null;
  text_columns: string[] | null;
  label_column: string | null;
}
export type ExperimentPatch = Partial<ExperimentValues>;

/** Device-wide GPU memory from nvidia-smi, one sample for every GPU. */
export interface GpuSample {
  t: number; // unix seconds
  gpus: { index: number; usedMiB: number; totalMiB: number }[];
}

// ---------------------------------------------------------------------------------------------------------------
// Sidebar experiment view

export const ExperimentMessages = {
  // webview -> host
  ready: 'experiment/ready',
  update: 'experiment/update', // { patch }: change fields of the experiment file
  pickBackboneFolder: 'experiment/pickBackboneFolder', // open a folder dialog for the backbone
  pickData: 'experiment/pickData', // { kind: 'folder' | 'file' }: open a dialog for the task's data
  run: 'experiment/run', // start the comparison the file describes
  openFile: 'experiment/openFile', // show the experiment file in an editor
  // host -> webview
  state: 'experiment/state',
} as const;

export interface BackboneInfo {
  layers: number | null; // per stack; null when unknown (folder without a readable config.json)
  hidden: number | null;
  family: string | null; // bert, t5, gpt2, ...
  label: string;
}

export interface ExperimentState {
  file: string | null; // the experiment file, relative to the workspace; null = none yet (the first edit creates one)
  values: ExperimentValues;
  backbone: BackboneInfo;
  presets: string[];
  problems: string[]; // e.g. "the file is not valid JSON": the form is read-only until fixed
  warnings: string[]; // what the engine would reject (unknown field, r not dividing the width, ...): shown, not blocking
  running: boolean; // a session is starting/running: the Run button is disabled
}

export type ExperimentToWebview = { type: typeof ExperimentMessages.state; state: ExperimentState };
export type ExperimentFromWebview =
  | { type: typeof ExperimentMessages.ready }
  | { type: typeof ExperimentMessages.update; patch: ExperimentPatch }
  | { type: typeof ExperimentMessages.pickBackboneFolder }
  | { type: typeof ExperimentMessages.pickData; kind: 'folder' | 'file' }
  | { type: typeof ExperimentMessages.run }
  | { type: typeof ExperimentMessages.openFile };

// ---------------------------------------------------------------------------------------------------------------
// Run monitor panel

export const MonitorMessages = {
  // webview -> host
  ready: 'monitor/ready',
  stop: 'monitor/stop',
  resume: 'monitor/resume', // { runId }: continue an interrupted run from its checkpoint
  // host -> webview
  state: 'monitor/state', // the whole session so far: sent on ready and when a new session starts
  event: 'monitor/event', // one live engine event of the shown session
  session: 'monitor/session', // the shown session's state changed (running -> stopping -> stopped ...)
  gpu: 'monitor/gpu', // one nvidia-smi sample
} as const;

export interface MonitorSessionInfo {
  id: string;
  state: 'starting' | 'running' | 'stopping' | 'finished' | 'failed' | 'stopped' | 'interrupted';
  methods: string[];
  experimentPath: string;
  /** Read back from the run folders (no live session, e.g. after a window reload): nothing to stop. */
  fromDisk?: boolean;
  /** A run of this session that stopped before its end and can be continued (the monitor's Resume button). */
  resumableRunId?: string;
}

export type MonitorToWebview =
  | { type: typeof MonitorMessages.state; session: MonitorSessionInfo | null; events: EngineEvent[]; gpu: GpuSample[] }
  | { type: typeof MonitorMessages.event; sessionId: string; event: EngineEvent }
  | { type: typeof MonitorMessages.session; session: MonitorSessionInfo }
  | { type: typeof MonitorMessages.gpu; sample: GpuSample };
export type MonitorFromWebview =
  | { type: typeof MonitorMessages.ready }
  | { type: typeof MonitorMessages.stop; sessionId: string }
  | { type: typeof MonitorMessages.resume; runId: string };

// ---------------------------------------------------------------------------------------------------------------
// Results panel

export const ResultsMessages = {
  // webview -> host
  ready: 'results/ready',
  select: 'results/select', // { runIds }: show these finished runs
  selectLatest: 'results/selectLatest', // show the latest comparison again
  exportCsv: 'results/exportCsv',
  exportMarkdown: 'results/exportMarkdown',
  tryModel: 'results/tryModel', // open the Try-model panel (the user picks the run)
  // host -> webview
  state: 'results/state',
} as const;

/** One row of the comparison: numbers stay raw here; the views format them. */
export interface ResultRow {
  runId: string;
  method: string;
  task: string | null;
  trainablePct: number;
  /** CUDA peak allocated when the run was on CUDA, else the accounted bytes (params + grads + optimizer + saved). */
  peakBytes: number | null;
  peakKind: 'cuda' | 'accounted';
  savedBytes: number;
  metrics: Record<string, number | null>;
  score: number | null; // the task's main metric (the engine's "score")
  durationS: number;
  /** From the run's inference.json (Try Model): median ONNX latency and peak RSS growth; null = not measured. */
  inferenceLatencyMs?: number | null;
  inferencePeakBytes?: number | null;
}

export interface ResultsTable {
  metricNames: string[]; // the metric columns, in order ("score" is not among them: it is the last column)
  rows: ResultRow[];
  /** The table as shown (and exported to Markdown): header labels and one formatted cell per column per row. */
  columns: string[];
  cells: string[][];
}

export interface RunChoice {
  id: string;
  method: string;
  task: string | null;
  startedAt: number | null;
  score: number | null;
}

export interface ResultsState {
  choices: RunChoice[]; // every finished run, newest first
  selected: string[];
  latest: string[]; // the latest comparison's runs
  table: ResultsTable;
}

export type ResultsToWebview = { type: typeof ResultsMessages.state; state: ResultsState };
export type ResultsFromWebview =
  | { type: typeof ResultsMessages.ready }
  | { type: typeof ResultsMessages.select; runIds: string[] }
  | { type: typeof ResultsMessages.selectLatest }
  | { type: typeof ResultsMessages.exportCsv }
  | { type: typeof ResultsMessages.exportMarkdown }
  | { type: typeof ResultsMessages.tryModel };

// ---------------------------------------------------------------------------------------------------------------
// Validators for what webviews send

type Obj = Record<string, unknown>;

/** A plain data object (what structured clone of a webview's object literal gives), not an array or a class. */
function isRecord(value: unknown): value is Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function own(obj: Obj, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

function typeOf(raw: unknown, prefix: string): string | undefined {
  if (!isRecord(raw)) return undefined;
  const type = own(raw, 'type');
  return typeof type === 'string' && type.startsWith(prefix) && type.length < 64 ? type : undefined;
}

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

// Control characters (NUL included) never belong in a path or a name the form sends.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * A path as the form may send it: a bounded string without control characters and without `..` segments.
 * Whether it may be used at all (inside the workspace or chosen in a dialog) is for the host to decide.
 */
export function isSafePathString(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_PATH_LENGTH || CONTROL.test(v)) return false;
  if (v.trim() !== v) return false;
  return !v.split(/[\\/]+/).some((segment) => segment === '..');
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** A run or session id: a folder name, never a path. */
export function isSafeId(v: unknown): v is string {
  return typeof v === 'string' && ID.test(v) && !v.includes('..');
}

const PRESET = /^preset:[a-z0-9][a-z0-9-]{0,39}$/;
const COLUMN = /^[^\u0000-\u001f\u007f,]{1,200}$/;

function oneOf<T extends string>(values: readonly T[]) {
  return (v: unknown): v is T => typeof v === 'string' && (values as readonly string[]).includes(v);
}
const orNull = (check: (v: unknown) => boolean) => (v: unknown) => v === null || check(v);

/** Field name -> check of its value. A patch with any other key, or any failing value, is rejected whole. */
const FIELD_CHECKS: { [K in keyof ExperimentValues]: (v: unknown) => boolean } = {
  backbone: (v) => v === 'default' || (typeof v === 'string' && PRESET.test(v)) || isSafePathString(v),
  task: oneOf(TASKS),
  data: orNull(isSafePathString),
  methods: (v) =>
    Array.isArray(v) && v.length >= 1 && v.length <= METHODS.length && v.every(oneOf(METHODS)) && new Set(v).size === v.length,
  r: (v) => isInt(v, R_MIN, R_MAX),
  keep_layers: orNull(
    (v) =>
      Array.isArray(v) &&
      v.length >= 1 &&
      v.length <= MAX_LAYERS &&
      v.every((x, i) => isInt(x, 0, MAX_LAYERS - 1) && (i === 0 || x > (v[i - 1] as number))),
  ),
  init: oneOf(INITS),
  fisher_samples: (v) => isInt(v, 1, 100_000),
  epochs: (v) => isInt(v, 1, 1000),
  batch_size: (v) => isInt(v, 1, 65_536),
  lr: orNull((v) => typeof v === 'number' && Number.isFinite(v) && v > 0 && v < 10),
  max_length: (v) => isInt(v, 1, 4096),
  seed: (v) => isInt(v, 0, 2 ** 31 - 1),
  precision: oneOf(PRECISIONS),
  device: (v) => typeof v === 'string' && /^(auto|cpu|cuda|cuda:\d{1,2})$/.test(v),
  max_train_examples: orNull((v) => isInt(v, 1, 1e9)),
  max_eval_examples: orNull((v) => isInt(v, 1, 1e9)),
  text_columns: orNull(
    (v) => Array.isArray(v) && v.length >= 1 && v.length <= 2 && v.every((c) => typeof c === 'string' && COLUMN.test(c)),
  ),
  label_column: orNull((v) => typeof v === 'string' && COLUMN.test(v)),
};
export const EXPERIMENT_FIELDS = Object.keys(FIELD_CHECKS) as (keyof ExperimentValues)[];

/** A patch of experiment fields, copied into a fresh object; undefined if any key is unknown or any value bad. */
export function parseExperimentPatch(raw: unknown): ExperimentPatch | undefined {
  if (!isRecord(raw)) return undefined;
  const keys = Object.keys(raw);
  if (keys.length === 0 || keys.length > EXPERIMENT_FIELDS.length) return undefined;
  const patch: Obj = {};
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(FIELD_CHECKS, key)) return undefined;
    const value = raw[key];
    if (!FIELD_CHECKS[key as keyof ExperimentValues](value)) return undefined;
    patch[key] = Array.isArray(value) ? [...value] : value;
  }
  return patch as ExperimentPatch;
}

export function parseExperimentMessage(raw: unknown): ExperimentFromWebview | undefined {
  const type = typeOf(raw, 'experiment/');
  const msg = raw as Obj;
  switch (type) {
    case ExperimentMessages.ready:
    case ExperimentMessages.pickBackboneFolder:
    case ExperimentMessages.run:
    case ExperimentMessages.openFile:
      return { type };
    case ExperimentMessages.update: {
      const patch = parseExperimentPatch(own(msg, 'patch'));
      return patch && { type, patch };
    }
    case ExperimentMessages.pickData: {
      const kind = own(msg, 'kind');
      return kind === 'folder' || kind === 'file' ? { type, kind } : undefined;
    }
    default:
      return undefined;
  }
}

export function parseMonitorMessage(raw: unknown): MonitorFromWebview | undefined {
  const type = typeOf(raw, 'monitor/');
  switch (type) {
    case MonitorMessages.ready:
      return { type };
    case MonitorMessages.stop: {
      const sessionId = own(raw as Obj, 'sessionId');
      return isSafeId(sessionId) ? { type, sessionId } : undefined;
    }
    case MonitorMessages.resume: {
      const runId = own(raw as Obj, 'runId');
      return isSafeId(runId) ? { type, runId } : undefined;
    }
    default:
      return undefined;
  }
}

export const MAX_SELECTED_RUNS = 500;

export function parseResultsMessage(raw: unknown): ResultsFromWebview | undefined {
  const type = typeOf(raw, 'results/');
  switch (type) {
    case ResultsMessages.ready:
    case ResultsMessages.selectLatest:
    case ResultsMessages.exportCsv:
    case ResultsMessages.exportMarkdown:
    case ResultsMessages.tryModel:
      return { type };
    case ResultsMessages.select: {
      const ids = own(raw as Obj, 'runIds');
      if (!Array.isArray(ids) || ids.length > MAX_SELECTED_RUNS || !ids.every(isSafeId)) return undefined;
      return { type, runIds: [...new Set(ids as string[])] };
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Try-model panel: one finished run, exported to ONNX, run in the extension host (onnxruntime-node)

export const TryMessages = {
  // webview -> host
  ready: 'try/ready',
  predict: 'try/predict', // { textA, textB }: classify / score this input
  export: 'try/export', // export the run (ladderlab export), then load it
  reload: 'try/reload', // load the export folder again (after it changed on disk)
  measure: 'try/measure', // measure latency and memory in a child process (writes inference.json)
  // host -> webview
  state: 'try/state',
  result: 'try/result',
} as const;

/** Inference figures of an exported run, measured by onnxruntime-node in a child process (run folder's inference.json). */
export interface InferenceFigures {
  latency_ms_median: number; // one input, batch 1, median over `runs` runs after warm-up
  runs: number;
  input_tokens: number;
  session_bytes: number; // RSS growth from creating the ONNX session (graph + weights + arena)
  peak_rss_delta_bytes: number; // peak RSS during the runs minus RSS before the session existed
  threads: number;
  onnxruntime: string; // onnxruntime-node version
}

export interface TryState {
  runId: string;
  method: string;
  task: string | null;
  /** needs-export: no export folder yet; busy: exporting / loading / measuring (see `busy`); ready; error. */
  status: 'needs-export' | 'busy' | 'ready' | 'error';
  busy: string | null; // what is going on, for the user
  error: string | null; // why the model cannot be used, and what to do
  pair: boolean; // the task reads two texts
  labels: string[] | null; // null = regression
  inference: InferenceFigures | null;
}

export interface TryResult {
  ok: boolean;
  error: string | null;
  label: string | null;
  probabilities: { label: string; p: number }[];
  score: number | null; // regression output
  latencyMs: number;
  tokens: number;
}

export type TryToWebview = { type: typeof TryMessages.state; state: TryState } | { type: typeof TryMessages.result; result: TryResult };
export type TryFromWebview =
  | { type: typeof TryMessages.ready }
  | { type: typeof TryMessages.export }
  | { type: typeof TryMessages.reload }
  | { type: typeof TryMessages.measure }
  | { type: typeof TryMessages.predict; textA: string; textB: string | null };

/** Longest text the panel accepts (the model truncates to max_length tokens anyway). */
export const MAX_TRY_TEXT = 20_000;
const isTryText = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= MAX_TRY_TEXT;

export function parseTryMessage(raw: unknown): TryFromWebview | undefined {
  const type = typeOf(raw, 'try/');
  switch (type) {
    case TryMessages.ready:
    case TryMessages.export:
    case TryMessages.reload:
    case TryMessages.measure:
      return { type };
    case TryMessages.predict: {
      const textA = own(raw as Obj, 'textA');
      const textB = own(raw as Obj, 'textB');
      if (!isTryText(textA) || !(textB === null || isTryText(textB))) return undefined;
      return { type, textA, textB };
    }
    default:
      return undefined;
  }
}
