// The sweep panel's messages: one sweep folder (<runs_dir>/sweeps/<id>/) shown as its trials' live grid, the
// Table 1 layout of its results.json and the score-vs-memory trade-off chart; while its engine runs, the sweep's
// progress and ETA, and Stop / Resume for the whole sweep.
import type { TrialStatus } from '../events';
import { isSafeId, own, payloadless, typeOf, type Channel, type Obj } from './common';

export const SweepMessages = {
  // webview -> host
  ready: 'sweep/ready',
  exportCsv: 'sweep/exportCsv',
  exportMarkdown: 'sweep/exportMarkdown',
  exportPng: 'sweep/exportPng', // { dataUrl }: the chart's canvas.toDataURL('image/png')
  exportChart: 'sweep/exportChart', // { axis, kind: 'csv' | 'md' }: the chart on that x axis as a table
  stop: 'sweep/stop', // the whole sweep: running trials checkpoint, the rest stay queued
  resume: 'sweep/resume', // `ladderlab sweep resume`
  // host -> webview
  state: 'sweep/state',
  live: 'sweep/live', // the engine's side: progress, ETA and which of Stop / Resume applies; sent as it changes
} as const;

/** A trial's states (protocol/events.ts TrialStatus, as manifest.json and sweep_trial events write them), in the
 * order a trial goes through them: the grid's counts and the manifest's validation list them at run time. */
export const TRIAL_STATES = [
  'queued',
  'running',
  'finished',
  'failed',
  'stopped',
  'early_stopped',
] as const satisfies readonly TrialStatus[];
export type TrialState = (typeof TRIAL_STATES)[number];
// Every TrialStatus is listed: adding one to events.ts without listing it here does not compile.
export const EVERY_TRIAL_STATE_LISTED: Exclude<TrialStatus, TrialState> extends never ? true : never = true;

/** One grid point (method + point) of the live grid: its trials' states, in seed order. */
export interface GridCell {
  method: string;
  label: string; // e.g. "LST r=4"
  trials: { trialId: string; seed: number; status: TrialState; runId: string | null }[];
}

/** One row of the Table 1 layout: a method at a grid point; one cell per task column. */
export interface SweepRow {
  method: string;
  label: string;
  /** Per task column (SweepTable.tasks): mean and sample std of the score over seeds; null when no seed finished. */
  scores: ({ mean: number; std: number } | null)[];
  /** The GLUE average of the row's tasks (results.json glue_average); null when the sweep has none. */
  glueAverage: number | null;
  n: number; // finished seeds
  trials: number; // seeds asked for
  peakBytes: number | null;
  onPareto: boolean;
}

export interface SweepTable {
  tasks: string[];
  hasGlueAverage: boolean;
  rows: SweepRow[];
}

/** One method's line in the trade-off chart: its points in order of the swept size. */
export interface TradeoffSeries {
  method: string;
  /** The line's name in the legend: the method, with the other swept fields' values that set it apart. */
  label: string;
  /** The numeric field the points are joined along (e.g. "r"); null when the method's points vary none. */
  sizeField: string | null;
  points: { x: number; y: number; std: number; label: string; onPareto: boolean }[]; // x: MiB, y: score
}

/** The x axis of SweepState.chart (score vs peak memory), beside the swept fields of SweepState.figures. */
export const MEMORY_AXIS = 'peak_memory';

/** Score vs another x axis (src/sweeps/sweepFigures.ts): a swept field, or LST's dropped side layers and the
 * baselines' frozen layers on one axis (the paper's Figure 6); x in the field's units. */
export interface SweepFigure {
  axis: string; // the field's name, or 'layers_dropped'
  title: string; // the x axis's title and the picker's text
  series: TradeoffSeries[];
}

export interface SweepState {
  sweepId: string;
  /** What is wrong with the folder (a missing or corrupt manifest.json / results.json), shown instead of a blank. */
  problems: string[];
  counts: Record<TrialState, number>;
  grid: GridCell[];
  table: SweepTable;
  chart: TradeoffSeries[];
  /** The charts over the swept fields, for the x-axis picker (peak memory's is `chart`). */
  figures: SweepFigure[];
}

/** A sweep's progress while its engine runs (src/sweeps/sweepProgress.ts reads it from the engine's events). */
export interface SweepProgress {
  total: number; // trials of the grid
  done: number; // finished, failed or early-stopped, by this run of the engine or before it (a resume)
  failed: number;
  /** The trial training now; totalSteps null until its first step is reported (or never, for a Ray trial). */
  running: { trialId: string; step: number; totalSteps: number | null } | null;
  /** Other trials training at the same time (a Ray sweep packs several on one GPU). */
  alsoRunning: number;
  /** Seconds until the sweep ends; null until a trial of this engine run has finished (no duration to go by). */
  etaS: number | null;
}

/** What the engine side of the panel shows. */
export interface SweepLive {
  /** The engine running this sweep: its state, or null when none runs it. */
  engine: 'starting' | 'running' | 'stopping' | null;
  progress: SweepProgress | null;
  canStop: boolean;
  /** Trials a resume would run (not finished); null when the manifest is unreadable. */
  unfinished: number | null;
  /** Resume is offered for a sweep with unfinished trials and no live engine; else why not (null: offered). */
  resumeBlocked: string | null;
}

export type SweepToWebview =
  { type: typeof SweepMessages.state; state: SweepState } | { type: typeof SweepMessages.live; live: SweepLive };
export type SweepFromWebview =
  | { type: typeof SweepMessages.ready }
  | { type: typeof SweepMessages.exportCsv }
  | { type: typeof SweepMessages.exportMarkdown }
  | { type: typeof SweepMessages.exportPng; dataUrl: string }
  | { type: typeof SweepMessages.exportChart; axis: string; kind: 'csv' | 'md' }
  | { type: typeof SweepMessages.stop }
  | { type: typeof SweepMessages.resume };
export type SweepChannel = Channel<SweepToWebview, SweepFromWebview>;

export const PNG_DATA_URL_PREFIX = 'data:image/png;base64,';
/** A chart image is a few hundred KiB; anything far larger is not one. */
export const MAX_PNG_DATA_URL = 20 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function parseSweepMessage(raw: unknown): SweepFromWebview | undefined {
  const type = typeOf(raw, 'sweep/');
  if (type === SweepMessages.exportChart) {
    const [axis, kind] = [own(raw as Obj, 'axis'), own(raw as Obj, 'kind')];
    return isSafeId(axis) && (kind === 'csv' || kind === 'md') ? { type, axis, kind } : undefined;
  }
  if (type !== SweepMessages.exportPng) {
    const { ready, exportCsv, exportMarkdown, stop, resume } = SweepMessages;
    return payloadless(type, [ready, exportCsv, exportMarkdown, stop, resume]);
  }
  const url = own(raw as Obj, 'dataUrl');
  if (typeof url !== 'string' || url.length > MAX_PNG_DATA_URL || !url.startsWith(PNG_DATA_URL_PREFIX))
    return undefined;
  if (!BASE64.test(url.slice(PNG_DATA_URL_PREFIX.length))) return undefined;
  return { type, dataUrl: url };
}
