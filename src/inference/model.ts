// An exported run loaded for inference in the extension host: its manifest, its tokenizer and an onnxruntime-node
// session on the CPU. onnxruntime-node is a native module: esbuild leaves it external and it is required here,
// lazily, from the extension's node_modules (so a missing or broken binary is an error in the panel, not a failed
// activation).
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import type * as OrtTypes from 'onnxruntime-node';
import { ExportError, readManifest, type ExportManifest } from './manifest';
import { encodeForModel, loadTokenizer, type TokenizedInput, type Tokenizer } from './tokenize';

export interface Prediction {
  label: string | null; // the predicted class (null for regression)
  probabilities: { label: string; p: number }[]; // softmax of the logits, in label order (empty for regression)
  score: number | null; // the regression output (null for classification)
  logits: number[];
  tokens: number; // input length after tokenisation and truncation
  latencyMs: number; // onnxruntime's run() alone
}

function ort(): typeof OrtTypes {
  process.env.ORT_DISABLE_TELEMETRY ??= '1'; // it would otherwise write under ~/.cache
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('onnxruntime-node') as typeof OrtTypes;
  } catch (e) {
    throw new ExportError(
      `onnxruntime-node cannot be loaded (${(e as Error).message}); reinstall the extension for this platform.`,
    );
  }
}

export function softmax(logits: number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((x) => x / sum);
}

export class ExportedModel {
  private constructor(
    readonly dir: string,
    readonly manifest: ExportManifest,
    private readonly tokenizer: Tokenizer,
    private readonly session: OrtTypes.InferenceSession,
  ) {}

  /** Loads dir/manifest.json, the tokenizer and the graph; every failure is an ExportError naming the file. */
  static async load(dir: string, options: { threads?: number } = {}): Promise<ExportedModel> {
    const manifest = await readManifest(dir);
    const modelFile = path.join(dir, manifest.model);
    const info = await stat(modelFile).catch(() => undefined);
    if (!info?.isFile())
      throw new ExportError(`${modelFile} not found: export the run again (ladderlab export RUN_DIR).`);
    const tokenizer = await loadTokenizer(dir, manifest.tokenizer);
    const runtime = ort();
    let session: OrtTypes.InferenceSession;
    try {
      session = await runtime.InferenceSession.create(modelFile, {
        executionProviders: ['cpu'],
        logSeverityLevel: 3,
        ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      });
    } catch (e) {
      throw new ExportError(
        `cannot load ${modelFile}: it is damaged or not an ONNX model (${firstLine(e)}). Export the run again.`,
      );
    }
    const missing = manifest.inputs.filter((n) => !session.inputNames.includes(n));
    if (missing.length || !session.outputNames.includes(manifest.outputs[0])) {
      await session.release();
      throw new ExportError(
        `${modelFile} does not have the inputs/outputs its manifest names (${[...missing, manifest.outputs[0]].join(', ')}). Export the run again.`,
      );
    }
    return new ExportedModel(dir, manifest, tokenizer, session);
  }

  encode(textA: string, textB: string | null = null): TokenizedInput {
    if (this.manifest.pair && textB === null)
      throw new ExportError(`the ${this.manifest.task} model reads two texts: give the second one too`);
    return encodeForModel(this.tokenizer, textA, this.manifest.pair ? textB : null, this.manifest.max_length);
  }

  /** Raw logits for one tokenised input (batch of one, no padding). */
  async logits(input: TokenizedInput): Promise<{ logits: number[]; latencyMs: number }> {
    const { Tensor } = ort();
    const dims = [1, input.input_ids.length];
    const feeds: Record<string, OrtTypes.Tensor> = {};
    for (const name of this.manifest.inputs) {
      feeds[name] = new Tensor(
        'int64',
        BigInt64Array.from(input[name as keyof TokenizedInput], (v) => BigInt(v)),
        dims,
      );
    }
    const t0 = performance.now();
    const out = await this.session.run(feeds);
    const latencyMs = performance.now() - t0;
    const data = out[this.manifest.outputs[0]].data as Float32Array;
    return { logits: Array.from(data), latencyMs };
  }

  async predict(textA: string, textB: string | null = null): Promise<Prediction> {
    const input = this.encode(textA, textB);
    const { logits, latencyMs } = await this.logits(input);
    const base = { logits, tokens: input.input_ids.length, latencyMs };
    if (this.manifest.regression) return { ...base, label: null, probabilities: [], score: logits[0] };
    const labels = this.manifest.labels as string[];
    const p = softmax(logits);
    const best = p.indexOf(Math.max(...p));
    return { ...base, label: labels[best], probabilities: labels.map((label, i) => ({ label, p: p[i] })), score: null };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** The first line of onnxruntime's message, without its "Load model from <path> failed:" (the path is said already). */
function firstLine(e: unknown): string {
  const line = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  return line.replace(/^Load model from .* failed:\s*/, '').slice(0, 300);
}
