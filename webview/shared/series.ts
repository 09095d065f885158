// Pure shaping of engine events into what the run monitor shows: loss per method, memory over time, progress,
// phase and ETA. No DOM here, so unit tests run it on real engine output.
import type { EngineEvent, Phase } from '../../protocol/events';
import type { GpuSample } from '../../protocol/webviews/common';

export interface Point {
  x: number;
  y: number;
}

export interface RunInfo {
  runId: string;
  method: string;
  device: string;
  totalSteps: number;
  step: number;
  phase: Phase | null;
  status: 'running' | 'finished' | 'failed';
  stepTimes: number[]; // seconds per step, in order (step_s, or the gap between step events)
  lastStepTs: number | null;
  error: string | null;
}

/** One memory line: which run, what it measures, in MiB over seconds since the session started. */
export interface MemorySeries {
  key: string; // stable id, e.g. "lst/saved"
  label: string;
  method: string | null; // null for device-wide lines (nvidia-smi)
  kind: 'allocated' | 'reserved' | 'saved' | 'gpu';
  points: Point[];
}

export interface MonitorModel {
  methods: string[]; // the session's methods, in run order
  startTs: number | null; // ts of the first event: x = 0 of the memory chart
  runs: RunInfo[]; // in start order
  loss: Map<string, Point[]>; // method -> (step, loss)
  memory: Map<string, MemorySeries>;
  messages: { level: 'info' | 'warning' | 'error'; text: string; ts: number }[];
  finished: boolean; // compare_finished (or the single run finished)
}

export const MIB = 1024 * 1024;
const MAX_MESSAGES = 200;

export function createModel(methods: string[] = []): MonitorModel {
  return {
    methods: [...methods],
    startTs: null,
    runs: [],
    loss: new Map(),
    memory: new Map(),
    messages: [],
    finished: false,
  };
}

function runFor(model: MonitorModel, runId: string | undefined): RunInfo | undefined {
  if (runId === undefined) return model.runs[model.runs.length - 1];
  for (let i = model.runs.length - 1; i >= 0; i--) if (model.runs[i].runId === runId) return model.runs[i];
  return undefined;
}

function memoryLine(model: MonitorModel, key: string, init: Omit<MemorySeries, 'key' | 'points'>): MemorySeries {
  let s = model.memory.get(key);
  if (!s) {
    s = { key, ...init, points: [] };
    model.memory.set(key, s);
  }
  return s;
}

function pushMessage(model: MonitorModel, level: 'info' | 'warning' | 'error', text: string, ts: number): void {
  model.messages.push({ level, text, ts });
  if (model.messages.length > MAX_MESSAGES) model.messages.splice(0, model.messages.length - MAX_MESSAGES);
}

/** Folds one event into the model (mutates it). Unknown or out-of-order events are tolerated. */
export function applyEvent(model: MonitorModel, e: EngineEvent): void {
  if (model.startTs === null) model.startTs = e.ts;
  const t = e.ts - model.startTs;
  switch (e.type) {
    case 'run_started': {
      model.runs.push({
        runId: e.run_id,
        method: e.method,
        device: e.device,
        totalSteps: e.total_steps,
        step: 0,
        phase: null,
        status: 'running',
        stepTimes: [],
        lastStepTs: null,
        error: null,
      });
      const configured = e.config?.methods;
      if (model.methods.length === 0 && Array.isArray(configured)) {
        model.methods = configured.filter((m): m is string => typeof m === 'string');
      }
      if (!model.methods.includes(e.method)) model.methods.push(e.method);
      break;
    }
    case 'phase_started': {
      const run = runFor(model, e.run_id);
      if (run) run.phase = e.phase;
      break;
    }
    case 'train_step': {
      const run = runFor(model, e.run_id);
      const method = run?.method ?? 'run';
      if (run) {
        run.step = e.step;
        run.totalSteps = e.total_steps;
        run.phase = 'train';
        const gap = run.lastStepTs === null ? null : e.ts - run.lastStepTs;
        const seconds = e.step_s ?? gap;
        if (seconds !== null && seconds >= 0) run.stepTimes.push(seconds);
        run.lastStepTs = e.ts;
      }
      let loss = model.loss.get(method);
      if (!loss) model.loss.set(method, (loss = []));
      if (Number.isFinite(e.loss)) loss.push({ x: e.step, y: e.loss });
      const m = e.memory;
      if (m.allocated_bytes !== null) {
        memoryLine(model, `${method}/allocated`, {
          label: `${method} allocated (CUDA)`,
          method,
          kind: 'allocated',
        }).points.push({ x: t, y: m.allocated_bytes / MIB });
      }
      if (m.reserved_bytes !== null) {
        memoryLine(model, `${method}/reserved`, {
          label: `${method} reserved (CUDA)`,
          method,
          kind: 'reserved',
        }).points.push({ x: t, y: m.reserved_bytes / MIB });
      }
      if (m.allocated_bytes === null && m.reserved_bytes === null) {
        memoryLine(model, `${method}/saved`, {
          label: `${method} saved for backward (accounted, not CUDA)`,
          method,
          kind: 'saved',
        }).points.push({ x: t, y: m.saved_for_backward_bytes / MIB });
      }
      break;
    }
    case 'evaluation': {
      const run = runFor(model, e.run_id);
      if (run && run.phase !== 'eval' && run.status === 'running') run.phase = 'eval';
      const score = e.metrics.score;
      if (typeof score === 'number') {
        const when = e.split === 'validation' ? ` after epoch ${e.epoch + 1}` : ' (best epoch)';
        pushMessage(model, 'info', `${run?.method ?? 'run'}: ${e.split} score ${score.toFixed(2)}${when}`, e.ts);
      }
      break;
    }
    case 'log':
      pushMessage(model, e.level, e.message, e.ts);
      break;
    case 'error': {
      const run = runFor(model, e.run_id);
      if (run && (e.run_id !== undefined || run.status === 'running')) {
        run.status = 'failed';
        run.error = e.message;
      }
      pushMessage(model, 'error', e.hint ? `${e.message} — ${e.hint}` : e.message, e.ts);
      break;
    }
    case 'run_finished': {
      const run = runFor(model, e.run_id);
      if (run) {
        run.status = 'finished';
        run.step = run.totalSteps;
        run.phase = null;
      }
      if (model.methods.length <= 1) model.finished = true;
      break;
    }
    case 'compare_finished':
      model.finished = true;
      break;
    case 'phase_memory':
      break;
  }
}

