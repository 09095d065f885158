// The sweep's charts beside score vs peak memory (sweepTable.ts buildChart, the LST paper's Figure 5): score vs a
// swept field on the x axis. Figure 6 is one x axis, "layers dropped / frozen", for LST's side layers left out
// (keep_layers) and the baselines' frozen layers (freeze_layers); Figure 7 is score vs r with one line per init.
// One line per method × the values of the other swept fields, the seeds' std as error bars. No vscode: unit-tested on
// real sweep folders (test/unit/fixtures/sweep-figures); only backboneFolderLayers reads a file.
import { FIELDS } from '../../protocol/experimentFields';
import { runLabel } from '../../protocol/runLabel';
import { MEMORY_AXIS, type SweepFigure, type SweepState, type TradeoffSeries } from '../../protocol/webviews/sweep';
import * as path from 'node:path';
import { backboneInfo, DEFAULT_BACKBONE, infoFromConfig, PRESETS } from '../views/backboneInfo';
import { csvCell, mdCell } from '../panels/resultsTable';
import type { ResultsPoint, SweepResults } from './sweepTable';

/** The x axis shared by LST's dropped side layers and the baselines' frozen layers (Figure 6). */
export const LAYERS_DROPPED = 'layers_dropped';
const LAYER_FIELDS = ['keep_layers', 'freeze_layers'];

const spec = (name: string) => FIELDS.find((f) => f.name === name);
const applies = (field: string, method: string) => {
  const s = spec(field);
  return !!s && (!s.methods || s.methods.includes(method));
};
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** What a point trained with: its grid value, else the experiment file's, else the field's default. */
function valueOf(p: ResultsPoint, field: string, fileValues: Record<string, unknown>): unknown {
  if (field in p.point) return p.point[field];
  if (field in fileValues) return fileValues[field];
  return spec(field)?.default ?? null;
}

/** The layer count of the default backbone or a preset (a folder's is not read here: null, then guessed). */
export function backboneLayers(backbone: unknown): number | null {
  if (backbone === undefined || backbone === 'default') return DEFAULT_BACKBONE.layers;
  const name = typeof backbone === 'string' && backbone.startsWith('preset:') ? backbone.slice(7) : null;
  return name && Object.hasOwn(PRESETS, name) ? infoFromConfig(PRESETS[name], name).layers : null;
}

/** A sweep's backbone layer count when it is a checkpoint folder (its config.json; a relative path is read from the
 * experiment file's folder, as the engine does); null for the default or a preset (backboneLayers knows those), or
 * when the folder cannot be read (the layer count is then guessed from the sweep's keep_layers). */
export async function backboneFolderLayers(manifestText: string | null): Promise<number | null> {
  try {
    const manifest = JSON.parse(manifestText ?? 'null') as {
      experiment_file?: unknown;
      values?: { backbone?: unknown };
    } | null;
    const backbone = manifest?.values?.backbone;
    if (typeof backbone !== 'string' || backbone === 'default' || backbone.startsWith('preset:')) return null;
    const base = typeof manifest?.experiment_file === 'string' ? path.dirname(manifest.experiment_file) : '.';
    return (await backboneInfo(backbone, (p) => path.resolve(base, p))).layers;
  } catch {
    return null;
  }
}

/** The backbone's layer count for "layers dropped": given, else one past the highest layer any point keeps. */
function layerCount(points: ResultsPoint[], fileValues: Record<string, unknown>, layers: number | null): number {
  if (layers !== null) return layers;
  const kept = points.flatMap((p) => {
    const v = valueOf(p, 'keep_layers', fileValues);
    return Array.isArray(v) ? v.filter(isNum) : [];
  });
  return kept.length ? Math.max(...kept) + 1 : 0;
}

function xOf(axis: string, p: ResultsPoint, fileValues: Record<string, unknown>, layers: number): number | null {
  if (axis === LAYERS_DROPPED) {
    if (applies('keep_layers', p.method)) {
      const kept = valueOf(p, 'keep_layers', fileValues);
      return Array.isArray(kept) ? Math.max(0, layers - kept.length) : 0; // null keeps every layer
    }
    const frozen = applies('freeze_layers', p.method) ? valueOf(p, 'freeze_layers', fileValues) : null;
    return isNum(frozen) ? frozen : null;
  }
  if (!applies(axis, p.method)) return null;
  const v = valueOf(p, axis, fileValues);
  return isNum(v) ? v : null;
}

/** The x axes a sweep offers besides peak memory: each numeric swept field with two values or more, and the one
 * layers axis when keep_layers or freeze_layers is swept. */
export function figureAxes(results: SweepResults): string[] {
  const swept = [...new Set(results.points.flatMap((p) => Object.keys(p.point)))].filter((k) => k !== 'task');
  const axes: string[] = [];
  for (const field of swept) {
    if (LAYER_FIELDS.includes(field)) {
      if (!axes.includes(LAYERS_DROPPED)) axes.push(LAYERS_DROPPED);
      continue;
    }
    const values = results.points.filter((p) => field in p.point).map((p) => p.point[field]);
    if (values.every(isNum) && new Set(values).size > 1) axes.push(field);
  }
  return axes;
}

export function axisTitle(axis: string): string {
  if (axis === LAYERS_DROPPED) return 'layers dropped (LST) / frozen (baselines)';
  const s = spec(axis);
  return s ? `${s.label} (${axis})` : axis;
}

