// The Try-model panel's messages: one finished run, exported to ONNX, run in the extension host (onnxruntime-node).
import { own, payloadless, typeOf, type Channel, type Obj } from './common';

export const TryMessages = {
  // webview -> host
  ready: 'try/ready',
  predict: 'try/predict', // { textA, textB }: classify / score this input
  export: 'try/export', // export the run (ladderlab export), then load it
  reload: 'try/reload', // load the export folder again (after it changed on disk)
  measure: 'try/measure', // measure latency and memory in a child process (writes inference.json)
  // host -> webview
  state: 'try/state',
  result: 'try/result',
} as const;

/** Inference figures of an exported run, measured by onnxruntime-node in a child process (run folder's inference.json). */
export interface InferenceFigures {
  latency_ms_median: number; // one input, batch 1, median over `runs` runs after warm-up
  runs: number;
  input_tokens: number;
  session_bytes: number; // RSS growth from creating the ONNX session (graph + weights + arena)
  peak_rss_delta_bytes: number; // peak RSS during the runs minus RSS before the session existed
  threads: number;
  onnxruntime: string; // onnxruntime-node version
}

export interface TryState {
  runId: string;
  method: string;
  task: string | null;
  /** needs-export: no export folder yet; busy: exporting / loading / measuring (see `busy`); ready; error. */
  status: 'needs-export' | 'busy' | 'ready' | 'error';
  busy: string | null; // what is going on, for the user
  error: string | null; // why the model cannot be used, and what to do
  pair: boolean; // the task reads two texts
  labels: string[] | null; // null = regression
  inference: InferenceFigures | null;
}

export interface TryResult {
  ok: boolean;
  error: string | null;
  label: string | null;
  probabilities: { label: string; p: number }[];
  score: number | null; // regression output
  latencyMs: number;
  tokens: number;
}

export type TryToWebview =
  { type: typeof TryMessages.state; state: TryState } | { type: typeof TryMessages.result; result: TryResult };
export type TryFromWebview =
  | { type: typeof TryMessages.ready }
  | { type: typeof TryMessages.export }
  | { type: typeof TryMessages.reload }
  | { type: typeof TryMessages.measure }
  | { type: typeof TryMessages.predict; textA: string; textB: string | null };
export type TryChannel = Channel<TryToWebview, TryFromWebview>;

/** Longest text the panel accepts (the model truncates to max_length tokens anyway). */
export const MAX_TRY_TEXT = 20_000;
const isTryText = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= MAX_TRY_TEXT;

export function parseTryMessage(raw: unknown): TryFromWebview | undefined {
  const type = typeOf(raw, 'try/');
  if (type !== TryMessages.predict)
    return payloadless(type, [TryMessages.ready, TryMessages.export, TryMessages.reload, TryMessages.measure]);
  const textA = own(raw as Obj, 'textA');
  const textB = own(raw as Obj, 'textB');
  if (!isTryText(textA) || !(textB === null || isTryText(textB))) return undefined;
  return { type, textA, textB };
}
