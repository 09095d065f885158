// What the Sweep panel shows, made from a sweep folder's two files (engine sweep/store.py, sweep/aggregate.py):
// manifest.json (every trial and its state: the live grid) and results.json (per grid point the mean and std over
// seeds, peak_bytes, the Pareto front, the GLUE average: Table 1 and the trade-off chart), and the CSV / Markdown
// exports of the table. Pure (no vscode, no file system): unit-tested on a real sweep folder's files.
import { methodName, runLabel, type RunConfig } from '../../protocol/runLabel';
import {
  TRIAL_STATES,
  type GridCell,
  type SweepFigure,
  type SweepRow,
  type SweepState,
  type SweepTable,
  type TradeoffSeries,
  type TrialState,
} from '../../protocol/webviews/sweep';
import { csvCell, mdCell } from '../panels/resultsTable';
import { backboneLayers, buildFigure, figureAxes } from './sweepFigures';

const MIB = 1024 * 1024;

export interface ManifestTrial {
  trialId: string;
  method: string;
  point: Record<string, unknown>;
  seed: number;
  status: TrialState;
  runId: string | null;
}

export interface ResultsPoint {
  method: string;
  point: Record<string, unknown>;
  task: string;
  trials: number;
  n: number;
  mean: Record<string, number>;
  std: Record<string, number>;
  peakBytes: number | null;
}

export interface SweepResults {
  points: ResultsPoint[];
  pareto: { method: string; point: Record<string, unknown>; task: string }[];
  glueAverage: { method: string; point: Record<string, unknown>; score: number }[] | null;
}

type Parsed<T> = { value: T; problem?: undefined } | { value?: undefined; problem: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const numbers = (v: unknown): Record<string, number> =>
  isObj(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, number] => isNum(e[1]))) : {};

/** manifest.json's text -> its trials, or what is wrong with it (said in the panel in place of the grid). */
export function parseManifest(
  text: string | null,
): Parsed<{ trials: ManifestTrial[]; task: string; values: Record<string, unknown>; experimentFile: string | null }> {
  if (text === null)
    return { problem: 'manifest.json is missing: this is not a sweep folder, or it was not written yet.' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { problem: `manifest.json is not valid JSON (${(e as Error).message}): the sweep folder is damaged.` };
  }
  if (!isObj(raw) || !Array.isArray(raw.trials))
    return { problem: 'manifest.json has no "trials" list: it was not written by `ladderlab sweep`.' };
  const trials: ManifestTrial[] = [];
  for (const t of raw.trials) {
    if (!isObj(t) || typeof t.trial_id !== 'string' || typeof t.method !== 'string' || !isObj(t.point))
      return { problem: 'manifest.json has a trial without trial_id, method or point: the sweep folder is damaged.' };
    const status = TRIAL_STATES.find((s) => s === t.status);
    if (!status)
      return { problem: `manifest.json: trial ${t.trial_id} has an unknown status ${JSON.stringify(t.status)}.` };
    trials.push({
      trialId: t.trial_id,
      method: t.method,
      point: t.point,
      seed: isNum(t.seed) ? t.seed : 0,
      status,
      runId: typeof t.run_id === 'string' ? t.run_id : null,
    });
  }
  const values = isObj(raw.values) ? raw.values : {};
  const task = typeof values.task === 'string' ? values.task : 'score';
  const experimentFile = typeof raw.experiment_file === 'string' ? raw.experiment_file : null;
  return { value: { trials, task, values, experimentFile } };
}

/** results.json's text -> its points; null text (not written yet: the engine writes it when the sweep ends) is no
 * problem, only an empty table. `task` is the experiment file's task (a point names its own when it varies). */
export function parseResults(text: string | null, task: string): Parsed<SweepResults | null> {
  if (text === null) return { value: null };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return {
      problem: `results.json is not valid JSON (${(e as Error).message}): run \`ladderlab sweep report\` on the folder to write it again.`,
    };
  }
  if (!isObj(raw) || !Array.isArray(raw.points))
    return {
      problem: 'results.json has no "points" list: run `ladderlab sweep report` on the folder to write it again.',
    };
  const points: ResultsPoint[] = [];
  for (const p of raw.points) {
    if (!isObj(p) || typeof p.method !== 'string' || !isObj(p.point))
      return {
        problem: 'results.json has a point without method or point: run `ladderlab sweep report` on the folder.',
      };
    points.push({
      method: p.method,
      point: p.point,
      task: typeof p.point.task === 'string' ? p.point.task : task,
      trials: isNum(p.trials) ? p.trials : 0,
      n: isNum(p.n) ? p.n : 0,
      mean: numbers(p.mean),
      std: numbers(p.std),
      peakBytes: isNum(p.peak_bytes) ? p.peak_bytes : null,
    });
  }
  const list = (v: unknown) => (Array.isArray(v) ? v.filter(isObj) : []);
  const pareto = list(raw.pareto).flatMap((p) =>
    typeof p.method === 'string' && isObj(p.point) && typeof p.task === 'string'
      ? [{ method: p.method, point: p.point, task: p.task }]
      : [],
  );
  const glueAverage = Array.isArray(raw.glue_average)
    ? list(raw.glue_average).flatMap((g) =>
        typeof g.method === 'string' && isObj(g.point) && isNum(g.score)
          ? [{ method: g.method, point: g.point, score: g.score }]
          : [],
      )
    : null;
  return { value: { points, pareto, glueAverage } };
}