export function modelFromEvents(events: readonly EngineEvent[], methods: string[] = []): MonitorModel {
  const model = createModel(methods);
  for (const e of events) applyEvent(model, e);
  return model;
}

/** Adds an nvidia-smi sample as one "GPU n used" line per device (x on the same clock as the events). */
export function applyGpuSample(model: MonitorModel, sample: GpuSample): void {
  if (model.startTs === null) return; // nothing to align with yet
  const t = sample.t - model.startTs;
  if (t < 0) return;
  for (const g of sample.gpus) {
    memoryLine(model, `gpu${g.index}`, {
      label: `GPU ${g.index} used, whole device (nvidia-smi, of ${Math.round(g.totalMiB)} MiB)`,
      method: null,
      kind: 'gpu',
    }).points.push({ x: t, y: g.usedMiB });
  }
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface Progress {
  current: RunInfo | null;
  runIndex: number; // 0-based index of the current run among the session's methods
  runCount: number;
  fraction: number; // 0..1 over the whole session
  runEtaS: number | null; // seconds left in the current run's training, from its recent step times
  sessionEtaS: number | null; // rough: remaining runs assumed as fast as this one
  phase: Phase | null;
}

/** Steps still to go times the median of the last `window` step times; later runs are assumed alike. */
export function progress(model: MonitorModel, window = 20): Progress {
  const current = model.runs[model.runs.length - 1] ?? null;
  const runCount = Math.max(model.methods.length, model.runs.length, 1);
  const done = model.runs.filter((r) => r.status !== 'running').length;
  if (!current)
    return {
      current,
      runIndex: 0,
      runCount,
      fraction: model.finished ? 1 : 0,
      runEtaS: null,
      sessionEtaS: null,
      phase: null,
    };
  const runIndex = model.runs.length - 1;
  const within = current.status === 'running' && current.totalSteps > 0 ? current.step / current.totalSteps : 0;
  const fraction = model.finished ? 1 : Math.min(1, (done + (current.status === 'running' ? within : 0)) / runCount);
  const stepTime = median(current.stepTimes.slice(-window));
  let runEtaS: number | null = null;
  let sessionEtaS: number | null = null;
  if (current.status === 'running' && stepTime !== null) {
    runEtaS = Math.max(0, current.totalSteps - current.step) * stepTime;
    const later = Math.max(0, runCount - model.runs.length);
    sessionEtaS = runEtaS + later * current.totalSteps * stepTime;
  } else if (model.finished || (done === runCount && current.status !== 'running')) {
    runEtaS = 0;
    sessionEtaS = 0;
  }
  return {
    current,
    runIndex,
    runCount,
    fraction,
    runEtaS,
    sessionEtaS,
    phase: current.status === 'running' ? current.phase : null,
  };
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export const PHASE_LABELS: Record<Phase, string> = {
  pruning_init: 'Initialising the side network (pruning)',
  train: 'Training',
  eval: 'Evaluating',
};

/** Total number of points over a set of series (what the charts expose as data-points). */
export function countPoints(series: Iterable<{ points: Point[] } | Point[]>): number {
  let n = 0;
  for (const s of series) n += Array.isArray(s) ? s.length : s.points.length;
  return n;
}
