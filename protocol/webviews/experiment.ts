// The sidebar Experiment view's messages, and the validator of the patches its form sends. The fields, their types
// and limits come from the engine's declarations (protocol/experimentFields.ts, through protocol/experiment.ts).
import {
  FORM_FIELDS,
  valueProblem,
  type ExperimentPatch,
  type ExperimentValues,
  type FieldError,
  type FieldSpec,
} from '../experiment';
import type { BackboneShape } from '../backboneRules';
import type { CachedChoice } from '../hubCache';
import { MAX_SEEDS, isListableBackbone, isSweepable, sweepValuesProblem } from '../sweepBlock';
import { isRecord, isSafePathString, own, typeOf, type Channel, type Obj } from './common';

export const ExperimentMessages = {
  // webview -> host
  ready: 'experiment/ready',
  update: 'experiment/update', // { patch }: change fields of the experiment file
  pickBackboneFolder: 'experiment/pickBackboneFolder', // open a folder dialog for the backbone
  pickData: 'experiment/pickData', // { kind: 'folder' | 'file' }: open a dialog for the task's data
  run: 'experiment/run', // start the comparison the file describes
  openFile: 'experiment/openFile', // show the experiment file in an editor
  sweepField: 'experiment/sweepField', // { field, values }: sweep a field over values (null: no longer swept)
  sweepSeeds: 'experiment/sweepSeeds', // { count }: how many seeds each grid point trains with
  // host -> webview
  state: 'experiment/state',
} as const;

export interface BackboneInfo {
  layers: number | null; // per stack; null when unknown (folder without a readable config.json)
  hidden: number | null;
  family: string | null; // bert, t5, gpt2, ...
  label: string;
  shape: BackboneShape | null; // what LST's rules need (protocol/backboneRules.ts); null = unknown, not checked
}

export interface ExperimentState {
  file: string | null; // the experiment file, relative to the workspace; null = none yet (the first edit creates one)
  values: ExperimentValues; // the file's valid values, the engine's defaults for the rest
  shown: Record<string, unknown>; // every field as the file writes it, invalid values too: what the form shows
  backbone: BackboneInfo;
  presets: string[];
  cached: CachedChoice[]; // the Hugging Face cache's models a family trains (protocol/hubCache.ts), for the picker
  backboneIsHubId: boolean; // the backbone is read as a hub id (no folder by that name), not a folder
  problems: string[]; // e.g. "the file is not valid JSON": the form is read-only until fixed
  errors: FieldError[]; // what the engine would refuse (a bad value, r not dividing the width, ...): Run is disabled
  running: boolean; // a session is starting/running: the Run button is disabled
  sweep: SweepState | null; // the file's sweep block as the form shows it; null = none
}

/** A trial of the plan (`ladderlab sweep plan --json`), with what the host knows of its cost. */
export interface PlannedTrial {
  trial_id: string;
  method: string;
  point: Record<string, unknown>;
  seed: number;
  peak_bytes?: number; // the engine's estimate (absent until it has answered)
  total_steps?: number | null; // its training steps (null: the data could not be read)
  seconds?: number | null; // estimated duration from earlier runs (null: no earlier run to measure)
}

export interface SweepState {
  fields: Record<string, unknown[]>; // swept field -> its values (protocol/sweepBlock.ts)
  seeds: number; // how many seeds each point trains with
  unsupported?: string; // the form cannot edit the file's block: shown, left as it is
  plan:
    | { status: 'waiting'; note: string } // not asked: the file has errors to fix first, or the engine is not ready
    | { status: 'planning' }
    | { status: 'refused'; message: string } // the engine's refusal, also one of `errors` (Run disabled)
    | {
        status: 'planned';
        count: number;
        trials: PlannedTrial[];
        estimating: boolean; // the memory estimate is still running
        estimateError?: string;
        totalSeconds: number | null; // the whole sweep, trials one after another; null = unknown
        timeNote: string; // how the time was estimated, or why it is unknown
      };
}