/**
 * Score vs `axis` (a swept field, or LAYERS_DROPPED), for every task: one line per method and values of the other
 * swept fields, points in x order. Points whose method the field does not apply to are left out (LoRA on an r axis).
 * `layers`: the backbone's layer count (LST's dropped side layers are counted from it); null = guessed from the
 * sweep's keep_layers.
 */
export function buildFigure(
  results: SweepResults,
  axis: string,
  fileValues: Record<string, unknown>,
  layers: number | null,
  label: (method: string, point: Record<string, unknown>) => string,
  onFront: (p: ResultsPoint) => boolean,
): SweepFigure {
  const count = layerCount(results.points, fileValues, layers);
  const onAxis = axis === LAYERS_DROPPED ? LAYER_FIELDS : [axis];
  const lines = new Map<string, { method: string; rest: Record<string, unknown>; points: ResultsPoint[] }>();
  const tasks = new Set(results.points.map((p) => p.task));
  for (const p of results.points) {
    if (!isNum(p.mean.score) || xOf(axis, p, fileValues, count) === null) continue;
    const rest = Object.fromEntries(
      Object.entries(p.point).filter(([k]) => !onAxis.includes(k) && (k !== 'task' || tasks.size > 1)),
    );
    const key = JSON.stringify([p.method, Object.entries(rest).sort(([a], [b]) => a.localeCompare(b))]);
    const line = lines.get(key) ?? { method: p.method, rest, points: [] };
    line.points.push(p);
    lines.set(key, line);
  }
  const configs = [...lines.values()].map((l) => ({ method: l.method, ...l.rest }));
  const series: TradeoffSeries[] = [...lines.values()].map((l) => {
    const pts = l.points
      .map((p) => ({ p, x: xOf(axis, p, fileValues, count)! }))
      .sort((a, b) => a.x - b.x)
      .map(({ p, x }) => ({
        x,
        y: p.mean.score,
        std: p.std.score ?? 0,
        label: label(p.method, p.point),
        onPareto: onFront(p),
      }));
    const task = typeof l.rest.task === 'string' ? ` · ${l.rest.task}` : '';
    const rest = Object.fromEntries(Object.entries(l.rest).filter(([k]) => k !== 'task'));
    return {
      method: l.method,
      label: runLabel({ method: l.method, ...rest }, configs) + task,
      sizeField: axis,
      points: pts,
    };
  });
  return { axis, title: axisTitle(axis), series };
}

/** A chart's points as CSV: one row per point, its line, x, mean score and std (what the PNG draws, as numbers). */
export function figureCsv(figure: SweepFigure, xName: string): string {
  const header = ['line', 'method', 'point', xName, 'score_mean', 'score_std', 'pareto'];
  const rows = figure.series.flatMap((s) =>
    s.points.map((p) =>
      [s.label, s.method, p.label, p.x, p.y, p.std, p.onPareto ? 'yes' : 'no'].map(csvCell).join(','),
    ),
  );
  return [header.join(','), ...rows].join('\n') + '\n';
}

/** A chart as a Markdown table: one row per line and a column per x value, mean ± std in the cells (the paper's
 * way for a swept field); `pivot` false (peak memory, where each point has its own x) lists one row per point. */
export function figureMarkdown(
  figure: SweepFigure,
  sweepId: string,
  xText: (x: number) => string,
  pivot = true,
): string {
  const cell = (p: { y: number; std: number; onPareto: boolean }) =>
    `${p.y.toFixed(1)} ± ${p.std.toFixed(1)}${p.onPareto ? ' ★' : ''}`;
  const xs = [...new Set(figure.series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const cols = pivot ? ['line', ...xs.map(xText)] : ['line', 'point', figure.title, 'score'];
  const rows = pivot
    ? figure.series.map((s) => [
        s.label,
        ...xs.map((x) => {
          const p = s.points.find((q) => q.x === x);
          return p ? cell(p) : '—';
        }),
      ])
    : figure.series.flatMap((s) => s.points.map((p) => [s.label, p.label, xText(p.x), cell(p)]));
  return [
    `# Ladder Lab sweep ${mdCell(sweepId)}: score vs ${mdCell(figure.title)}`,
    '',
    `| ${cols.map(mdCell).join(' | ')} |`,
    `|${cols.map((_, i) => (i === 0 || (!pivot && i === 1) ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((cells) => `| ${cells.map(mdCell).join(' | ')} |`),
    '',
    'Scores: mean ± sample standard deviation over the finished seeds (0–100). ★: on the Pareto front of score vs',
    'peak memory.',
    '',
  ].join('\n');
}

/** One chart of the panel as CSV or Markdown: peak memory's (x in MiB) or a swept field's; null for an axis the
 * sweep does not have. */
export function chartExport(state: SweepState, axis: string, kind: 'csv' | 'md'): string | null {
  const memory = axis === MEMORY_AXIS;
  const figure = memory
    ? { axis, title: 'peak training memory (MiB)', series: state.chart }
    : state.figures.find((f) => f.axis === axis);
  if (!figure || figure.series.length === 0) return null;
  if (kind === 'csv') return figureCsv(figure, memory ? 'peak_train_memory_mib' : axis);
  return figureMarkdown(figure, state.sweepId, (x) => (memory ? x.toFixed(1) : String(x)), !memory);
}
