// The experiment file (`*.ladder.json`) for the extension and its webviews: parse, validate, patch and write it, and
// the form's texts of a field. Pure (no vscode, no DOM). The facts about each field (kind, default, range, choices,
// label, help) are generated from the engine's Experiment into ./experimentFields.ts; this module only applies them,
// with the same rules as the engine's config.py (lists may be written "1,3,5"; null means the engine's default).
import {
  DEFAULT_LR,
  FIELDS,
  METHODS,
  SAMPLE,
  SAMPLE_TASKS,
  STARTER_EXPERIMENT,
  TASKS,
  type ExperimentValues,
  type FieldSpec,
  type Method,
} from './experimentFields';
import { backboneProblems, type BackboneShape } from './backboneRules';

export * from './experimentFields';

/** What a file sets, as written (only the keys it has). */
export type ExperimentFileValues = Record<string, unknown>;
export type ExperimentPatch = Partial<ExperimentValues>;

export interface FieldError {
  field: string; // a field name, or '' for the file as a whole
  message: string; // starts with the field's name, so it reads on its own in a list of problems
}

export interface ParsedExperiment {
  raw: ExperimentFileValues | null; // the file's object; null when the text is not a JSON object
  values: ExperimentValues; // every field resolved: the file's valid values, the engine's defaults for the rest
  /** Every field as the file writes it (invalid values too), the engine's defaults where the file is silent: what
   * a form shows, so that a bad value is seen and fixed where it is, not replaced by a default. */
  shown: Record<string, unknown>;
  errors: FieldError[]; // what the engine would refuse
}

const FIELD_NAMES: readonly string[] = FIELDS.map((f) => f.name);
const SPEC = new Map<string, FieldSpec>(FIELDS.map((f) => [f.name, f]));
/** Keys that are not fields, kept when the form rewrites the file: `$schema` (editors add it, the engine ignores it)
 * and `sweep` (the grid `ladderlab sweep` runs; engine/src/ladderlab/sweep/spec.py checks it). */
export const SWEEP_KEY = 'sweep';
const PASSTHROUGH_KEYS = ['$schema', SWEEP_KEY];
/** Fields the extension decides itself, never written by the form: runs started from VS Code go to the folder of
 * the ladderLab.runsDir setting, so the Runs view finds them. */
const HOST_OWNED = new Set(['runs_dir']);
/** The fields the Experiment form edits (and a webview may patch). */
export const FORM_FIELDS: readonly FieldSpec[] = FIELDS.filter((f) => !HOST_OWNED.has(f.name));

export function fieldSpec(name: string): FieldSpec | undefined {
  return SPEC.get(name);
}

/** The engine's defaults for every field. */
export const DEFAULTS = Object.fromEntries(FIELDS.map((f) => [f.name, f.default])) as unknown as ExperimentValues;

// ---- checks -----------------------------------------------------------------------------------------------------

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
/** A value as a message shows it, whatever it is (a webview may send anything; BigInt does not stringify). */
function fmt(v: unknown): string {
  try {
    return String(JSON.stringify(v)).slice(0, 80);
  } catch {
    return typeof v;
  }
}

/** What is wrong with one non-null value of a field (type, choices, range, pattern, list length), or undefined. */
export function valueProblem(spec: FieldSpec, v: unknown): string | undefined {
  switch (spec.kind) {
    case 'string':
    case 'enum':
      if (typeof v !== 'string') return `must be a string, got ${fmt(v)}`;
      if (spec.choices && !spec.choices.includes(v)) return `must be one of ${spec.choices.join(', ')}, got "${v}"`;
      if (spec.pattern && !new RegExp(`^(${spec.pattern})$`).test(v))
        return `unknown ${spec.name} "${v}": ${spec.help}`;
      return undefined;
    case 'int':
      return isInt(v) ? rangeProblem(spec, v) : `must be a whole number, got ${fmt(v)}`;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? rangeProblem(spec, v) : `must be a number, got ${fmt(v)}`;
    case 'stringList':
    case 'intList': {
      const ints = spec.kind === 'intList';
      if (!Array.isArray(v) || !v.every((x) => (ints ? isInt(x) : typeof x === 'string'))) {
        return `must be a list of ${ints ? 'whole numbers' : 'strings'}, got ${fmt(v)}`;
      }
      return listProblem(spec, v as (string | number)[]);
    }
    case 'rates':
      if (
        typeof v !== 'object' ||
        v === null ||
        Array.isArray(v) ||
        !Object.values(v).every((x) => typeof x === 'number')
      ) {
        return `must be an object of method -> learning rate, e.g. {"lora": 0.001}, got ${fmt(v)}`;
      }
      for (const [m, rate] of Object.entries(v as Record<string, number>)) {
        if (!(METHODS as readonly string[]).includes(m))
          return `names unknown method "${m}"; choose from ${METHODS.join(', ')}`;
        if (!(rate > 0 && rate < 10))
          return `${m}: must be in (0, 10), got ${rate} (typical: 3e-3 for LST, 3e-4 for LoRA)`;
      }
      return undefined;
  }
}