/** A grid point's identity: its method and its point less the task (Table 1 puts tasks in columns). */
export function rowKey(method: string, point: Record<string, unknown>): string {
  const rest = Object.keys(point)
    .filter((k) => k !== 'task')
    .sort()
    .map((k) => [k, point[k]]);
  return JSON.stringify([method, rest]);
}

function withoutTask(point: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(point).filter(([k]) => k !== 'task'));
}

/** "LST r=4", "LoRA rank 8": the run label (protocol/runLabel.ts) of the point, among the sweep's points. */
export function labeller(
  all: { method: string; point: Record<string, unknown> }[],
): (method: string, point: Record<string, unknown>) => string {
  const configs: RunConfig[] = all.map((p) => ({ method: p.method, ...withoutTask(p.point) }));
  return (method, point) => runLabel({ method, ...withoutTask(point) }, configs);
}

/** The live grid: one cell per grid point (method + point, tasks apart), its trials in seed order. */
export function buildGrid(trials: ManifestTrial[]): GridCell[] {
  const label = labeller(trials);
  const cells = new Map<string, GridCell>();
  for (const t of trials) {
    const key = JSON.stringify([t.method, t.point]);
    const cell = cells.get(key) ?? { method: t.method, label: label(t.method, t.point), trials: [] };
    if (typeof t.point.task === 'string' && !cell.label.includes(t.point.task)) cell.label += ` · ${t.point.task}`;
    cell.trials.push({ trialId: t.trialId, seed: t.seed, status: t.status, runId: t.runId });
    cells.set(key, cell);
  }
  for (const c of cells.values()) c.trials.sort((a, b) => a.seed - b.seed);
  return [...cells.values()];
}

export function countStates(trials: ManifestTrial[]): Record<TrialState, number> {
  const counts = Object.fromEntries(TRIAL_STATES.map((s) => [s, 0])) as Record<TrialState, number>;
  for (const t of trials) counts[t.status] += 1;
  return counts;
}

/** Table 1: one row per method + grid point, one score column per task, the GLUE average when there is one. */
export function buildTable(results: SweepResults | null): SweepTable {
  if (!results) return { tasks: [], hasGlueAverage: false, rows: [] };
  const tasks = [...new Set(results.points.map((p) => p.task))];
  const label = labeller(results.points);
  const onFront = new Set(results.pareto.map((p) => rowKey(p.method, p.point) + p.task));
  const glue = new Map((results.glueAverage ?? []).map((g) => [rowKey(g.method, g.point), g.score]));
  const rows = new Map<string, SweepRow & { peaks: number[] }>();
  for (const p of results.points) {
    const key = rowKey(p.method, p.point);
    const row = rows.get(key) ?? {
      method: p.method,
      label: label(p.method, p.point),
      scores: tasks.map(() => null),
      glueAverage: glue.get(key) ?? null,
      n: 0,
      trials: 0,
      peakBytes: null,
      onPareto: false,
      peaks: [],
    };
    if (isNum(p.mean.score)) row.scores[tasks.indexOf(p.task)] = { mean: p.mean.score, std: p.std.score ?? 0 };
    // Seeds per task column are the same in a grid; across several task columns the row says the fewest finished.
    row.n = row.trials === 0 ? p.n : Math.min(row.n, p.n);
    row.trials = Math.max(row.trials, p.trials);
    if (p.peakBytes !== null) row.peaks.push(p.peakBytes);
    row.onPareto ||= onFront.has(key + p.task);
    rows.set(key, row);
  }
  return {
    tasks,
    hasGlueAverage: results.glueAverage !== null,
    rows: [...rows.values()].map(({ peaks, ...row }) => ({
      ...row,
      peakBytes: peaks.length ? Math.max(...peaks) : null,
    })),
  };
}

/** The numeric field a method's points differ in (Figure 5's r, LoRA rank, adapter size), if there is one. */
function sizeField(points: Record<string, unknown>[]): string | null {
  const fields = [...new Set(points.flatMap((p) => Object.keys(p)))].filter((k) => k !== 'task');
  return fields.find((f) => points.every((p) => isNum(p[f])) && new Set(points.map((p) => p[f])).size > 1) ?? null;
}

