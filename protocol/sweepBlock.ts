// The Experiment form's "sweep this": a file's `sweep` block (engine/src/ladderlab/sweep/spec.py) seen as one list of
// values per field plus a number of seeds, and written back. Pure (no vscode, no DOM). A field that applies to some
// methods only (r, lora_rank, adapter_size: its declaration's `methods`) goes to `per_method.<method>` for each chosen
// method it applies to, the others to `grid`; the engine expands, counts and has the last word (`ladderlab sweep
// plan`), this module only checks each value by its field's own declaration, as the engine does first.
import {
  FORM_FIELDS,
  SWEEP_KEY,
  fieldSpec,
  parseFieldText,
  valueProblem,
  type ExperimentValues,
  type FieldError,
  type FieldSpec,
} from './experiment';
import { backboneProblems, type BackboneShape } from './backboneRules';
import { parseHubId } from './hubCache';

export interface SweepBlock {
  grid?: Record<string, unknown[]>;
  per_method?: Record<string, Record<string, unknown[]>>;
  seeds?: number[];
  max_trials?: number;
  [key: string]: unknown; // the engine's other keys (early_stopping, ...): kept as the file has them
}

/** What the form shows of a block: each swept field's values (once, whatever methods it goes to) and the seeds. */
export interface SweepControls {
  fields: Record<string, unknown[]>;
  seeds: number[]; // [] = the file's own seed, once
  /** The block's keys the form does not edit (max_trials, early_stopping, ...): written back as they are; the
   * engine checks them (and names max_trials when the grid outgrows it). */
  kept?: Record<string, unknown>;
  /** Why the form cannot edit this block (it shows it and leaves it as it is: the file is the user's). */
  unsupported?: string;
}

/** spec.py's OWN_KEYS: fields the grid refuses, varied by their own sweep keys (seeds, the file's methods); and
 * on_failure, which a trial (one method) never reads. */
const OWN_KEYS = new Set(['seed', 'methods', 'on_failure']);
/** Most values one field may list, and most seeds (beyond that, edit the file: the form is not a grid editor). */
export const MAX_SWEEP_VALUES = 32;
export const MAX_SEEDS = 20;

/** A built-in backbone as a value: the embedded one, or a preset (random init). */
export const BUILT_IN_BACKBONE = /^(default|preset:[a-z0-9][a-z0-9-]{0,39})$/;

/** A backbone the form's sweep may list: a built-in one, or a hub id (the engine finds it in the Hugging Face cache;
 * an id names no path outside the file's folder: no "..", never absolute). Folders are swept in the file. */
export function isListableBackbone(value: string): boolean {
  return BUILT_IN_BACKBONE.test(value) || parseHubId(value) !== null;
}

/** The fields the form can sweep: numbers and choices ("sweep this" beside their control); the backbone is a choice
 * too (its picker), among the built-in ones and hub ids: a checkpoint folder is swept by editing the file, where
 * paths are the user's own. */
export const SWEEP_FIELDS: readonly FieldSpec[] = FORM_FIELDS.filter(
  (f) =>
    f.name === 'backbone' ||
    (!OWN_KEYS.has(f.name) &&
      !f.path &&
      (f.kind === 'int' ||
        f.kind === 'number' ||
        f.kind === 'enum' ||
        (f.kind === 'string' && (f.choices !== undefined || f.suggestions !== undefined)))),
);
/** The block's keys the form edits; the others are kept as they are. */
const EDITED_KEYS = ['grid', 'per_method', 'seeds'];
const SWEEPABLE = new Map(SWEEP_FIELDS.map((f) => [f.name as string, f]));

