// Pure: finished runs -> the comparison table (like the LST paper's Table 1), its CSV and Markdown forms, and
// which runs make up "the latest comparison". No vscode import, so unit tests run it directly.
import type { RunSummary } from '../../protocol/events';
import type { ResultRow, ResultsTable, RunChoice } from '../../protocol/webviews/results';
import type { InferenceFigures } from '../../protocol/webviews/try';

/** What the table needs of a finished run: its record plus the resolved config.json (for task and grouping). */
export interface FinishedRun {
  id: string;
  method: string;
  startedAt: number | null;
  summary: RunSummary;
  config: Record<string, unknown> | null;
  /** The run's inference.json (ONNX export measured by onnxruntime-node), if the model has been tried. */
  inference?: InferenceFigures | null;
}

const MIB = 1024 * 1024;

export function toRow(run: FinishedRun): ResultRow {
  const s = run.summary;
  const m = s.memory;
  const cuda = m.train_peak_bytes !== null && m.train_peak_bytes !== undefined;
  const accounted = m.accounted_bytes ?? m.param_bytes + m.grad_bytes + m.optimizer_bytes + m.saved_for_backward_bytes;
  const metrics: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(s.metrics)) if (k !== 'score') metrics[k] = Number.isFinite(v) ? v : null;
  const score =
    typeof s.metrics.score === 'number' && Number.isFinite(s.metrics.score)
      ? s.metrics.score
      : meanOrNull(Object.values(metrics));
  const task = run.config && typeof run.config.task === 'string' ? run.config.task : null;
  return {
    runId: run.id,
    method: s.method || run.method,
    task,
    trainablePct: s.trainable_pct,
    peakBytes: cuda ? m.train_peak_bytes : accounted,
    peakKind: cuda ? 'cuda' : 'accounted',
    savedBytes: m.saved_for_backward_bytes,
    metrics,
    score,
    durationS: s.duration_s,
    inferenceLatencyMs: run.inference?.latency_ms_median ?? null,
    inferencePeakBytes: run.inference?.peak_rss_delta_bytes ?? null,
  };
}

function meanOrNull(values: (number | null)[]): number | null {
  const nums = values.filter((v): v is number => v !== null);
  return nums.length ? nums.reduce((a, b) => a + b, 0) / nums.length : null;
}

/** Metric columns in a stable, readable order: the usual GLUE ones first, then the rest alphabetically. */
const METRIC_ORDER = ['accuracy', 'f1', 'matthews_corr', 'pearson', 'spearman'];
export function metricNames(rows: ResultRow[]): string[] {
  const names = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.metrics)) names.add(k);
  return [...names].sort((a, b) => {
    const ia = METRIC_ORDER.indexOf(a);
    const ib = METRIC_ORDER.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
    return a.localeCompare(b);
  });
}

export const METRIC_LABELS: Record<string, string> = {
  accuracy: 'Accuracy',
  f1: 'F1',
  matthews_corr: 'Matthews corr.',
  pearson: 'Pearson',
  spearman: 'Spearman',
};

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '—';
  if (bytes >= 1024 * MIB) return `${(bytes / (1024 * MIB)).toFixed(2)} GiB`;
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

