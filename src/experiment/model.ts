// The experiment file (*.ladder.json) <-> a form model. Pure: no vscode, no fs.
// Field names, defaults and checks mirror the engine's Experiment dataclass (engine/src/ladderlab/config.py);
// test/unit/experiment-schema.test.ts reads that file and fails if the two drift apart.

export const METHODS = ['lst', 'lora', 'adapter', 'bitfit', 'prompt', 'full'] as const;
export const INITS = ['fisher', 'magnitude', 'random'] as const;
export const PRECISIONS = ['fp32', 'bf16'] as const;
export const TASKS = ['sst2', 'mnli', 'qnli', 'qqp', 'rte', 'mrpc', 'cola', 'stsb', 'imdb', 'file'] as const;
/** The paper's learning rates (Table 5), used by the engine when neither lr nor lrs names a method. */
export const DEFAULT_LR: Record<string, number> = { full: 3e-4, adapter: 3e-4, lora: 3e-4, bitfit: 3e-4, prompt: 3e-1, lst: 3e-3 };

/** How a field is typed in the file and spelled in a form input. */
export type FieldKind = 'string' | 'enum' | 'int' | 'number' | 'stringList' | 'intList' | 'rates';

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  default: unknown; // the engine's default; null = "decided by the engine" (shown as a placeholder)
  choices?: readonly string[]; // enum values, or the allowed items of a list
  min?: number;
  max?: number;
}

const f = (name: string, kind: FieldKind, dflt: unknown, extra: Partial<FieldSpec> = {}): FieldSpec => ({ name, kind, default: dflt, ...extra });

/** Every field of the engine's Experiment, in its order. */
export const FIELDS: readonly FieldSpec[] = [
  f('backbone', 'string', 'default'),
  f('task', 'string', 'sst2', { choices: TASKS }),
  f('data', 'string', null),
  f('methods', 'stringList', ['lst'], { choices: METHODS }),
  f('r', 'int', 8, { min: 2, max: 64 }),
  f('keep_layers', 'intList', null, { min: 0 }),
  f('init', 'enum', 'fisher', { choices: INITS }),
  f('fisher_samples', 'int', 128, { min: 1 }),
  f('side_heads', 'int', null, { min: 1 }),
  f('side_attention', 'enum', 'sdpa', { choices: ['sdpa', 'eager'] }),
  f('backbone_mode', 'enum', 'no_grad', { choices: ['no_grad', 'inference'] }),
  f('backbone_dtype', 'enum', 'fp32', { choices: ['fp32', 'bf16'] }),
  f('tap_dtype', 'enum', 'fp32', { choices: ['fp32', 'bf16'] }),
  f('tap_cache', 'enum', 'off', { choices: ['off', 'cpu'] }),
  f('lora_rank', 'int', 32, { min: 1 }),
  f('lora_alpha', 'int', 32),
  f('lora_targets', 'stringList', null),
  f('adapter_size', 'int', 48, { min: 1 }),
  f('prompt_tokens', 'int', 100, { min: 1 }),
  f('epochs', 'int', 3, { min: 1 }),
  f('batch_size', 'int', 16, { min: 1 }),
  f('eval_batch_size', 'int', null, { min: 1 }),
  f('lr', 'number', null),
  f('lrs', 'rates', null),
  f('warmup_ratio', 'number', 0.06, { min: 0 }),
  f('weight_decay', 'number', 0.0),
  f('max_grad_norm', 'number', 1.0),
  f('max_train_examples', 'int', null, { min: 1 }),
  f('max_eval_examples', 'int', null, { min: 1 }),
  f('max_length', 'int', 128, { min: 1, max: 4096 }),
  f('device', 'string', 'auto'),
  f('precision', 'enum', 'fp32', { choices: PRECISIONS }),
  f('seed', 'int', 42),
  f('checkpoint_every', 'int', 100, { min: 0 }),
  f('runs_dir', 'string', '.ladderlab/runs'),
  f('text_columns', 'stringList', null),
  f('label_column', 'string', null),
];

export const FIELD_NAMES: readonly string[] = FIELDS.map((x) => x.name);
const SPEC = new Map(FIELDS.map((x) => [x.name, x]));

/** Values as they appear in the JSON file (only the fields the file sets). */
export type ExperimentValues = Record<string, unknown>;

export interface FieldError {
  field: string; // a field name, or '' for the file as a whole
  message: string; // names the field, so it reads on its own in a list of problems
}

/** A form: one text per field ('' = not set: the engine's default applies). Lists are comma-separated. */
export interface FormModel {
  values: Record<string, string>;
  /** Keys the engine ignores but editors add ("$schema"), kept so saving the form does not drop them. */
  passthrough: Record<string, unknown>;
}