function listProblem(spec: FieldSpec, list: (string | number)[]): string | undefined {
  const noun = spec.name.endsWith('s') ? spec.name.slice(0, -1) : spec.name;
  if (spec.minItems !== undefined && list.length < spec.minItems) {
    return spec.choices
      ? `is empty; choose one or more of ${spec.choices.join(', ')}`
      : `is empty; give at least ${spec.minItems}, or remove the field (${spec.nullMeans})`;
  }
  if (spec.maxItems !== undefined && list.length > spec.maxItems)
    return `lists ${list.length} items; at most ${spec.maxItems}`;
  if (spec.choices) {
    const bad = list.filter((x) => !spec.choices!.includes(String(x)));
    if (bad.length) return `unknown ${noun}(s) ${bad.join(', ')}; choose from ${spec.choices.join(', ')}`;
  }
  if (spec.unique && new Set(list).size !== list.length) return `lists a ${noun} twice: ${list.join(', ')}`;
  if (spec.increasing && list.some((x, i) => i > 0 && x <= list[i - 1]))
    return `must be increasing without repeats, got ${list.join(', ')}`;
  for (const x of list)
    if (typeof x === 'number') {
      const p = rangeProblem(spec, x);
      if (p) return p;
    }
  return undefined;
}

function rangeProblem(spec: FieldSpec, x: number): string | undefined {
  const { minimum: lo, maximum: hi, exclusiveMinimum: xlo, exclusiveMaximum: xhi } = spec;
  if (xlo !== undefined || xhi !== undefined) {
    const inside =
      (xlo === undefined || x > xlo) &&
      (xhi === undefined || x < xhi) &&
      (lo === undefined || x >= lo) &&
      (hi === undefined || x <= hi);
    const left = xlo !== undefined ? `(${xlo}` : lo !== undefined ? `[${lo}` : '(-inf';
    const right = xhi !== undefined ? `${xhi})` : hi !== undefined ? `${hi}]` : 'inf)';
    return inside ? undefined : `must be in ${left}, ${right}, got ${x}`;
  }
  if (lo !== undefined && x < lo) return `must be at least ${lo}, got ${x}`;
  if (hi !== undefined && x > hi) return `must be at most ${hi}, got ${x}`;
  return undefined;
}

/** The engine's checks that need no model or data (config.py `validate`), each error naming its field. */
export function validateExperiment(values: ExperimentFileValues): FieldError[] {
  const errors: FieldError[] = [];
  const err = (field: string, message: string) => errors.push({ field, message: `${field}: ${message}` });
  for (const key of Object.keys(values)) {
    if (!SPEC.has(key) && !PASSTHROUGH_KEYS.includes(key)) {
      errors.push({ field: key, message: `unknown field "${key}" (known fields: ${FIELD_NAMES.join(', ')})` });
    }
  }
  for (const spec of FIELDS) {
    const v = values[spec.name];
    if (v === undefined || v === null) continue; // null = the engine's default for every field
    const problem = valueProblem(spec, v);
    if (problem) err(spec.name, problem);
  }
  if (errors.length) return errors; // the rules between fields assume well-typed values
  const get = <T>(name: keyof ExperimentValues) => (values[name] ?? DEFAULTS[name]) as T;
  const task = canonicalTask(get<string>('task'));
  if (!(TASKS as readonly string[]).includes(task))
    err('task', `unknown task "${get<string>('task')}"; valid tasks: ${TASKS.join(', ')}`);
  if (task === 'file' && !values.data) err('data', 'task "file" needs a data file (.csv, .tsv or .jsonl)');
  // The engine's words (data/sample.py missing_sample_message; engine/tests/fixtures/sample-rules.json).
  if (values.data === SAMPLE && !SAMPLE_TASKS.includes(task))
    errors.push({
      field: 'data',
      message: `data "${SAMPLE}": task '${task}' has no sample packaged with the engine (samples exist for: ${SAMPLE_TASKS.join(', ')})`,
    });
  if (task !== 'file' && (values.text_columns || values.label_column)) {
    err(values.text_columns ? 'text_columns' : 'label_column', 'applies to task "file" only');
  }
  return errors;
}

