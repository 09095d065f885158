// Inference figures of one export folder, measured in the current process (benchmarkChild.ts runs it in a child).
import type { InferenceFigures } from '../../protocol/webviews/try';
import { ExportedModel } from './model';

// A typical single input (an SST-2-length sentence); pair tasks get it twice.
const SENTENCE = 'A gripping, beautifully acted film whose quiet final act stays with you long after the credits roll.';
const WARMUP = 3;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export async function measureInference(exportDir: string, runs = 30): Promise<InferenceFigures> {
  if (!exportDir) throw new Error('usage: inferenceBenchmark EXPORT_DIR [RUNS]');
  // Load onnxruntime's binding before the baseline, so the baseline holds the library and the delta the session.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const version = (require('onnxruntime-node/package.json') as { version: string }).version;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('onnxruntime-node');
  const before = process.memoryUsage.rss();
  const model = await ExportedModel.load(exportDir);
  const afterLoad = process.memoryUsage.rss();
  try {
    const input = model.encode(SENTENCE, model.manifest.pair ? SENTENCE : null);
    const times: number[] = [];
    for (let i = 0; i < WARMUP + runs; i++) {
      const { latencyMs } = await model.logits(input);
      if (i >= WARMUP) times.push(latencyMs);
    }
    const peak = process.resourceUsage().maxRSS * 1024; // kilobytes -> bytes; the process's peak so far
    return {
      latency_ms_median: Math.round(median(times) * 1000) / 1000,
      runs,
      input_tokens: input.input_ids.length,
      session_bytes: Math.max(0, afterLoad - before),
      peak_rss_delta_bytes: Math.max(0, peak - before),
      threads: 0, // onnxruntime's default (one per physical core)
      onnxruntime: version,
    };
  } finally {
    await model.release();
  }
}
