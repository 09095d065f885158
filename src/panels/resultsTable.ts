// Pure: finished runs -> the comparison table (like the LST paper's Table 1), its CSV and Markdown forms, and
// which runs make up "the latest comparison". No vscode import, so unit tests run it directly.
import type { RunSummary } from '../../protocol/events';
import type { FieldSpec } from '../../protocol/experimentFields';
import { differingSettings, runLabel, runOrigin, settingText, type RunConfig } from '../../protocol/runLabel';
import type { ResultRow, ResultsTable, RunChoice } from '../../protocol/webviews/results';
import type { InferenceFigures } from '../../protocol/webviews/try';
import type { RunTiming } from '../runs/types';
import { binomialSe, noiseNotes } from './resultsNoise';

/** What the table needs of a finished run: its record plus the resolved config.json (for task and grouping). */
export interface FinishedRun {
  id: string;
  method: string;
  startedAt: number | null;
  summary: RunSummary;
  config: Record<string, unknown> | null;
  /** The run's inference.json (ONNX export measured by onnxruntime-node), if the model has been tried. */
  inference?: InferenceFigures | null;
  /** The user's name for the run (label.json); wins over the label made from config.json. */
  userLabel?: string;
  /** Step time, init time and test-set size, read from events.jsonl. */
  timing?: RunTiming;
}

const MIB = 1024 * 1024;

/** config.json, or just the method when the run has none (it is then labelled by its method alone). */
export function configOf(run: Pick<FinishedRun, 'method' | 'config'>): RunConfig {
  return run.config ?? { method: run.method };
}

/** The run's name among `among` (the runs shown with it): the user's, else the one made from its settings. */
export function labelOf(run: Pick<FinishedRun, 'method' | 'config' | 'userLabel'>, among: RunConfig[]): string {
  return run.userLabel ?? runLabel(configOf(run), among);
}

