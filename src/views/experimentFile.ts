// Pure: the experiment file (`*.ladder.json`) <-> the form's values. Reading is lenient where the engine is (it
// accepts "1,3,5" for a list) and reports what it cannot show; writing changes only the patched keys and keeps
// every other key, and the key order, as the user left them. No vscode import: unit tests run it directly.
import {
  EXPERIMENT_FIELDS, GLUE_TASKS, INITS, METHODS, PRECISIONS, TASKS,
  type ExperimentPatch, type ExperimentValues,
} from '../../protocol/messages';

/** The engine's defaults (engine/src/ladderlab/config.py) for every field the form shows. */
export const ENGINE_DEFAULTS: ExperimentValues = {
  backbone: 'default', task: 'sst2', data: null, methods: ['lst'], r: 8, keep_layers: null, init: 'fisher',
  fisher_samples: 128, epochs: 3, batch_size: 16, lr: null, max_length: 128, seed: 42, precision: 'fp32',
  device: 'auto', max_train_examples: null, max_eval_examples: null, text_columns: null, label_column: null,
};

/** What a new experiment file starts with: a comparison of LST and LoRA, the paper's headline pair. */
export const NEW_FILE: Record<string, unknown> = { backbone: 'default', task: 'sst2', methods: ['lst', 'lora'] };

/** Fields whose engine default is null: writing null removes the key instead. */
const NULLABLE = new Set<keyof ExperimentValues>(
  (Object.keys(ENGINE_DEFAULTS) as (keyof ExperimentValues)[]).filter((k) => ENGINE_DEFAULTS[k] === null),
);

export interface ParsedExperiment {
  values: ExperimentValues;
  raw: Record<string, unknown> | null; // null when the text is not a JSON object
  problems: string[];
}

function splitList(v: unknown): unknown {
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export function parseExperimentText(text: string): ParsedExperiment {
  const values: ExperimentValues = structuredClone(ENGINE_DEFAULTS);
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch (e) {
    return { values, raw: null, problems: [`The experiment file is not valid JSON (${(e as Error).message}). Fix it in the editor; the form follows.`] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { values, raw: null, problems: ['The experiment file must hold a JSON object.'] };
  }
  const obj = raw as Record<string, unknown>;
  const problems: string[] = [];
  const bad = (key: string, why: string) => problems.push(`${key}: ${why} (found ${JSON.stringify(obj[key])?.slice(0, 80)})`);
  const has = (k: string) => Object.prototype.hasOwnProperty.call(obj, k) && obj[k] !== undefined;

  if (has('backbone')) typeof obj.backbone === 'string' && obj.backbone ? (values.backbone = obj.backbone) : bad('backbone', 'expected a string');
  if (has('task')) (TASKS as readonly unknown[]).includes(obj.task) ? (values.task = obj.task as ExperimentValues['task']) : bad('task', `expected one of ${TASKS.join(', ')}`);
  if (has('data')) obj.data === null || typeof obj.data === 'string' ? (values.data = obj.data as string | null) : bad('data', 'expected a path');
  if (has('methods')) {
    const m = splitList(obj.methods);
    if (Array.isArray(m) && m.length > 0 && m.every((x) => (METHODS as readonly unknown[]).includes(x))) values.methods = [...new Set(m)] as ExperimentValues['methods'];
    else bad('methods', `expected a list of ${METHODS.join(', ')}`);
  }
  if (has('keep_layers')) {
    const k = splitList(obj.keep_layers);
    const list = Array.isArray(k) ? k.map((x) => (typeof x === 'string' ? Number(x) : x)) : null;
    if (obj.keep_layers === null) values.keep_layers = null;
    else if (list && list.length > 0 && list.every((x) => isInt(x) && x >= 0)) values.keep_layers = [...new Set(list as number[])].sort((a, b) => a - b);
    else bad('keep_layers', 'expected increasing layer numbers, e.g. [1, 3, 5]');
  }
  const ints: [keyof ExperimentValues, number, number][] = [
    ['r', 2, 64], ['fisher_samples', 1, 1e9], ['epochs', 1, 1e6], ['batch_size', 1, 1e7], ['max_length', 1, 4096], ['seed', 0, 2 ** 32],
  ];
  for (const [k, lo, hi] of ints) {
    if (!has(k)) continue;
    isInt(obj[k]) && (obj[k] as number) >= lo && (obj[k] as number) <= hi ? ((values as unknown as Record<string, unknown>)[k] = obj[k]) : bad(k, `expected a whole number from ${lo} to ${hi}`);
  }
  for (const k of ['max_train_examples', 'max_eval_examples'] as const) {
    if (!has(k)) continue;
    obj[k] === null || (isInt(obj[k]) && (obj[k] as number) >= 1) ? (values[k] = obj[k] as number | null) : bad(k, 'expected a whole number or null');
  }
  if (has('lr')) obj.lr === null || (typeof obj.lr === 'number' && obj.lr > 0) ? (values.lr = obj.lr as number | null) : bad('lr', 'expected a positive number or null');
  if (has('init')) (INITS as readonly unknown[]).includes(obj.init) ? (values.init = obj.init as ExperimentValues['init']) : bad('init', `expected one of ${INITS.join(', ')}`);
  if (has('precision')) (PRECISIONS as readonly unknown[]).includes(obj.precision) ? (values.precision = obj.precision as ExperimentValues['precision']) : bad('precision', 'expected fp32 or bf16');
  if (has('device')) typeof obj.device === 'string' ? (values.device = obj.device) : bad('device', 'expected auto, cpu or cuda');
  if (has('text_columns')) {
    const c = splitList(obj.text_columns);
    obj.text_columns === null ? (values.text_columns = null)
      : Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === 'string') ? (values.text_columns = c as string[]) : bad('text_columns', 'expected column names');
  }
  if (has('label_column')) obj.label_column === null || typeof obj.label_column === 'string' ? (values.label_column = obj.label_column as string | null) : bad('label_column', 'expected a column name');
  return { values, raw: obj, problems };
}

/**
 * The file text after applying `patch`: patched keys are set (or removed when set to null and the engine's default
 * is null), every other key is kept in place. `text` null or empty starts from NEW_FILE. Throws if `text` is not a
 * JSON object (the caller shows the problem instead of overwriting the user's file).
 */
export function applyPatch(text: string | null, patch: ExperimentPatch): string {
  let obj: Record<string, unknown>;
  if (text === null || text.trim() === '') obj = structuredClone(NEW_FILE);
  else {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the experiment file does not hold a JSON object');
    obj = parsed as Record<string, unknown>;
  }
  for (const key of EXPERIMENT_FIELDS) {
    if (!Object.prototype.hasOwnProperty.call(patch, key)) continue;
    const value = patch[key];
    if (value === undefined) continue;
    if (value === null && NULLABLE.has(key)) delete obj[key];
    else obj[key] = value;
  }
  return JSON.stringify(obj, null, 2) + '\n';
}

export function isGlueTask(task: string): boolean {
  return (GLUE_TASKS as readonly string[]).includes(task);
}
