// The experiment's rules that depend on the backbone's shape, as the engine states them in
// engine/src/ladderlab/backbone_rules.py (and the families' side_config): LST's r must divide the backbone's widths
// and leave whole attention heads in the side network, kept layers must exist (0-based), a pruning
// initialisation keeps every head, and the baselines' freeze_layers leaves a layer to train. The extension checks them before it starts an engine (form, diagnostics, Run);
// the engine checks them again before it reads data. engine/tests/fixtures/backbone-rules.json is the table of cases
// both sides must agree on, message for message (engine/tests/test_backbone_rules.py, test/unit/backbone-rules.test.ts).
// Pure: no vscode, no DOM, no file system.
import { FIELDS } from './experimentFields';

/** The methods freeze_layers applies to (from its declaration in the engine). */
const FREEZE_METHODS: readonly string[] = FIELDS.find((f) => f.name === 'freeze_layers')?.methods ?? [];

/** What the rules need from a backbone's config.json (or a preset): per family, as its side_config reads it. */
export interface BackboneShape {
  layers: number; // per stack
  allLayers: number; // across the stacks (T5: encoder and decoder), as freeze_layers counts them
  heads: number;
  /** The widths r must divide, in the engine's order and under its names (they appear in the message). */
  widths: [name: string, width: number][];
  /** Which of `widths` the side's attention heads split. */
  attention: string;
}

export interface BackboneProblem {
  field: 'r' | 'keep_layers' | 'side_heads' | 'freeze_layers';
  message: string;
  hint: string;
}

/** The experiment values the rules read (a subset of ExperimentValues). */
export interface RuleInputs {
  methods: readonly string[];
  r: number;
  keep_layers: readonly number[] | null;
  side_heads: number | null;
  init: string;
  freeze_layers: number;
}

const positive = (cfg: Record<string, unknown>, key: string): number | undefined => {
  const v = cfg[key];
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
};

/**
 * The shape of a Hugging Face config.json object, for the model types the engine trains (families/*.py), or null
 * when the type is another or a field the rules need is missing: the engine then has the last word.
 */
export function shapeFromConfig(cfg: Record<string, unknown>): BackboneShape | null {
  const get = (key: string) => positive(cfg, key);
  switch (cfg.model_type) {
    case 'bert': {
      const [d, ff, h, n] = ['hidden_size', 'intermediate_size', 'num_attention_heads', 'num_hidden_layers'].map(get);
      if (!d || !ff || !h || !n) return null;
      return {
        layers: n,
        allLayers: n,
        heads: h,
        widths: [
          ['hidden', d],
          ['feed-forward', ff],
        ],
        attention: 'hidden',
      };
    }
    case 'gpt2': {
      const [d, h, n] = ['n_embd', 'n_head', 'n_layer'].map(get);
      if (!d || !h || !n) return null;
      const ff = get('n_inner') ?? 4 * d; // GPT-2's n_inner null means 4 x n_embd
      return {
        layers: n,
        allLayers: n,
        heads: h,
        widths: [
          ['hidden', d],
          ['feed-forward', ff],
        ],
        attention: 'hidden',
      };
    }
    case 't5': {
      const [d, ff, kv, h, n] = ['d_model', 'd_ff', 'd_kv', 'num_heads', 'num_layers'].map(get);
      if (!d || !ff || !kv || !h || !n) return null;
      return {
        layers: n,
        allLayers: n + (get('num_decoder_layers') ?? n), // T5Config: num_decoder_layers null means num_layers
        heads: h,
        widths: [
          ['d_model', d],
          ['d_ff', ff],
          ['attention', h * kv],
        ],
        attention: 'attention',
      };
    }
    case 'llama':
    case 'mistral':
    case 'qwen2':
    case 'qwen3':
    case 'gemma':
    case 'gemma2':
    case 'gemma3_text': {
      // families/llama.py: heads and grouped-query key/value heads kept, each head's dimension divided by r
      const [d, ff, h, n] = ['hidden_size', 'intermediate_size', 'num_attention_heads', 'num_hidden_layers'].map(get);
      if (!d || !ff || !h || !n) return null;
      const headDim = get('head_dim') ?? Math.floor(d / h);
      return {
        layers: n,
        allLayers: n,
        heads: h,
        widths: [
          ['hidden', d],
          ['intermediate', ff],
          ['attention', h * headDim],
        ],
        attention: 'attention',
      };
    }
    default:
      return null;
  }
}

/** What the engine would refuse about these values on this backbone (backbone_rules.backbone_problems). */
export function backboneProblems(v: RuleInputs, shape: BackboneShape): BackboneProblem[] {
  const problems: BackboneProblem[] = [];
  const freezing = v.methods.some((m) => FREEZE_METHODS.includes(m));
  if (freezing && v.freeze_layers >= shape.allLayers) {
    const stacks = shape.allLayers > shape.layers ? ' (encoder and decoder together)' : '';
    problems.push({
      field: 'freeze_layers',
      message: `freeze_layers=${v.freeze_layers} freezes every layer: the backbone has ${shape.allLayers} layers${stacks}`,
      hint: `choose freeze_layers from 0 to ${shape.allLayers - 1}`,
    });
  }
  if (!v.methods.includes('lst')) return problems; // every rule below is about LST's side network
  const outOfRange = (v.keep_layers ?? []).filter((i) => !(i >= 0 && i < shape.layers));
  if (outOfRange.length)
    problems.push({
      field: 'keep_layers',
      message: `keep_layers [${outOfRange.join(', ')}] out of range: the backbone has ${shape.layers} layers per stack`,
      hint: `use 0-based indices from 0 to ${shape.layers - 1}`,
    });
  const side = sideWidthProblem(v, shape);
  if (side) problems.push(side);
  if (v.init !== 'random' && v.side_heads !== null && v.side_heads !== shape.heads)
    problems.push({
      field: 'side_heads',
      message: `pruning initialisation keeps every attention head, so side_heads must equal the backbone's ${shape.heads}`,
      hint: "remove side_heads (the side then has the backbone's heads), or set init to random",
    });
  return problems;
}

/** families/base.py check_side_widths: r divides every width, and the side's attention width splits into heads. */
function sideWidthProblem(v: RuleInputs, shape: BackboneShape): BackboneProblem | undefined {
  const { r } = v;
  if (shape.widths.some(([, w]) => w % r !== 0)) {
    const named = shape.widths.map(([name, w]) => `${name} ${w}`).join(', ');
    const common = [2, 4, 8, 16, 32].filter((d) => shape.widths.every(([, w]) => w % d === 0)).join(', ');
    return {
      field: 'r',
      message: `r=${r} does not divide the backbone's width (${named})`,
      hint: `choose r among the common divisors, e.g. ${common}`,
    };
  }
  const attention = shape.widths.find(([name]) => name === shape.attention)![1];
  const width = attention / r;
  const heads = v.side_heads ?? shape.heads;
  if (width % heads !== 0)
    return {
      field: v.side_heads !== null ? 'side_heads' : 'r',
      message: `the side attention width ${width} (= ${attention}/r) is not divisible by ${heads} heads`,
      hint: `choose a smaller r or set side_heads to a divisor of ${width}`,
    };
  return undefined;
}