/** The starter written by "New Experiment": the embedded backbone on IMDB, small enough for a laptop CPU. */
export const STARTER_EXPERIMENT: ExperimentValues = {
  backbone: 'default',
  task: 'imdb',
  methods: ['lst', 'lora'],
  epochs: 1,
  batch_size: 16,
  max_length: 128,
  max_train_examples: 800,
  max_eval_examples: 400,
};

const PASSTHROUGH_KEYS = ['$schema'];

export function parseExperimentText(text: string): { values?: ExperimentValues; errors: FieldError[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { errors: [{ field: '', message: `the file is not valid JSON: ${(e as Error).message}` }] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { errors: [{ field: '', message: 'the file must hold one JSON object of experiment fields' }] };
  }
  const values = raw as ExperimentValues;
  return { values, errors: validateExperiment(values) };
}

/** The engine's checks that need no model or data (config.py `validate`), plus the task/data rules of its loaders. */
export function validateExperiment(values: ExperimentValues): FieldError[] {
  const errors: FieldError[] = [];
  const err = (field: string, message: string) => errors.push({ field, message: `${field}: ${message}` });
  for (const key of Object.keys(values)) {
    if (!SPEC.has(key) && !PASSTHROUGH_KEYS.includes(key)) {
      errors.push({ field: key, message: `unknown field "${key}" (known fields: ${FIELD_NAMES.join(', ')})` });
    }
  }
  for (const spec of FIELDS) {
    const v = values[spec.name];
    if (v === undefined || v === null) continue; // null = the engine's default for every field that allows it
    const problem = typeProblem(spec, v);
    if (problem) err(spec.name, problem);
    else {
      const range = rangeProblem(spec, v);
      if (range) err(spec.name, range);
    }
  }
  if (errors.length) return errors; // the cross-field rules below assume well-typed values
  const get = <T>(name: string) => (values[name] ?? SPEC.get(name)!.default) as T;
  const methods = get<string[]>('methods');
  if (methods.length === 0) err('methods', `choose one or more of ${METHODS.join(', ')}`);
  if (new Set(methods).size !== methods.length) err('methods', `lists a method twice: ${methods.join(', ')}`);
  const keep = get<number[] | null>('keep_layers');
  if (keep) {
    if (keep.length === 0) err('keep_layers', 'is empty; keep at least one side layer, or remove the field to keep all');
    else if (keep.some((x, i) => i > 0 && x <= keep[i - 1])) err('keep_layers', `must be increasing without repeats, got ${keep.join(', ')}`);
  }
  const device = get<string>('device');
  if (!['auto', 'cpu'].includes(device) && !/^cuda(:\d+)?$/.test(device)) err('device', `unknown device "${device}": use auto, cpu, cuda or cuda:N`);
  const task = canonicalTask(get<string>('task'));
  if (!(TASKS as readonly string[]).includes(task)) err('task', `unknown task "${get<string>('task')}"; valid tasks: ${TASKS.join(', ')}`);
  if (task === 'file' && !values.data) err('data', 'task "file" needs a data file (.csv, .tsv or .jsonl)');
  if (task !== 'file' && (values.text_columns || values.label_column)) {
    err(values.text_columns ? 'text_columns' : 'label_column', 'applies to task "file" only');
  }
  return errors;
}

/** 'SST-2', 'sts_b' -> 'sst2', 'stsb': the engine accepts the GLUE folder spellings. */
export function canonicalTask(task: string): string {
  return String(task).trim().toLowerCase().replace(/[-_]/g, '');
}

function typeProblem(spec: FieldSpec, v: unknown): string | undefined {
  const isInt = (x: unknown) => typeof x === 'number' && Number.isInteger(x);
  switch (spec.kind) {
    case 'string':
    case 'enum':
      return typeof v === 'string' ? undefined : `must be a string, got ${JSON.stringify(v)}`;
    case 'int':
      return isInt(v) ? undefined : `must be a whole number, got ${JSON.stringify(v)}`;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : `must be a number, got ${JSON.stringify(v)}`;
    case 'stringList':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : `must be a list of strings, got ${JSON.stringify(v)}`;
    case 'intList':
      return Array.isArray(v) && v.every(isInt) ? undefined : `must be a list of whole numbers, got ${JSON.stringify(v)}`;
    case 'rates':
      return typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((x) => typeof x === 'number')
        ? undefined
        : `must be an object of method -> learning rate, e.g. {"lora": 0.001}, got ${JSON.stringify(v)}`;
  }
}

function rangeProblem(spec: FieldSpec, v: unknown): string | undefined {
  const { name, choices, min, max } = spec;
  if (spec.kind === 'enum' && choices && !choices.includes(v as string)) return `must be one of ${choices.join(', ')}, got "${v}"`;
  if (name === 'methods') {
    const bad = (v as string[]).filter((m) => !(METHODS as readonly string[]).includes(m));
    if (bad.length) return `unknown method(s) ${bad.join(', ')}; choose from ${METHODS.join(', ')}`;
  }
  if (name === 'lr') return rateProblem(v as number);
  if (name === 'lrs') {
    for (const [m, rate] of Object.entries(v as Record<string, number>)) {
      if (!(METHODS as readonly string[]).includes(m)) return `names unknown method "${m}"; choose from ${METHODS.join(', ')}`;
      const p = rateProblem(rate);
      if (p) return `${m}: ${p}`;
    }
  }
  if (name === 'warmup_ratio' && !((v as number) >= 0 && (v as number) < 1)) return `must be in [0, 1), got ${v}`;
  const nums = spec.kind === 'intList' ? (v as number[]) : typeof v === 'number' ? [v] : [];
  for (const x of nums) {
    if (min !== undefined && x < min) return `must be at least ${min}, got ${x}`;
    if (max !== undefined && x > max) return `must be at most ${max}, got ${x}`;
  }
  return undefined;
}

function rateProblem(rate: number): string | undefined {
  return rate > 0 && rate < 10 ? undefined : `a learning rate must be in (0, 10), got ${rate} (typical: 3e-3 for LST, 3e-4 for LoRA)`;
}

// ---- file <-> form ----

export function valuesToForm(values: ExperimentValues): FormModel {
  const form: FormModel = { values: {}, passthrough: {} };
  for (const spec of FIELDS) form.values[spec.name] = toText(spec, values[spec.name]);
  for (const key of PASSTHROUGH_KEYS) if (key in values) form.passthrough[key] = values[key];
  return form;
}

export function fileToForm(text: string): { form?: FormModel; errors: FieldError[] } {
  const { values, errors } = parseExperimentText(text);
  return values ? { form: valuesToForm(values), errors } : { errors };
}

/** Form -> file values (only the fields the form sets), with every problem found. */
export function formToValues(form: FormModel): { values: ExperimentValues; errors: FieldError[] } {
  const values: ExperimentValues = { ...form.passthrough };
  const errors: FieldError[] = [];
  for (const spec of FIELDS) {
    const text = (form.values[spec.name] ?? '').trim();
    if (text === '') continue;
    const parsed = fromText(spec, text);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
      errors.push({ field: spec.name, message: `${spec.name}: ${parsed.error}` });
    } else values[spec.name] = parsed;
  }
  if (errors.length === 0) errors.push(...validateExperiment(values));
  return { values, errors };
}

