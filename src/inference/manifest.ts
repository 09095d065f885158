// The manifest `ladderlab export` writes next to model.onnx (engine/src/ladderlab/export.py): what the graph
// expects and what its outputs mean. Read with clear errors, since the folder may be hand-edited or damaged.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 1;

export interface ExportManifest {
  format_version: number;
  run: string;
  method: string;
  backbone: string;
  task: string;
  labels: string[] | null; // class names in logit order; null = regression (one score)
  regression: boolean;
  pair: boolean; // the task reads two texts
  max_length: number;
  inputs: string[]; // graph input names, e.g. input_ids, attention_mask, token_type_ids
  outputs: string[]; // ["logits"]
  opset: number;
  model: string; // file name of the graph inside the export folder
  tokenizer: string; // tokenizer.json (tokenizer_config.json lies next to it)
}

const INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids']);

export class ExportError extends Error {}

export async function readManifest(exportDir: string): Promise<ExportManifest> {
  const file = path.join(exportDir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ExportError(
      missing
        ? `${file} not found: this run has not been exported yet. Export it (ladderlab export RUN_DIR).`
        : `${file} is not valid JSON (${(e as Error).message}). Export the run again.`,
    );
  }
  return checkManifest(raw, file);
}

export function checkManifest(raw: unknown, file: string): ExportManifest {
  const m = raw as Partial<ExportManifest> | null;
  const bad = (field: string, want: string) =>
    new ExportError(`${file}: "${field}" must be ${want}. Export the run again.`);
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    throw new ExportError(`${file} is not a JSON object. Export the run again.`);
  if (m.format_version !== MANIFEST_VERSION)
    throw bad('format_version', `${MANIFEST_VERSION} (this extension's export format)`);
  if (typeof m.regression !== 'boolean') throw bad('regression', 'true or false');
  if (
    m.regression
      ? m.labels !== null
      : !(Array.isArray(m.labels) && m.labels.length >= 2 && m.labels.every((l) => typeof l === 'string'))
  )
    throw bad('labels', m.regression ? 'null for a regression task' : 'a list of at least 2 class names');
  if (typeof m.pair !== 'boolean') throw bad('pair', 'true or false');
  if (!Number.isInteger(m.max_length) || (m.max_length as number) < 3)
    throw bad('max_length', 'an integer of at least 3');
  if (!Array.isArray(m.inputs) || !m.inputs.includes('input_ids') || !m.inputs.every((n) => INPUTS.has(n)))
    throw bad('inputs', 'a list of input_ids, attention_mask, token_type_ids');
  if (!Array.isArray(m.outputs) || m.outputs.length !== 1 || typeof m.outputs[0] !== 'string')
    throw bad('outputs', 'one output name');
  for (const key of ['model', 'tokenizer'] as const) {
    const v = m[key];
    // A file name inside the export folder, never a path that leaves it.
    if (typeof v !== 'string' || v !== path.basename(v) || v.startsWith('.'))
      throw bad(key, 'a file name inside the export folder');
  }
  for (const key of ['run', 'method', 'backbone', 'task'] as const)
    if (typeof m[key] !== 'string') throw bad(key, 'a string');
  return m as ExportManifest;
}