/** The trade-off chart (first task): score vs peak memory in MiB per method, joined along the swept size. */
export function buildChart(results: SweepResults | null): TradeoffSeries[] {
  if (!results) return [];
  const task = results.points[0]?.task;
  const label = labeller(results.points);
  const front = new Set(results.pareto.filter((p) => p.task === task).map((p) => rowKey(p.method, p.point)));
  const byMethod = new Map<string, ResultsPoint[]>();
  for (const p of results.points) {
    if (p.task !== task || p.peakBytes === null || !isNum(p.mean.score)) continue;
    byMethod.set(p.method, [...(byMethod.get(p.method) ?? []), p]);
  }
  return [...byMethod].map(([method, pts]) => {
    const field = sizeField(pts.map((p) => p.point));
    // Joined along the swept size; a method whose points vary no number (keep_layers lists) along its memory.
    const ordered = [...pts].sort((a, b) =>
      field ? (a.point[field] as number) - (b.point[field] as number) : a.peakBytes! - b.peakBytes!,
    );
    return {
      method,
      label: field ? `${methodName(method)} (by ${field})` : methodName(method),
      sizeField: field,
      points: ordered.map((p) => ({
        x: p.peakBytes! / MIB,
        y: p.mean.score,
        std: p.std.score ?? 0,
        label: label(p.method, p.point),
        onPareto: front.has(rowKey(p.method, p.point)),
      })),
    };
  });
}

/** The charts over the swept fields (sweepFigures.ts); LST's dropped side layers counted on the file's backbone
 * (`folderLayers`: a checkpoint folder's count, read by the caller; the default's and a preset's are known here). */
export function buildFigures(
  results: SweepResults,
  fileValues: Record<string, unknown>,
  folderLayers: number | null = null,
): SweepFigure[] {
  const label = labeller(results.points);
  const front = new Set(results.pareto.map((p) => rowKey(p.method, p.point) + p.task));
  const layers = folderLayers ?? backboneLayers(fileValues.backbone);
  return figureAxes(results).map((axis) =>
    buildFigure(results, axis, fileValues, layers, label, (p) => front.has(rowKey(p.method, p.point) + p.task)),
  );
}

/** Everything the panel posts, from the folder's two files' text (null = missing). */
export function buildSweepState(
  sweepId: string,
  manifestText: string | null,
  resultsText: string | null,
  folderLayers: number | null = null,
): SweepState {
  const problems: string[] = [];
  const manifest = parseManifest(manifestText);
  if (manifest.problem) problems.push(manifest.problem);
  const results = parseResults(resultsText, manifest.value?.task ?? 'score');
  if (results.problem) problems.push(results.problem);
  const trials = manifest.value?.trials ?? [];
  const sweep = results.value ?? null;
  return {
    sweepId,
    problems,
    counts: countStates(trials),
    grid: buildGrid(trials),
    table: buildTable(sweep),
    chart: buildChart(sweep),
    figures: sweep ? buildFigures(sweep, manifest.value?.values ?? {}, folderLayers) : [],
  };
}

/** "50.0 ± 1.2": a score cell's text (the webview sets the std as a subscript; text exports write ±). */
export function scoreText(cell: { mean: number; std: number } | null): string {
  return cell ? `${cell.mean.toFixed(1)} ± ${cell.std.toFixed(1)}` : '—';
}

function columns(table: SweepTable): string[] {
  return ['method', ...table.tasks, ...(table.hasGlueAverage ? ['GLUE avg'] : []), 'n seeds', 'peak memory (MiB)'];
}

export function sweepCsv(table: SweepTable): string {
  const header = [
    'method',
    'label',
    ...table.tasks.flatMap((t) => [`${t}_mean`, `${t}_std`]),
    ...(table.hasGlueAverage ? ['glue_average'] : []),
    'n',
    'trials',
    'peak_train_memory_mib',
    'pareto',
  ];
  const lines = table.rows.map((r) =>
    [
      r.method,
      r.label,
      ...r.scores.flatMap((s) => [s?.mean ?? null, s?.std ?? null]),
      ...(table.hasGlueAverage ? [r.glueAverage] : []),
      r.n,
      r.trials,
      r.peakBytes === null ? null : r.peakBytes / MIB,
      r.onPareto ? 'yes' : 'no',
    ]
      .map(csvCell)
      .join(','),
  );
  return [header.join(','), ...lines].join('\n') + '\n';
}

export function sweepMarkdown(table: SweepTable, sweepId: string): string {
  const cols = columns(table);
  const rows = table.rows.map((r) => [
    r.onPareto ? `${r.label} ★` : r.label,
    ...r.scores.map(scoreText),
    ...(table.hasGlueAverage ? [r.glueAverage === null ? '—' : r.glueAverage.toFixed(1)] : []),
    `${r.n}/${r.trials}`,
    r.peakBytes === null ? '—' : (r.peakBytes / MIB).toFixed(1),
  ]);
  return [
    `# Ladder Lab sweep ${mdCell(sweepId)}`,
    '',
    `| ${cols.map(mdCell).join(' | ')} |`,
    `|${cols.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((cells) => `| ${cells.map(mdCell).join(' | ')} |`),
    '',
    'Scores: mean ± sample standard deviation over the finished seeds (0–100). Peak memory: the mean of the seeds’',
    'CUDA peak on a GPU, otherwise the accounted bytes. ★: on the Pareto front of score vs peak memory.',
    '',
  ].join('\n');
}
