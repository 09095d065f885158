// What the form and the checks before a run need to know about a backbone: its layer count (for the visual
// ladder), its widths and heads (for LST's r and side_heads: protocol/backboneRules.ts). Presets mirror the engine's
// PRESETS (engine/src/ladderlab/backbones.py; engine/tests/test_backbone_rules.py keeps the two equal); folders are
// read from their config.json, and so are hub ids, from their snapshot in the Hugging Face cache (the engine's
// listing: protocol/hubCache.ts).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { shapeFromConfig } from '../../protocol/backboneRules';
import { cachedModelFor, parseHubId, type CachedModel } from '../../protocol/hubCache';
import type { BackboneInfo } from '../../protocol/webviews/experiment';

// The engine's PRESETS, verbatim between the markers (JSON, read by the engine's test).
// presets-begin
// prettier-ignore
export const PRESETS: Record<string, Record<string, unknown>> = {
  "t5-small": {"model_type": "t5", "d_model": 512, "d_ff": 2048, "d_kv": 64, "num_heads": 8, "num_layers": 6},
  "t5-base": {"model_type": "t5", "d_model": 768, "d_ff": 3072, "d_kv": 64, "num_heads": 12, "num_layers": 12},
  "t5-large": {"model_type": "t5", "d_model": 1024, "d_ff": 4096, "d_kv": 64, "num_heads": 16, "num_layers": 24},
  "t5-3b": {"model_type": "t5", "d_model": 1024, "d_ff": 16384, "d_kv": 128, "num_heads": 32, "num_layers": 24},
  "bert-base": {"model_type": "bert", "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12},
  "gpt2": {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12},
  "llama-3.2-1b": {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072, "head_dim": 64, "tie_word_embeddings": true, "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
  "llama-3.2-3b": {"model_type": "llama", "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 28, "num_attention_heads": 24, "num_key_value_heads": 8, "vocab_size": 128256, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072, "head_dim": 128, "tie_word_embeddings": true, "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
  "llama-3.1-8b": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072, "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
  "llama-70b": {"model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072, "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
  "qwen2.5-7b": {"model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064, "rms_norm_eps": 1e-06, "max_position_embeddings": 131072, "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}},
  "bert-tiny": {"model_type": "bert", "hidden_size": 64, "intermediate_size": 256, "num_attention_heads": 4, "num_hidden_layers": 4},
  "t5-tiny": {"model_type": "t5", "d_model": 64, "d_ff": 256, "d_kv": 16, "num_heads": 4, "num_layers": 4},
  "gpt2-tiny": {"model_type": "gpt2", "n_embd": 64, "n_layer": 4, "n_head": 4},
  "llama-tiny": {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30522, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072},
  "mistral-tiny": {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30522, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072},
  "qwen2-tiny": {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30522, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072},
  "qwen3-tiny": {"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30522, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072, "head_dim": 32},
  "gemma-tiny": {"model_type": "gemma", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30522, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072, "head_dim": 16},
  "gemma2-tiny": {"model_type": "gemma2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30522, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072, "head_dim": 16, "query_pre_attn_scalar": 16},
  "gemma3-tiny": {"model_type": "gemma3_text", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30522, "rms_norm_eps": 1e-05, "max_position_embeddings": 131072, "head_dim": 16, "query_pre_attn_scalar": 16}
};
// presets-end

/** The embedded default's config.json (all-MiniLM-L6-v2: a 6-layer BERT, hidden 384, 12 heads). */
export const DEFAULT_CONFIG = {
  model_type: 'bert',
  hidden_size: 384,
  intermediate_size: 1536,
  num_attention_heads: 12,
  num_hidden_layers: 6,
};

const first = (cfg: Record<string, unknown>, keys: string[]): number | null => {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 10_000) return v;
  }
  return null;
};

/** Layer count, width and shape from a Hugging Face config.json object (BERT, T5, GPT-2 naming); `where` and
 * `suffix` frame the label the form shows. */
export function infoFromConfig(cfg: Record<string, unknown>, where: string, suffix = ''): BackboneInfo {
  const shape = shapeFromConfig(cfg);
  const layers = shape?.layers ?? first(cfg, ['num_hidden_layers', 'num_layers', 'n_layer']);
  const hidden = shape?.widths[0][1] ?? first(cfg, ['hidden_size', 'd_model', 'n_embd']);
  const family = typeof cfg.model_type === 'string' ? cfg.model_type.slice(0, 40) : null;
  const heads = shape ? `, ${shape.heads} heads` : '';
  const label =
    layers === null
      ? `${where}: config.json names no layer count`
      : `${where}: ${family ?? 'model'}, ${layers} layers${hidden ? `, hidden ${hidden}` : ''}${heads}${suffix}`;
  return { layers, hidden, family, label, shape };
}

export const DEFAULT_BACKBONE: BackboneInfo = infoFromConfig(DEFAULT_CONFIG, 'all-MiniLM-L6-v2', ' (built in)');

const unknown = (label: string): BackboneInfo => ({ layers: null, hidden: null, family: null, label, shape: null });

/** What the form and the checks know of `backbone`; `cached` is the engine's listing of the Hugging Face cache
 * (empty where it was not asked: a hub id then has an unknown shape, and the engine checks it at launch). */
export async function backboneInfo(
  backbone: string,
  resolveFolder: (p: string) => string,
  cached: readonly CachedModel[] = [],
): Promise<BackboneInfo> {
  if (backbone === 'default') return DEFAULT_BACKBONE;
  if (backbone.startsWith('preset:')) {
    const name = backbone.slice('preset:'.length);
    const cfg = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
    return cfg ? infoFromConfig(cfg, `preset ${name}`, ' (random init)') : unknown(`unknown preset ${name}`);
  }
  const folder = resolveFolder(backbone);
  if (parseHubId(backbone) !== null && !existsSync(folder)) {
    // A hub id, unless a folder by that name exists (as the engine reads it: pathPolicy.isHubName).
    const model = cachedModelFor(cached, backbone);
    if (!model) return unknown(`${backbone}: not in the Hugging Face cache (the engine says how to get it)`);
    return configInfo(model.path, backbone, ' (Hugging Face cache)');
  }
  return configInfo(folder, path.basename(folder));
}

async function configInfo(folder: string, where: string, suffix = ''): Promise<BackboneInfo> {
  try {
    const text = await readFile(path.join(folder, 'config.json'), 'utf8');
    const cfg = JSON.parse(text) as unknown;
    if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new Error('not an object');
    return infoFromConfig(cfg as Record<string, unknown>, where, suffix);
  } catch {
    return unknown(`${where}: no readable config.json`);
  }
}
