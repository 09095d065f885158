// What the form needs to know about a backbone: its layer count (for the visual ladder) and hidden size (for the
// side width hint). Presets mirror engine/src/ladderlab/backbones.py; folders are read from their config.json.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { BackboneInfo } from '../../protocol/webviews/experiment';

/** preset name -> [family, layers, hidden], as in the engine's PRESETS. */
export const PRESETS: Record<string, [family: string, layers: number, hidden: number]> = {
  't5-small': ['t5', 6, 512],
  't5-base': ['t5', 12, 768],
  't5-large': ['t5', 24, 1024],
  't5-3b': ['t5', 24, 1024],
  'bert-base': ['bert', 12, 768],
  gpt2: ['gpt2', 12, 768],
  'bert-tiny': ['bert', 4, 64],
  't5-tiny': ['t5', 4, 64],
  'gpt2-tiny': ['gpt2', 4, 64],
};

/** The embedded default: all-MiniLM-L6-v2 (6-layer BERT, hidden 384). */
export const DEFAULT_BACKBONE: BackboneInfo = {
  layers: 6,
  hidden: 384,
  family: 'bert',
  label: 'all-MiniLM-L6-v2: 6 layers, hidden 384 (built in)',
};

const first = (cfg: Record<string, unknown>, keys: string[]): number | null => {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 10_000) return v;
  }
  return null;
};

/** Layer count and width from a Hugging Face config.json object (BERT, T5, GPT-2 naming). */
export function infoFromConfig(cfg: Record<string, unknown>, where: string): BackboneInfo {
  const layers = first(cfg, ['num_hidden_layers', 'num_layers', 'n_layer']);
  const hidden = first(cfg, ['hidden_size', 'd_model', 'n_embd']);
  const family = typeof cfg.model_type === 'string' ? cfg.model_type.slice(0, 40) : null;
  const label =
    layers === null
      ? `${where}: config.json names no layer count`
      : `${where}: ${family ?? 'model'}, ${layers} layers${hidden ? `, hidden ${hidden}` : ''}`;
  return { layers, hidden, family, label };
}

export async function backboneInfo(backbone: string, resolveFolder: (p: string) => string): Promise<BackboneInfo> {
  if (backbone === 'default') return DEFAULT_BACKBONE;
  if (backbone.startsWith('preset:')) {
    const name = backbone.slice('preset:'.length);
    const p = PRESETS[name];
    return p
      ? {
          layers: p[1],
          hidden: p[2],
          family: p[0],
          label: `preset ${name}: ${p[0]}, ${p[1]} layers, hidden ${p[2]} (random init)`,
        }
      : { layers: null, hidden: null, family: null, label: `unknown preset ${name}` };
  }
  const folder = resolveFolder(backbone);
  try {
    const text = await readFile(path.join(folder, 'config.json'), 'utf8');
    const cfg = JSON.parse(text) as unknown;
    if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new Error('not an object');
    return infoFromConfig(cfg as Record<string, unknown>, path.basename(folder));
  } catch {
    return { layers: null, hidden: null, family: null, label: `${path.basename(folder)}: no readable config.json` };
  }
}