export function formatNumber(v: number | null, digits = 2): string {
  return v === null || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

export function formatPct(v: number): string {
  return Number.isFinite(v) ? `${v < 1 ? v.toFixed(3) : v.toFixed(2)} %` : '—';
}

export function buildTable(runs: FinishedRun[]): ResultsTable {
  const rows = runs.map(toRow);
  const names = metricNames(rows);
  // Inference columns (ONNX, onnxruntime-node on the CPU) only once some run has been measured.
  const inference = rows.some((r) => r.inferenceLatencyMs != null);
  const columns = [
    'Method',
    'Task',
    'Trainable params',
    'Peak train memory',
    ...(inference ? ['Inference latency', 'Inference memory'] : []),
    'Saved for backward',
    ...names.map((n) => METRIC_LABELS[n] ?? n),
    'Avg. score',
  ];
  const cells = rows.map((r) => [
    r.method,
    r.task ?? '—',
    formatPct(r.trainablePct),
    `${formatBytes(r.peakBytes)}${r.peakKind === 'cuda' ? ' (CUDA peak)' : ' (accounted)'}`,
    ...(inference
      ? [
          r.inferenceLatencyMs != null ? `${r.inferenceLatencyMs.toFixed(2)} ms` : '—',
          formatBytes(r.inferencePeakBytes ?? null),
        ]
      : []),
    formatBytes(r.savedBytes),
    ...names.map((n) => formatNumber(r.metrics[n] ?? null)),
    formatNumber(r.score),
  ]);
  return { metricNames: names, rows, columns, cells };
}

// --- CSV (RFC 4180; numbers raw so a spreadsheet can compute with them) ----------------------------------------

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = value;
  // A cell starting with = + - @ (or a tab / CR) is a formula to spreadsheet apps: neutralise it.
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(table: ResultsTable): string {
  const inference = table.rows.some((r) => r.inferenceLatencyMs != null);
  const header = [
    'method',
    'run_id',
    'task',
    'trainable_pct',
    'peak_train_memory_mib',
    'peak_kind',
    'saved_for_backward_mib',
    ...table.metricNames,
    'avg_score',
    'duration_s',
    ...(inference ? ['inference_latency_ms', 'inference_peak_rss_mib'] : []),
  ];
  const mib = (b: number | null) => (b === null ? null : Math.round((b / MIB) * 1000) / 1000);
  const lines = [header.map(csvCell).join(',')];
  for (const r of table.rows) {
    lines.push(
      [
        r.method,
        r.runId,
        r.task,
        r.trainablePct,
        mib(r.peakBytes),
        r.peakKind,
        mib(r.savedBytes),
        ...table.metricNames.map((n) => r.metrics[n] ?? null),
        r.score,
        r.durationS,
        ...(inference ? [r.inferenceLatencyMs ?? null, mib(r.inferencePeakBytes ?? null)] : []),
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

// --- Markdown (GitHub table, as shown in the panel) ---------------------------------------------------------------

function mdCell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ');
}

export function toMarkdown(table: ResultsTable, title = 'Ladder Lab comparison'): string {
  const numeric = table.columns.map((_, i) => i >= 2);
  const lines = [
    `# ${mdCell(title)}`,
    '',
    `| ${table.columns.map(mdCell).join(' | ')} |`,
    `|${numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`,
    ...table.cells.map((row) => `| ${row.map(mdCell).join(' | ')} |`),
    '',
    'Peak train memory is the CUDA peak allocated where the run was on a GPU, otherwise the accounted bytes',
    '(parameters + gradients + optimizer state + tensors saved for backward). Scores are on a 0–100 scale.',
    ...(table.rows.some((r) => r.inferenceLatencyMs != null)
      ? [
          'Inference: the ONNX export on onnxruntime-node (CPU, batch 1), median latency and peak RSS growth in a child process.',
        ]
      : []),
    '',
  ];
  return lines.join('\n');
}

// --- Which runs form "the latest comparison" ------------------------------------------------------------------------

// Keys that differ between the runs of one comparison (or say nothing about the experiment).
const PER_RUN_KEYS = new Set(['method', 'lr', 'run_id', 'run_dir', 'runs_dir']);

function experimentKey(config: Record<string, unknown> | null): string | null {
  if (!config) return null;
  const kept = Object.keys(config)
    .filter((k) => !PER_RUN_KEYS.has(k))
    .sort();
  return JSON.stringify(kept.map((k) => [k, config[k]]));
}

/**
 * The newest finished run and, for each other method of its experiment, the newest finished run of that method
 * with the same configuration (all fields but the per-method ones). Runs without a readable config stand alone.
 */
export function latestComparison(runs: Pick<FinishedRun, 'id' | 'method' | 'startedAt' | 'config'>[]): string[] {
  const byNewest = [...runs].sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0));
  const newest = byNewest[0];
  if (!newest) return [];
  const key = experimentKey(newest.config);
  if (key === null) return [newest.id];
  const chosen = new Map<string, string>();
  for (const run of byNewest) {
    if (experimentKey(run.config) === key && !chosen.has(run.method)) chosen.set(run.method, run.id);
  }
  // Oldest first: the order the comparison ran in.
  return [...chosen.values()].reverse();
}

export function toChoice(run: FinishedRun): RunChoice {
  const row = toRow(run);
  return { id: run.id, method: row.method, task: row.task, startedAt: run.startedAt, score: row.score };
}