export function isSweepable(name: string): boolean {
  return SWEEPABLE.has(name);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A file's `sweep` value as the form's controls; null when the file has none. */
export function blockToControls(block: unknown): SweepControls | null {
  if (block === undefined) return null;
  const controls: SweepControls = { fields: {}, seeds: [] };
  const refuse = (why: string): SweepControls => ({ ...controls, unsupported: why });
  if (!isRecord(block)) return refuse('the sweep block is not an object');
  const take = (where: string, grid: unknown): string | undefined => {
    if (!isRecord(grid)) return `${where} is not an object of field -> list of values`;
    for (const [name, values] of Object.entries(grid)) {
      if (!SWEEPABLE.has(name)) return `the form cannot sweep ${where}.${name}`;
      if (!Array.isArray(values)) return `${where}.${name} is not a list`;
      const had = controls.fields[name];
      if (had !== undefined && !same(had, values)) return `${name} has different values per method`;
      controls.fields[name] = [...(values as unknown[])];
    }
    return undefined;
  };
  const grid = block.grid === undefined ? undefined : take('sweep.grid', block.grid);
  if (grid) return refuse(grid);
  if (block.per_method !== undefined) {
    if (!isRecord(block.per_method)) return refuse('sweep.per_method is not an object');
    for (const [method, sub] of Object.entries(block.per_method)) {
      const why = take(`sweep.per_method.${method}`, sub);
      if (why) return refuse(why);
    }
  }
  const seeds = block.seeds;
  if (seeds !== undefined) {
    if (!Array.isArray(seeds) || !seeds.every((s) => Number.isSafeInteger(s)))
      return refuse('sweep.seeds is not a list of whole numbers');
    controls.seeds = [...(seeds as number[])];
  }
  const kept = Object.entries(block).filter(([k]) => !EDITED_KEYS.includes(k));
  if (kept.length) controls.kept = Object.fromEntries(kept);
  return controls;
}

/**
 * The block the controls stand for with these methods, or null: nothing swept and one seed (the file then has no
 * sweep block). A method-specific field goes to per_method of each chosen method it applies to; when none of them
 * uses it, to the grid, where the engine says which method to add.
 */
export function controlsToBlock(c: SweepControls, methods: readonly string[]): SweepBlock | null {
  const grid: Record<string, unknown[]> = {};
  const perMethod: Record<string, Record<string, unknown[]>> = {};
  for (const [name, values] of Object.entries(c.fields)) {
    const users = (fieldSpec(name)?.methods ?? []).filter((m) => methods.includes(m));
    if (fieldSpec(name)?.methods === undefined || users.length === 0) grid[name] = [...values];
    else for (const m of users) (perMethod[m] ??= {})[name] = [...values];
  }
  if (Object.keys(c.fields).length === 0 && c.seeds.length <= 1) return null;
  const block: SweepBlock = {};
  if (Object.keys(grid).length) block.grid = grid;
  // in the file's order of methods, as the engine expands them
  const ordered = methods.filter((m) => m in perMethod);
  if (ordered.length) block.per_method = Object.fromEntries(ordered.map((m) => [m, perMethod[m]]));
  if (c.seeds.length) block.seeds = [...c.seeds];
  return { ...block, ...c.kept };
  return block;
}

/** The controls with one field swept over `values`, or no longer swept (null). */
export function withField(c: SweepControls, name: string, values: readonly unknown[] | null): SweepControls {
  const fields = { ...c.fields };
  if (values === null) delete fields[name];
  else fields[name] = [...values];
  return { ...c, fields };
}

/** The controls with `count` seeds: the block's own first ones, then the next numbers (from the file's seed when
 * the block has none); one seed is the file's own (no `seeds` key). */
export function withSeedCount(c: SweepControls, count: number, fileSeed: number): SweepControls {
  if (count <= 1) return { ...c, seeds: [] };
  const seeds = c.seeds.slice(0, count);
  for (let s = seeds.length ? Math.max(...seeds) + 1 : fileSeed; seeds.length < count; s++) seeds.push(s);
  return { ...c, seeds };
}

/** What is wrong with one field's list of sweep values, in words that say what to fix; undefined when fine. */
export function sweepValuesProblem(spec: FieldSpec, values: readonly unknown[]): string | undefined {
  if (values.length === 0) return `give ${spec.name} one or more values to sweep, or turn "sweep" off`;
  if (values.length > MAX_SWEEP_VALUES) return `at most ${MAX_SWEEP_VALUES} values (edit the file for more)`;
  const texts = values.map((v) => JSON.stringify(v));
  const twice = texts.find((t, i) => texts.indexOf(t) !== i);
  if (twice !== undefined) return `lists ${twice} twice; list each value once`;
  for (const v of values) {
    const problem = v === null ? 'a sweep value cannot be empty' : valueProblem(spec, v);
    if (problem) return `${String(JSON.stringify(v))}: ${problem}`;
  }
  return undefined;
}

/** Each swept field's problem, named as the form names the field (its error shows beside its control). */
export function sweepProblems(c: SweepControls): FieldError[] {
  const errors: FieldError[] = [];
  for (const [name, values] of Object.entries(c.fields)) {
    const spec = SWEEPABLE.get(name);
    const problem = spec && sweepValuesProblem(spec, values);
    if (problem) errors.push({ field: name, message: `${name} (sweep): ${problem}` });
  }
  if (new Set(c.seeds).size !== c.seeds.length || c.seeds.some((s) => s < 0))
    errors.push({ field: 'seed', message: `sweep seeds: ${c.seeds.join(', ')} must be distinct whole numbers` });
  return errors;
}

/** The rules that need the backbone's shape (protocol/backboneRules.ts), for each swept value in turn: an r that
 * does not divide the width is named beside r before the engine is asked. */
export function sweepBackboneProblems(
  c: SweepControls,
  values: ExperimentValues,
  shape: BackboneShape | null,
): FieldError[] {
  if (!shape) return [];
  const errors: FieldError[] = [];
  for (const [name, list] of Object.entries(c.fields)) {
    for (const v of list) {
      const problem = backboneProblems({ ...values, [name]: v }, shape).find((p) => p.field === name);
      if (problem) {
        errors.push({ field: name, message: `${name} (sweep): ${problem.message}; ${problem.hint}` });
        break;
      }
    }
  }
  return errors;
}

/** A list editor's text ("4, 8, 16") as values of the field, each item parsed as the field's own control parses it. */
export function parseSweepText(spec: FieldSpec, text: string): { values: unknown[] } | { error: string } {
  const values: unknown[] = [];
  for (const item of text.split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const parsed = parseFieldText(spec, item);
    if ('error' in parsed) return { error: `${spec.label}: ${parsed.error}` };
    if (spec.name === 'backbone' && !isListableBackbone(String(parsed.value)))
      return {
        error: `${spec.label}: list default or preset:NAME (or a hub id, org/name) here, got "${item}"; sweep folders in the file`,
      };
    values.push(parsed.value);
  }
  const problem = sweepValuesProblem(spec, values);
  return problem ? { error: `${spec.label}: ${problem}` } : { values };
}

/** The file text with its `sweep` block set to `block` (null removes it), every other key kept in place. Throws if
 * `text` is not a JSON object (the caller shows the problem instead of overwriting the user's file). */
export function applySweepBlock(text: string, block: SweepBlock | null): string {
  const obj = JSON.parse(text) as unknown;
  if (!isRecord(obj)) throw new Error('the experiment file does not hold a JSON object');
  if (block === null) delete obj[SWEEP_KEY];
  else obj[SWEEP_KEY] = block;
  return `${JSON.stringify(obj, null, 2)}\n`;
}