/** 'SST-2', 'sts_b' -> 'sst2', 'stsb': the engine accepts the GLUE folder spellings. */
export function canonicalTask(task: string): string {
  return String(task).trim().toLowerCase().replace(/[-_]/g, '');
}

// ---- the file ---------------------------------------------------------------------------------------------------

/** Reads a file's text: the raw object, every field resolved (invalid values fall back to defaults), the errors. */
export function parseExperimentText(text: string): ParsedExperiment {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const message = `the experiment file is not valid JSON (${(e as Error).message}). Fix it in the editor; the form follows.`;
    return { raw: null, values: { ...DEFAULTS }, shown: { ...DEFAULTS }, errors: [{ field: '', message }] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {
      raw: null,
      values: { ...DEFAULTS },
      shown: { ...DEFAULTS },
      errors: [{ field: '', message: 'the file must hold one JSON object of experiment fields' }],
    };
  }
  const obj = raw as ExperimentFileValues;
  const lenient: ExperimentFileValues = {};
  for (const [key, v] of Object.entries(obj)) lenient[key] = splitListText(SPEC.get(key), v);
  const errors = validateExperiment(lenient);
  const bad = new Set(errors.map((e) => e.field));
  const values = { ...DEFAULTS } as Record<string, unknown>;
  const shown = { ...DEFAULTS } as Record<string, unknown>;
  for (const spec of FIELDS) {
    const v = lenient[spec.name];
    if (v === undefined || v === null) continue;
    shown[spec.name] = obj[spec.name]; // as written ("1,3,5" stays text), bad or not
    if (!bad.has(spec.name)) values[spec.name] = v;
  }
  return { raw: obj, values: values as unknown as ExperimentValues, shown, errors };
}

/** "r=5 does not ..." and "keep_layers [6] ..." name their field already. */
const namesField = (message: string, field: string) =>
  message.startsWith(`${field}=`) || message.startsWith(`${field} `);

/**
 * Every error of a parsed file, with the rules that need the backbone's shape (protocol/backboneRules.ts) applied
 * to its valid values: what the engine would refuse, before it is started. `shape` null: the backbone is unknown
 * here (no readable config.json), and the engine has the last word.
 */
export function experimentErrors(parsed: ParsedExperiment, shape: BackboneShape | null): FieldError[] {
  if (parsed.raw === null || shape === null) return parsed.errors;
  const bad = new Set(parsed.errors.map((e) => e.field));
  const rules = backboneProblems(parsed.values, shape).filter((p) => !bad.has(p.field));
  return [
    ...parsed.errors,
    ...rules.map((p) => ({
      field: p.field,
      message: `${namesField(p.message, p.field) ? '' : `${p.field}: `}${p.message}; ${p.hint}`,
    })),
  ];
}

/**
 * Where a top-level key and its value are written in a file's text, as [start, end) offsets (a diagnostic's range);
 * undefined when the key is not there. The text must parse as a JSON object (only such files have field errors).
 */
export function fieldOffsets(text: string, key: string): [number, number] | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(text, i);
      const after = /^\s*:/.exec(text.slice(end, end + 200));
      if (depth === 1 && after && JSON.parse(text.slice(i, end)) === key)
        return [i, valueEnd(text, end + after[0].length)];
      i = end - 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return undefined;
}

