// What a run is called everywhere (Results table and scatter, Runs tree, run pickers, Try Model, CodeLens): the
// method's name, its identity settings, and the settings that set it apart from the other runs on screen. Made from
// the field declarations (config.py -> experimentFields.ts): a field's `short` names it in labels, and a field with
// `short` and `methods` is part of those methods' identity. Nothing here lists fields by hand. Pure: unit-tested.
import { FIELDS, type FieldSpec } from './experimentFields';

/** A run's config.json: the resolved experiment (every field) plus `method` and the `lr` it trained with. */
export type RunConfig = Readonly<Record<string, unknown>>;

// Groups that never tell two runs apart: which methods ran together and what happens on a failure (the comparison,
// not the run), where runs and checkpoints go (bookkeeping).
const NOT_A_RUN_SETTING = new Set(['methods', 'output']);

/** The fields a label or a Results column may show: run settings, less per-method rates (config.json holds the
 * resolved `lr` of each run, so `lrs` would say the same thing twice). */
export const RUN_SETTINGS: readonly FieldSpec[] = FIELDS.filter(
  (f) => !NOT_A_RUN_SETTING.has(f.group) && f.kind !== 'rates',
);

const METHOD_LABELS: Readonly<Record<string, string>> = FIELDS.find((f) => f.name === 'methods')?.choiceLabels ?? {};

/** "LST (ladder side-tuning)" -> "LST": the method's label from METHOD_TABLE, less its explanation. */
export function methodName(method: string): string {
  const label = METHOD_LABELS[method];
  return label ? label.replace(/\s*\(.*\)$/, '') : method;
}

function methodOf(config: RunConfig): string {
  return typeof config.method === 'string' ? config.method : 'unknown';
}

function appliesTo(spec: FieldSpec, method: string): boolean {
  return !spec.methods || spec.methods.includes(method);
}

function isIdentity(spec: FieldSpec, method: string): boolean {
  return spec.short !== undefined && spec.methods !== undefined && spec.methods.includes(method);
}

// An identity field with choices (LST's init, fusion), or a count whose default 0 leaves the method as it is (the
// baselines' freeze_layers), names a variant of the method, and its default is the method as the paper defines it:
// "LST r=8" rather than "LST r=8 · init fisher · fusion gates", "LoRA rank 32" rather than "· frozen 0". It is shown
// when set to another value (or when it differs among the runs shown), so every variant still reads distinctly.
function isDefaultVariant(spec: FieldSpec, v: unknown): boolean {
  return (spec.kind === 'enum' || spec.default === 0) && v === spec.default;
}

function numberText(v: number): string {
  // Learning rates read as the papers write them (1e-3, 3e-4); other numbers as they are.
  if (!Number.isInteger(v) && Math.abs(v) < 0.01 && v !== 0) return v.toExponential();
  return String(v);
}

/** A setting's value as labels and table cells show it; keep_layers stays 0-based, as in the file. */
export function settingText(spec: FieldSpec, v: unknown): string {
  if (v === null || v === undefined) return spec.nullMeans ?? '—';
  if (typeof v === 'number') return numberText(v);
  if (Array.isArray(v))
    return v
      .map((x) => (typeof x === 'number' ? numberText(x) : typeof x === 'string' ? x : JSON.stringify(x)))
      .join(',');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** "r=16" for a one-letter name (as the paper writes r), "layers 1,3" otherwise; unnamed fields by their label. */
function part(spec: FieldSpec, v: unknown): string {
  const text = settingText(spec, v);
  if (spec.short === undefined) return `${spec.label.toLowerCase()} ${text}`;
  return spec.short.length === 1 ? `${spec.short}=${text}` : `${spec.short} ${text}`;
}

const key = (v: unknown) => JSON.stringify(v ?? null);

/** The settings whose values differ among these runs (compared only among the runs each setting applies to). */
export function differingSettings(configs: readonly RunConfig[]): FieldSpec[] {
  return RUN_SETTINGS.filter((spec) => {
    const values = new Set(configs.filter((c) => appliesTo(spec, methodOf(c))).map((c) => key(c[spec.name])));
    return values.size > 1;
  });
}

/**
 * "LST r=16 · layers 1,3,4,5", "LoRA rank 8 · lr 1e-3". The method's identity settings always; any other setting
 * when it differs among the runs of the same method in `among` (the runs shown together; default: this run alone).
 */
export function runLabel(config: RunConfig, among: readonly RunConfig[] = [config]): string {
  const method = methodOf(config);
  const peers = among.filter((c) => methodOf(c) === method);
  const differing = new Set(differingSettings(peers.includes(config) ? peers : [...peers, config]).map((s) => s.name));
  const parts: string[] = [];
  for (const spec of RUN_SETTINGS) {
    if (!appliesTo(spec, method)) continue;
    const v = config[spec.name];
    const identity = isIdentity(spec, method) && v !== null && v !== undefined && !isDefaultVariant(spec, v);
    if (identity || differing.has(spec.name)) parts.push(part(spec, v));
  }
  return [methodName(method), parts.join(' · ')].filter(Boolean).join(' ');
}

/** Where a run came from, as newer engines record it in config.json: the experiment file (absolute path) it was
 * started from, if any, and the comparison (one engine invocation; its methods share the id) it was part of. */
export function runOrigin(config: RunConfig | null | undefined): { experimentFile?: string; comparison?: string } {
  const file = config?.experiment_file;
  const comparison = config?.comparison;
  return {
    ...(typeof file === 'string' && file ? { experimentFile: file } : {}),
    ...(typeof comparison === 'string' && comparison ? { comparison } : {}),
  };
}