export function toRow(run: FinishedRun, among: RunConfig[] = [configOf(run)], settings: FieldSpec[] = []): ResultRow {
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
  const config = configOf(run);
  const task = typeof config.task === 'string' ? config.task : null;
  const method = s.method || run.method;
  const validation = s.validation_metrics?.score;
  // The summary's count (engines since 2026-12-02) wins; older runs have it only in events.jsonl's test evaluation.
  const testExamples = s.test_examples ?? run.timing?.testExamples ?? null;
  return {
    runId: run.id,
    method,
    label: labelOf(run, among),
    settings: Object.fromEntries(
      settings.map((f) => [f.name, !f.methods || f.methods.includes(method) ? settingText(f, config[f.name]) : '']),
    ),
    task,
    trainablePct: s.trainable_pct,
    peakBytes: cuda ? m.train_peak_bytes : accounted,
    peakKind: cuda ? 'cuda' : 'accounted',
    savedBytes: m.saved_for_backward_bytes,
    metrics,
    score,
    durationS: s.duration_s,
    validationScore: typeof validation === 'number' && Number.isFinite(validation) ? validation : null,
    stepS: run.timing?.stepS ?? null,
    initS: run.timing?.initS ?? null,
    testExamples,
    accuracySe: binomialSe(metrics.accuracy, testExamples),
    memoryVsFull: null,
    memoryVsLora: null,
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

function seconds(v: number | null): string {
  return v === null ? '—' : v < 10 ? `${v.toFixed(2)} s` : `${v.toFixed(1)} s`;
}

function ratio(v: number | null): string {
  return v === null ? '—' : `${v.toFixed(2)}×`;
}

/** Peak memory relative to the first shown run of `method` (null when none is shown or a figure is missing). */
function relativeTo(rows: ResultRow[], method: string): (r: ResultRow) => number | null {
  const ref = rows.find((r) => r.method === method)?.peakBytes;
  return (r) => (ref && r.peakBytes !== null ? r.peakBytes / ref : null);
}

/** A table column: header, right-aligned (a number), and its cell text for a row. */
type Column = [string, boolean, (r: ResultRow) => string];
const when = (on: boolean, ...columns: Column[]): Column[] => (on ? columns : []);

export function buildTable(runs: FinishedRun[]): ResultsTable {
  const configs = runs.map(configOf);
  const settingSpecs = differingSettings(configs);
  const base = runs.map((r) => toRow(r, configs, settingSpecs));
  const vsFull = relativeTo(base, 'full');
  const vsLora = relativeTo(base, 'lora');
  const rows = base.map((r) => ({ ...r, memoryVsFull: vsFull(r), memoryVsLora: vsLora(r) }));
  const names = metricNames(rows);
  // Inference columns (ONNX, onnxruntime-node on the CPU) only once some run has been measured; memory ratios only
  // when their reference run is shown; the noise band only when some run has an accuracy on a known n.
  const inference = rows.some((r) => r.inferenceLatencyMs != null);
  const full = rows.some((r) => r.memoryVsFull !== null);
  const lora = rows.some((r) => r.memoryVsLora !== null);
  const noise = rows.some((r) => r.accuracySe !== null);
  const columns: Column[] = [
    ['Run', false, (r) => r.label],
    ['Task', false, (r) => r.task ?? '—'],
    ...settingSpecs.map((f): Column => [f.label, false, (r) => r.settings[f.name] || '—']),
    ['Trainable params', true, (r) => formatPct(r.trainablePct)],
    [
      'Peak train memory',
      true,
      (r) => `${formatBytes(r.peakBytes)}${r.peakKind === 'cuda' ? ' (CUDA peak)' : ' (accounted)'}`,
    ],
    ...when(
      inference,
      [
        'Inference latency',
        true,
        (r) => (r.inferenceLatencyMs != null ? `${r.inferenceLatencyMs.toFixed(2)} ms` : '—'),
      ],
      ['Inference memory', true, (r) => formatBytes(r.inferencePeakBytes ?? null)],
    ),
    ...when(full, ['Memory ÷ full FT', true, (r) => ratio(r.memoryVsFull)]),
    ...when(lora, ['Memory ÷ LoRA', true, (r) => ratio(r.memoryVsLora)]),
    ['Saved for backward', true, (r) => formatBytes(r.savedBytes)],
    ['Step time', true, (r) => seconds(r.stepS)],
    ['Init time', true, (r) => seconds(r.initS)],
    ['Val. score', true, (r) => formatNumber(r.validationScore)],
    ...names.map((n): Column => [METRIC_LABELS[n] ?? n, true, (r) => formatNumber(r.metrics[n] ?? null)]),
    ['Test score', true, (r) => formatNumber(r.score)],
    ...when(noise, ['± SE (accuracy)', true, (r) => (r.accuracySe === null ? '—' : `±${r.accuracySe.toFixed(2)}`)]),
  ];
  return {
    metricNames: names,
    settings: settingSpecs.map((f) => ({ name: f.name, label: f.label })),
    rows,
    columns: columns.map(([c]) => c),
    numeric: columns.map(([, n]) => n),
    cells: rows.map((r) => columns.map(([, , cell]) => cell(r))),
    notes: noiseNotes(rows),
  };
}

// --- CSV (RFC 4180; numbers raw so a spreadsheet can compute with them) ----------------------------------------

export function csvCell(value: string | number | null): string {
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
    'label',
    'run_id',
    'task',
    ...table.settings.map((f) => f.name),
    'trainable_pct',
    'peak_train_memory_mib',
    'peak_kind',
    'memory_vs_full',
    'memory_vs_lora',
    'saved_for_backward_mib',
    'step_s',
    'init_s',
    'validation_score',
    ...table.metricNames,
    'test_score',
    'test_examples',
    'accuracy_se',
    'duration_s',
    ...(inference ? ['inference_latency_ms', 'inference_peak_rss_mib'] : []),
  ];
  const mib = (b: number | null) => (b === null ? null : Math.round((b / MIB) * 1000) / 1000);
  const lines = [header.map(csvCell).join(',')];
  for (const r of table.rows) {
    lines.push(
      [
        r.method,
        r.label,
        r.runId,
        r.task,
        ...table.settings.map((f) => r.settings[f.name] ?? ''),
        r.trainablePct,
        mib(r.peakBytes),
        r.peakKind,
        r.memoryVsFull,
        r.memoryVsLora,
        mib(r.savedBytes),
        r.stepS,
        r.initS,
        r.validationScore,
        ...table.metricNames.map((n) => r.metrics[n] ?? null),
        r.score,
        r.testExamples,
        r.accuracySe,
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

export function mdCell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ');
}

export function toMarkdown(table: ResultsTable, title = 'Ladder Lab comparison'): string {
  const numeric = table.numeric;
  const lines = [
    `# ${mdCell(title)}`,
    '',
    `| ${table.columns.map(mdCell).join(' | ')} |`,
    `|${numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`,
    ...table.cells.map((row) => `| ${row.map(mdCell).join(' | ')} |`),
    '',
    'Peak train memory is the CUDA peak allocated where the run was on a GPU, otherwise the accounted bytes',
    '(parameters + gradients + optimizer state + tensors saved for backward). Scores are on a 0–100 scale.',
    "Step time: median seconds per training step, without init or evaluation; init time: from the run's start to",
    "its first training step (setup and LST's pruning). ± SE: the binomial standard error of the test accuracy,",
    'sqrt(p(1-p)/n)·100 points, n the test examples.',
    ...(table.rows.some((r) => r.inferenceLatencyMs != null)
      ? [
          'Inference: the ONNX export on onnxruntime-node (CPU, batch 1), median latency and peak RSS growth in a child process.',
        ]
      : []),
    ...(table.notes.length ? ['', ...table.notes.map((n) => `> ⚠ ${mdCell(n)}`)] : []),
    '',
  ];
  return lines.join('\n');
}

// --- Which runs form "the latest comparison" ------------------------------------------------------------------------

// Keys that differ between the runs of one comparison (or say nothing about the experiment).
const PER_RUN_KEYS = new Set(['method', 'lr', 'run_id', 'run_dir', 'runs_dir', 'comparison', 'experiment_file']);

function experimentKey(config: Record<string, unknown> | null): string | null {
  if (!config) return null;
  const kept = Object.keys(config)
    .filter((k) => !PER_RUN_KEYS.has(k))
    .sort();
  return JSON.stringify(kept.map((k) => [k, config[k]]));
}

/**
 * The newest finished run and the other finished runs of its comparison: those config.json says belong to it
 * (engines that record `comparison`), else for each other method of its experiment the newest finished run of that
 * method with the same configuration (all fields but the per-method ones). Runs without a readable config stand alone.
 */
export function latestComparison(runs: Pick<FinishedRun, 'id' | 'method' | 'startedAt' | 'config'>[]): string[] {
  const byNewest = [...runs].sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0));
  const newest = byNewest[0];
  if (!newest) return [];
  const comparison = runOrigin(newest.config).comparison;
  if (comparison)
    return byNewest
      .filter((r) => runOrigin(r.config).comparison === comparison)
      .map((r) => r.id)
      .reverse();
  const key = experimentKey(newest.config);
  if (key === null) return [newest.id];
  const chosen = new Map<string, string>();
  for (const run of byNewest) {
    if (experimentKey(run.config) === key && !chosen.has(run.method)) chosen.set(run.method, run.id);
  }
  // Oldest first: the order the comparison ran in.
  return [...chosen.values()].reverse();
}

/** A run in the picker, named among `among` (every finished run's config). */
export function toChoice(run: FinishedRun, among: RunConfig[] = [configOf(run)]): RunChoice {
  const row = toRow(run, among);
  return {
    id: run.id,
    method: row.method,
    label: row.label,
    task: row.task,
    startedAt: run.startedAt,
    score: row.score,
  };
}
