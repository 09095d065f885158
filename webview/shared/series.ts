// Pure shaping of engine events into what the run monitor shows: loss per method, memory over time, progress,
// phase and ETA. No DOM here, so unit tests run it on real engine output.
import type { EngineEvent, InitProgressEvent, Phase } from '../../protocol/events';
import type { GpuSample } from '../../protocol/webviews/common';

export interface Point {
  x: number;
  y: number;
}

/** Where a run's side network came from (init_progress events), and the Fisher pass's progress. */
export interface InitState {
  source: InitProgressEvent['source'];
  init: InitProgressEvent['init'];
  done: number | null; // examples scored (init fisher, source scores)
  total: number | null;
  etaS: number | null; // seconds left when the event was written
  elapsedS: number;
}

export interface RunInfo {
  runId: string;
  method: string;
  device: string;
  totalSteps: number;
  step: number;
  epochs: number | null; // from run_started's config: how many validations the run does
  phase: Phase | null;
  status: 'running' | 'finished' | 'failed' | 'stopped';
  stepTimes: number[]; // seconds per step, in order (step_s, or the gap between step events)
  lastStepTs: number | null;
  evalStartTs: number | null; // phase_started eval (the test pass); validation starts at the last step
  evalTimes: number[]; // seconds each evaluation (validation or test) took
  validations: number;
  tested: boolean;
  init: InitState | null;
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
  shownInfo: Set<string>; // info lines already shown: each run repeats the data-split notes, shown once
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
    shownInfo: new Set(),
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
        epochs: typeof e.config?.epochs === 'number' ? e.config.epochs : null,
        phase: null,
        status: 'running',
        stepTimes: [],
        lastStepTs: null,
        evalStartTs: null,
        evalTimes: [],
        validations: 0,
        tested: false,
        init: null,
        error: null,
      });
      const configured = e.config?.methods;
      const listed = Array.isArray(configured) ? configured.filter((m): m is string => typeof m === 'string') : [];
      // The comparison's own list wins over a shorter one (folders read back after a reload hold only the runs
      // started so far); not on a resume, which continues this one run alone.
      if (!e.resumed && listed.length > model.methods.length && model.methods.every((m) => listed.includes(m)))
        model.methods = listed;
      if (!model.methods.includes(e.method)) model.methods.push(e.method);
      break;
    }
    case 'phase_started': {
      const run = runFor(model, e.run_id);
      if (run) run.phase = e.phase;
      if (run && e.phase === 'eval') run.evalStartTs = e.ts;
      break;
    }
    case 'init_progress':
      applyInit(model, e);
      break;
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
      if (run) {
        const from = run.evalStartTs ?? run.lastStepTs; // validation follows an epoch's last step
        if (from !== null && e.ts >= from) run.evalTimes.push(e.ts - from);
        if (e.split === 'validation') run.validations++;
        else run.tested = true;
        run.evalStartTs = null;
        run.lastStepTs = e.ts; // the next step's gap starts here, not before the evaluation
      }
      if (run && run.phase !== 'eval' && run.status === 'running') run.phase = 'eval';
      const score = e.metrics.score;
      if (typeof score === 'number') {
        const when = e.split === 'validation' ? ` after epoch ${e.epoch + 1}` : ' (best epoch)';
        pushMessage(model, 'info', `${run?.method ?? 'run'}: ${e.split} score ${score.toFixed(2)}${when}`, e.ts);
      }
      break;
    }
    case 'log':
      if (e.level === 'info' && model.shownInfo.has(e.message)) break;
      if (e.level === 'info') model.shownInfo.add(e.message);
      pushMessage(model, e.level, e.message, e.ts);
      break;
    case 'run_stopped': {
      const run = runFor(model, e.run_id);
      if (run) {
        run.status = 'stopped';
        run.phase = null;
      }
      const resumable = e.checkpoint
        ? '; it can be resumed from its checkpoint'
        : '; before its first checkpoint: resuming starts it again';
      pushMessage(
        model,
        'info',
        `${run?.method ?? 'run'}: stopped at step ${e.step} of ${e.total_steps}${resumable}`,
        e.ts,
      );
      break;
    }
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

function applyInit(model: MonitorModel, e: InitProgressEvent): void {
  const run = runFor(model, e.run_id);
  const ex = e.examples;
  const init: InitState = {
    source: e.source,
    init: e.init,
    done: ex?.done ?? null,
    total: ex?.total ?? null,
    etaS: ex?.eta_s ?? null,
    elapsedS: e.elapsed_s,
  };
  if (run) {
    run.init = init;
    if (e.source !== 'checkpoint' && run.status === 'running') run.phase = initPhase(e.init);
  }
  const method = run?.method ?? 'run';
  const done = ex === undefined || ex.done >= ex.total;
  if (e.source === 'cache')
    pushMessage(model, 'info', `${method}: side network from cache (the ${initName(e.init)} init was reused)`, e.ts);
  else if (e.source === 'checkpoint')
    pushMessage(model, 'info', `${method}: side network restored from its checkpoint (no init)`, e.ts);
  else if (done) {
    const how = !ex
      ? 'weight magnitudes'
      : e.init === 'distillation'
        ? `distillation on ${ex.total} examples`
        : `Fisher scores of ${ex.total} examples`;
    pushMessage(model, 'info', `${method}: side network initialised in ${e.elapsed_s.toFixed(1)} s (${how})`, e.ts);
  }
}

