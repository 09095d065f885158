// The sidebar Experiment view's messages, and the experiment fields and vocabulary its form edits
// (mirrors engine/src/ladderlab/config.py).
import { isInt, isRecord, isSafePathString, own, typeOf, type Channel, type Obj } from './common';

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
export type ExperimentChannel = Channel<ExperimentToWebview, ExperimentFromWebview>;

// ---------------------------------------------------------------------------------------------------------------
// Validators for what the Experiment view sends

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