/** The offset just past the JSON string that starts at `start` (a quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** The offset just past the JSON value that starts at or after `start` (after white space). */
function valueEnd(text: string, start: number): number {
  let i = start;
  while (/\s/.test(text[i] ?? '')) i++;
  if (text[i] === '"') return stringEnd(text, i);
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '"') i = stringEnd(text, i) - 1;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (depth === 0) break;
      if (--depth === 0) return i + 1;
    } else if (c === ',' && depth === 0) break;
  }
  return text.slice(0, i).trimEnd().length;
}

/** The engine reads "1, 3, 5" for a list field as [1, 3, 5] (config.py build_experiment); so does the form. */
function splitListText(spec: FieldSpec | undefined, v: unknown): unknown {
  if (typeof v !== 'string' || (spec?.kind !== 'stringList' && spec?.kind !== 'intList')) return v;
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return spec.kind === 'intList' ? items.map((s) => (/^-?\d+$/.test(s) ? Number(s) : s)) : items;
}

/**
 * The file text after applying `patch`: patched keys are set (null removes the key: the engine's default), every
 * other key is kept in place. `text` null or empty starts from the starter experiment. Throws if `text` is not a
 * JSON object (the caller shows the problem instead of overwriting the user's file).
 */
export function applyPatch(text: string | null, patch: ExperimentPatch): string {
  let obj: ExperimentFileValues;
  if (text === null || text.trim() === '') obj = structuredClone(STARTER_EXPERIMENT);
  else {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('the experiment file does not hold a JSON object');
    obj = parsed as ExperimentFileValues;
  }
  for (const [key, value] of Object.entries(patch)) {
    if (!SPEC.has(key) || HOST_OWNED.has(key) || value === undefined) continue;
    if (value === null) delete obj[key];
    else obj[key] = value;
  }
  return `${JSON.stringify(obj, null, 2)}\n`;
}

/** A new file's text: fields in the engine's order ($schema first), two-space indent, final newline. */
export function serializeExperiment(values: ExperimentFileValues): string {
  const ordered: ExperimentFileValues = {};
  for (const key of [...PASSTHROUGH_KEYS, ...FIELD_NAMES]) if (values[key] !== undefined) ordered[key] = values[key];
  for (const key of Object.keys(values)) if (!(key in ordered)) ordered[key] = values[key];
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** The learning rate the engine uses for a method (config.py `lr_for`). */
export function lrFor(values: ExperimentFileValues, method: string): number {
  const lrs = values.lrs as Record<string, number> | null | undefined;
  if (lrs && method in lrs) return lrs[method];
  return typeof values.lr === 'number' ? values.lr : DEFAULT_LR[method as Method];
}

// ---- a field as a form's text -----------------------------------------------------------------------------------

/** How a value reads in a text input: lists comma-separated, rates as method=rate; '' = not set. */
export function fieldText(spec: FieldSpec, v: unknown): string {
  if (v === undefined || v === null) return '';
  if (spec.kind === 'rates' && typeof v === 'object')
    return Object.entries(v)
      .map(([k, x]) => `${k}=${String(x)}`)
      .join(',');
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  // A value of the wrong shape (an object for a scalar field) reads as its JSON, not as "[object Object]".
  return JSON.stringify(v);
}

/** A text input's value for a field: { value } (null for '': the engine's default) or { error }. */
export function parseFieldText(spec: FieldSpec, text: string): { value: unknown } | { error: string } {
  const t = text.trim();
  if (t === '') return { value: null };
  const items = () =>
    t
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const int = (s: string) => (/^-?\d+$/.test(s) ? Number(s) : undefined);
  switch (spec.kind) {
    case 'string':
    case 'enum':
      return { value: t };
    case 'int': {
      const n = int(t);
      return n === undefined ? { error: `expected a whole number, got "${t}"` } : { value: n };
    }
    case 'number': {
      const n = Number(t);
      return Number.isFinite(n) ? { value: n } : { error: `expected a number, got "${t}"` };
    }
    case 'stringList':
      return { value: items() };
    case 'intList': {
      const out = items().map(int);
      return out.every((x) => x !== undefined)
        ? { value: out }
        : { error: `expected comma-separated whole numbers, got "${t}"` };
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
      return { value: out };
    }
  }
}