/** The phase an init's events belong to (the engine opens it with phase_started). */
function initPhase(init: InitProgressEvent['init']): Phase {
  return init === 'distillation' ? 'distillation_init' : 'pruning_init';
}

function initName(init: InitProgressEvent['init']): string {
  return init === 'distillation' ? 'distillation' : 'pruning';
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
  runIndex: number; // 0-based position of the current run's method among the session's methods
  runCount: number;
  fraction: number; // 0..1 over the whole session
  runEtaS: number | null; // seconds left in the current run: its steps and evaluations (null: unknown, or not live)
  sessionEtaS: number | null; // plus the later methods, each at its own speed where known
  evalIncluded: boolean; // whether the ETAs include evaluation (known once one evaluation was timed)
  phase: Phase | null;
  init: InitState | null; // the current run's init (while it runs: the Fisher pass's progress)
  initFraction: number | null; // examples scored / total while the Fisher pass runs
}

export interface ProgressOptions {
  window?: number; // recent steps whose median step time is the pace
  live?: boolean; // false once the session stopped, failed, finished or was interrupted: no phase, no ETA
  stepS?: Record<string, number>; // seconds per step of methods not run yet (e.g. their last run's), by method
}

/** Where the session is, and the time left: the current run's remaining steps and evaluations at its own pace,
 * then each later method at its own speed (a run of it in this session, else `stepS`, else the current pace). */
export function progress(model: MonitorModel, options: ProgressOptions = {}): Progress {
  const { window = 20, live = true, stepS = {} } = options;
  const current = model.runs[model.runs.length - 1] ?? null;
  const position = current ? model.methods.indexOf(current.method) : -1;
  // A method that failed before its run started leaves no run: count by the method's place in the session.
  const runIndex = Math.max(model.runs.length - 1, position, 0);
  const runCount = Math.max(model.methods.length, runIndex + 1, 1);
  const running = live && current?.status === 'running';
  const within = running && current.totalSteps > 0 ? current.step / current.totalSteps : 0;
  const fraction = model.finished ? 1 : Math.min(1, (runIndex + (!current ? 0 : running ? within : 1)) / runCount);
  const phase = running ? current.phase : null;
  const inInit = phase === 'pruning_init' || phase === 'distillation_init';
  const inFisher = inInit && current?.init?.source === 'scores' && !!current.init.total;
  const initFraction = inFisher ? current.init!.done! / current.init!.total! : null;
  const base = { current, runIndex, runCount, fraction, phase, init: current?.init ?? null, initFraction };
  const stepTime = current ? median(current.stepTimes.slice(-window)) : null;
  if (!running || inInit || stepTime === null)
    return { ...base, runEtaS: null, sessionEtaS: null, evalIncluded: false };
  // Every method evaluates the same data through the same backbone: any timed evaluation is the best guess.
  const evalS = median(current.evalTimes) ?? median(model.runs.flatMap((r) => r.evalTimes));
  const evals = (epochs: number) => (evalS ?? 0) * (epochs + 1); // a validation per epoch, then the test
  const left = Math.max(0, current.totalSteps - current.step);
  const evalsLeft = Math.max(0, (current.epochs ?? 1) - current.validations) + (current.tested ? 0 : 1);
  const runEtaS = left * stepTime + (evalS ?? 0) * evalsLeft;
  let later = 0;
  for (const method of model.methods.slice(runIndex + 1)) {
    const ran = model.runs.find((r) => r.method === method && r.stepTimes.length > 0);
    const pace = (ran && median(ran.stepTimes.slice(-window))) ?? stepS[method] ?? stepTime;
    later += current.totalSteps * pace + evals(current.epochs ?? 1); // same data, epochs and batch size
  }
  return { ...base, runEtaS, sessionEtaS: runEtaS + later, evalIncluded: evalS !== null };
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
  distillation_init: 'Initialising the side network (distillation)',
  train: 'Training',
  eval: 'Evaluating',
};

/** Total number of points over a set of series (what the charts expose as data-points). */
export function countPoints(series: Iterable<{ points: Point[] } | Point[]>): number {
  let n = 0;
  for (const s of series) n += Array.isArray(s) ? s.length : s.points.length;
  return n;
}
