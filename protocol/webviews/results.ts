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
  openSweep: 'results/openSweep', // { sweepId }: open the Sweep panel on it
  showTrials: 'results/showTrials', // { show }: list sweeps' trials as runs too (default: one row per sweep)
  // host -> webview
  state: 'results/state',
} as const;

/** One row of the comparison: numbers stay raw here; the views format them. */
export interface ResultRow {
  runId: string;
  method: string;
  /** What the run is called: the user's name for it, else protocol/runLabel.ts's label among the runs shown. */
  label: string;
  /** The shown settings that differ among the runs (ResultsTable.settings), as text; '' where one does not apply. */
  settings: Record<string, string>;
  task: string | null;
  trainablePct: number;
  /** CUDA peak allocated when the run was on CUDA, else the accounted bytes (params + grads + optimizer + saved). */
  peakBytes: number | null;
  peakKind: 'cuda' | 'accounted';
  savedBytes: number;
  metrics: Record<string, number | null>;
  score: number | null; // the task's main metric (the engine's "score")
  durationS: number;
  validationScore: number | null; // the best epoch's validation score (the epoch whose weights were kept)
  stepS: number | null; // median seconds per training step, without init or evaluation (events.jsonl)
  initS: number | null; // seconds from the run's start to its first training step: setup and LST's pruning
  testExamples: number | null; // n of the test set
  /** Binomial standard error of the test accuracy in points, sqrt(p(1-p)/n)·100; null without accuracy or n. */
  accuracySe: number | null;
  /** Peak memory as a fraction of the (first shown) full fine-tuning / LoRA run's; null when none is shown. */
  memoryVsFull: number | null;
  memoryVsLora: number | null;
  /** From the run's inference.json (Try Model): median ONNX latency and peak RSS growth; null = not measured. */
  inferenceLatencyMs?: number | null;
  inferencePeakBytes?: number | null;
}

export interface ResultsTable {
  metricNames: string[]; // the metric columns, in order ("score" is not among them: it is the last column)
  /** The settings that differ among the runs shown (field name and label), one column each. */
  settings: { name: string; label: string }[];
  rows: ResultRow[];
  /** Warnings shown under the table, e.g. two runs whose accuracies are within the noise band. */
  notes: string[];
  /** The table as shown (and exported to Markdown): header labels and one formatted cell per column per row. */
  columns: string[];
  numeric: boolean[]; // per column: right-aligned (a number)
  cells: string[][];
}

export interface RunChoice {
  id: string;
  method: string;
  label: string; // as ResultRow.label, made among every finished run
  task: string | null;
  startedAt: number | null;
  score: number | null;
}

/** A sweep as one result (src/sweeps/sweepSummary.ts): its best grid point and its Pareto front, not its trials. */
export interface SweepSummaryRow {
  sweepId: string;
  trials: number; // in its grid (every seed of every point)
  finished: number;
  tasks: string[];
  /** The best grid point by the primary metric (the task's score, or the GLUE average): mean over its seeds. */
  best: {
    label: string; // e.g. "LST r=8"
    method: string;
    score: number;
    std: number | null; // null for a GLUE average
    n: number; // seeds finished
    peakBytes: number | null;
  } | null;
  paretoSize: number; // grid points on the front of score vs peak memory
  problem: string | null; // a missing or unreadable manifest.json / results.json
}

export interface ResultsState {
  choices: RunChoice[]; // every finished run, newest first (sweep trials only when showTrials)
  selected: string[];
  latest: string[]; // the latest comparison's runs
  table: ResultsTable;
  /** One row per sweep with a finished trial, newest first; its trials are no runs of the table unless showTrials. */
  sweeps: SweepSummaryRow[];
  showTrials: boolean;
}

export type ResultsToWebview = { type: typeof ResultsMessages.state; state: ResultsState };
export type ResultsFromWebview =
  | { type: typeof ResultsMessages.ready }
  | { type: typeof ResultsMessages.select; runIds: string[] }
  | { type: typeof ResultsMessages.selectLatest }
  | { type: typeof ResultsMessages.exportCsv }
  | { type: typeof ResultsMessages.exportMarkdown }
  | { type: typeof ResultsMessages.tryModel }
  | { type: typeof ResultsMessages.openSweep; sweepId: string }
  | { type: typeof ResultsMessages.showTrials; show: boolean };
export type ResultsChannel = Channel<ResultsToWebview, ResultsFromWebview>;

export const MAX_SELECTED_RUNS = 500;

export function parseResultsMessage(raw: unknown): ResultsFromWebview | undefined {
  const type = typeOf(raw, 'results/');
  if (type === ResultsMessages.openSweep) {
    const id = own(raw as Obj, 'sweepId');
    return isSafeId(id) ? { type, sweepId: id } : undefined;
  }
  if (type === ResultsMessages.showTrials) {
    const show = own(raw as Obj, 'show');
    return typeof show === 'boolean' ? { type, show } : undefined;
  }
  if (type !== ResultsMessages.select) {
    const { ready, selectLatest, exportCsv, exportMarkdown, tryModel } = ResultsMessages;
    return payloadless(type, [ready, selectLatest, exportCsv, exportMarkdown, tryModel]);
  }
  const ids = own(raw as Obj, 'runIds');
  if (!Array.isArray(ids) || ids.length > MAX_SELECTED_RUNS || !ids.every(isSafeId)) return undefined;
  return { type, runIds: [...new Set(ids)] };
}