export type ExperimentToWebview = { type: typeof ExperimentMessages.state; state: ExperimentState };
export type ExperimentFromWebview =
  | { type: typeof ExperimentMessages.ready }
  | { type: typeof ExperimentMessages.update; patch: ExperimentPatch }
  | { type: typeof ExperimentMessages.pickBackboneFolder }
  | { type: typeof ExperimentMessages.pickData; kind: 'folder' | 'file' }
  | { type: typeof ExperimentMessages.run }
  | { type: typeof ExperimentMessages.openFile }
  | { type: typeof ExperimentMessages.sweepField; field: string; values: unknown[] | null }
  | { type: typeof ExperimentMessages.sweepSeeds; count: number };
export type ExperimentChannel = Channel<ExperimentToWebview, ExperimentFromWebview>;

// ---------------------------------------------------------------------------------------------------------------
// Validators for what the Experiment view sends

const PRESET = /^preset:[a-z0-9][a-z0-9-]{0,39}$/;
// A column or module name: no control characters, no commas (lists are comma-separated in the form), bounded.
// eslint-disable-next-line no-control-regex
const NAME = /^[^\u0000-\u001f\u007f,]{1,200}$/;
const FORM_SPEC = new Map<string, FieldSpec>(FORM_FIELDS.map((f) => [f.name, f]));

/**
 * A value the form may write for this field: what the engine accepts (the field's type, range and choices), and
 * no more than the form can produce: paths without control characters (the host checks where they lead), names
 * without commas, a free string only among the values the form offers, null only where null is the field's default.
 */
function acceptable(spec: FieldSpec, v: unknown): boolean {
  if (v === null) return spec.nullable;
  if (valueProblem(spec, v) !== undefined) return false;
  if (spec.name === 'backbone')
    return (
      v === 'default' || (typeof v === 'string' && (v.startsWith('preset:') ? PRESET.test(v) : isSafePathString(v)))
    );
  if (spec.path) return isSafePathString(v);
  if (spec.kind === 'string' && !spec.pattern && spec.suggestions) return spec.suggestions.includes(v as string);
  if (spec.kind === 'string' || spec.kind === 'stringList')
    return (spec.kind === 'string' ? [v] : (v as unknown[])).every((x) => NAME.test(x as string));
  return true;
}

/** A patch of experiment fields, copied into a fresh object; undefined if any key is unknown or any value bad. */
export function parseExperimentPatch(raw: unknown): ExperimentPatch | undefined {
  if (!isRecord(raw)) return undefined;
  const keys = Object.keys(raw);
  if (keys.length === 0 || keys.length > FORM_SPEC.size) return undefined;
  const patch: Obj = {};
  for (const key of keys) {
    const spec = FORM_SPEC.get(key); // a Map: "__proto__" and friends are just unknown keys
    const value = raw[key];
    if (!spec || !acceptable(spec, value)) return undefined;
    patch[key] = Array.isArray(value) ? [...(value as unknown[])] : isRecord(value) ? { ...value } : value;
  }
  return patch;
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
    case ExperimentMessages.sweepField: {
      const field = own(msg, 'field');
      const values = own(msg, 'values');
      if (typeof field !== 'string' || !isSweepable(field)) return undefined;
      const spec = FORM_SPEC.get(field);
      if (!spec) return undefined;
      if (values === null) return { type, field, values: null };
      // a path in a list would pass by the host's path rule (acceptPaths): backbones are built-in ones or hub ids
      const ok =
        Array.isArray(values) &&
        sweepValuesProblem(spec, values) === undefined &&
        values.every((v) => acceptable(spec, v) && (field !== 'backbone' || isListableBackbone(v as string)));
      return ok ? { type, field, values: [...(values as unknown[])] } : undefined;
    }
    case ExperimentMessages.sweepSeeds: {
      const count = own(msg, 'count');
      return Number.isSafeInteger(count) && (count as number) >= 1 && (count as number) <= MAX_SEEDS
        ? { type, count: count as number }
        : undefined;
    }
    case ExperimentMessages.pickData: {
      const kind = own(msg, 'kind');
      return kind === 'folder' || kind === 'file' ? { type, kind } : undefined;
    }
    default:
      return undefined;
  }
}