export function formToFile(form: FormModel): { text: string; errors: FieldError[] } {
  const { values, errors } = formToValues(form);
  return { text: serializeExperiment(values), errors };
}

/** Fields in the engine's order ($schema first), two-space indent, final newline: stable diffs. */
export function serializeExperiment(values: ExperimentValues): string {
  const ordered: ExperimentValues = {};
  for (const key of [...PASSTHROUGH_KEYS, ...FIELD_NAMES]) if (values[key] !== undefined) ordered[key] = values[key];
  for (const key of Object.keys(values)) if (!(key in ordered)) ordered[key] = values[key];
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

function toText(spec: FieldSpec, v: unknown): string {
  if (v === undefined || v === null) return '';
  if (spec.kind === 'rates' && typeof v === 'object') return Object.entries(v as object).map(([k, x]) => `${k}=${x}`).join(',');
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

function fromText(spec: FieldSpec, text: string): unknown {
  const items = () => text.split(',').map((s) => s.trim()).filter(Boolean);
  const int = (s: string) => (/^-?\d+$/.test(s) ? Number(s) : undefined);
  switch (spec.kind) {
    case 'string':
    case 'enum':
      return text;
    case 'int':
      return int(text) ?? { error: `expected a whole number, got "${text}"` };
    case 'number': {
      const n = Number(text);
      return Number.isFinite(n) ? n : { error: `expected a number, got "${text}"` };
    }
    case 'stringList':
      return items();
    case 'intList': {
      const out = items().map(int);
      return out.every((x) => x !== undefined) ? out : { error: `expected comma-separated whole numbers, got "${text}"` };
    }
    case 'rates': {
      const out: Record<string, number> = {};
      for (const part of items()) {
        const [k, x, ...rest] = part.split('=').map((s) => s.trim());
        const n = Number(x);
        if (!k || x === undefined || x === '' || rest.length || !Number.isFinite(n)) {
          return { error: `expected method=rate pairs like lora=1e-3,full=5e-5, got "${part}"` };
        }
        out[k] = n;
      }
      return out;
    }
  }
}

/** The learning rate the engine uses for a method (config.py `lr_for`). */
export function lrFor(values: ExperimentValues, method: string): number {
  const lrs = values.lrs as Record<string, number> | null | undefined;
  if (lrs && method in lrs) return lrs[method];
  return typeof values.lr === 'number' ? values.lr : DEFAULT_LR[method];
}
