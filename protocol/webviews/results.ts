// The results panel's messages.
import { isSafeId, own, payloadless, typeOf, type Channel, type Obj } from './common';

export const ResultsMessages = {
  // webview -> host
  ready: 'results/ready',
  select: 'results/select', // { runIds }: show these finished runs
  selectLatest: 'results/selectLatest', // show the latest comparison again
  exportCsv: 'results/exportCsv',
  exportMarkdown: 'results/exportMarkdown',
  tryModel: 'results/tryModel', // open the Try-model panel (the user picks the run)
  // host -> webview
  state: 'results/state',
} as const;

/** One row of the comparison: numbers stay raw here; the views format them. */
export interface ResultRow {
  runId: string;
  method: string;
  task: string | null;
  trainablePct: number;
  /** CUDA peak allocated when the run was on CUDA, else the accounted bytes (params + grads + optimizer + saved). */
  peakBytes: number | null;
  peakKind: 'cuda' | 'accounted';
  savedBytes: number;
  metrics: Record<string, number | null>;
  score: number | null; // the task's main metric (the engine's "score")
  durationS: number;
  /** From the run's inference.json (Try Model): median ONNX latency and peak RSS growth; null = not measured. */
  inferenceLatencyMs?: number | null;
  inferencePeakBytes?: number | null;
}

export interface ResultsTable {
  metricNames: string[]; // the metric columns, in order ("score" is not among them: it is the last column)
  rows: ResultRow[];
  /** The table as shown (and exported to Markdown): header labels and one formatted cell per column per row. */
  columns: string[];
  cells: string[][];
}

export interface RunChoice {
  id: string;
  method: string;
  task: string | null;
  startedAt: number | null;
  score: number | null;
}

export interface ResultsState {
  choices: RunChoice[]; // every finished run, newest first
  selected: string[];
  latest: string[]; // the latest comparison's runs
  table: ResultsTable;
}

export type ResultsToWebview = { type: typeof ResultsMessages.state; state: ResultsState };
export type ResultsFromWebview =
  | { type: typeof ResultsMessages.ready }
  | { type: typeof ResultsMessages.select; runIds: string[] }
  | { type: typeof ResultsMessages.selectLatest }
  | { type: typeof ResultsMessages.exportCsv }
  | { type: typeof ResultsMessages.exportMarkdown }
  | { type: typeof ResultsMessages.tryModel };
export type ResultsChannel = Channel<ResultsToWebview, ResultsFromWebview>;

export const MAX_SELECTED_RUNS = 500;

export function parseResultsMessage(raw: unknown): ResultsFromWebview | undefined {
  const type = typeOf(raw, 'results/');
  if (type !== ResultsMessages.select) {
    const { ready, selectLatest, exportCsv, exportMarkdown, tryModel } = ResultsMessages;
    return payloadless(type, [ready, selectLatest, exportCsv, exportMarkdown, tryModel]);
  }
  const ids = own(raw as Obj, 'runIds');
  if (!Array.isArray(ids) || ids.length > MAX_SELECTED_RUNS || !ids.every(isSafeId)) return undefined;
  return { type, runIds: [...new Set(ids)] };
}
