// TypeScript view of protocol/events.schema.json, written by hand.
// test/unit/protocol-sync.test.ts fails if these types and the schema drift apart.

export type Phase = 'pruning_init' | 'distillation_init' | 'train' | 'eval';

/** Metric name -> value; 'score' is the task's main metric. */
export type Metrics = Record<string, number>;

export interface Params {
  total: number;
  trainable: number;
  trainable_pct: number;
}

/** Training memory. peak_* are CUDA peaks (null off CUDA); the rest are exact byte counts. */
export interface PhaseMemory {
  peak_allocated_bytes: number | null;
  peak_reserved_bytes: number | null;
  saved_for_backward_bytes: number;
  param_bytes: number;
  grad_bytes: number;
  optimizer_bytes: number;
  accounted_bytes?: number;
}

export interface StepMemory {
  allocated_bytes: number | null;
  reserved_bytes: number | null;
  saved_for_backward_bytes: number;
}

export interface SummaryMemory {
  train_peak_bytes: number | null;
  train_reserved_bytes?: number | null;
  saved_for_backward_bytes: number;
  param_bytes: number;
  grad_bytes: number;
  optimizer_bytes: number;
  accounted_bytes?: number;
}

export interface RunSummary {
  method: string;
  run_dir: string;
  trainable_pct: number;
  metrics: Metrics;
  validation_metrics?: Metrics;
  memory: SummaryMemory;
  best_epoch?: number;
  duration_s: number;
  /** How many test examples the metrics were computed on (absent from engines before it). */
  test_examples?: number;
}

/** Fields every event carries. */
interface EventBase {
  v: 1;
  /** Unix time in seconds. */
  ts: number;
  /** Run folder name; absent only for events raised before a run folder exists. */
  run_id?: string;
}

export interface RunStartedEvent extends EventBase {
  type: 'run_started';
  run_id: string;
  method: string;
  run_dir: string;
  device: string;
  config: Record<string, unknown>;
  params: Params;
  total_steps: number;
  /** Present on a resumed run: where it continues from (train_step events go on from step + 1). */
  resumed?: ResumedFrom;
}

export interface ResumedFrom {
  step: number;
  epoch: number;
  step_in_epoch: number;
  /** null: the run stopped before its first checkpoint and starts again from step 0 in its folder. */
  checkpoint: string | null;
}

export interface PhaseStartedEvent extends EventBase {
  type: 'phase_started';
  phase: Phase;
}

export interface TrainStepEvent extends EventBase {
  type: 'train_step';
  step: number;
  total_steps: number;
  epoch: number;
  loss: number;
  lr: number;
  step_s?: number;
  memory: StepMemory;
}

export interface EvaluationEvent extends EventBase {
  type: 'evaluation';
  split: 'validation' | 'test';
  step: number;
  epoch: number;
  examples?: number;
  metrics: Metrics;
}

export interface PhaseMemoryEvent extends EventBase {
  type: 'phase_memory';
  phase: Phase;
  memory: PhaseMemory;
}

export interface LogEvent extends EventBase {
  type: 'log';
  level: 'info' | 'warning';
  message: string;
}

export interface ErrorEvent extends EventBase {
  type: 'error';
  kind: 'bad_input' | 'oom' | 'crash';
  message: string;
  hint: string | null;
  phase?: Phase;
  /** Traceback for crashes; not shown to users by default. */
  detail?: string;
  /** kind "oom": the train step that failed, and what memory looked like. */
  step?: number;
  memory?: OomMemory;
}

export interface OomMemory {
  allocated_bytes: number | null;
  max_allocated_bytes: number | null;
  reserved_bytes: number | null;
  accounted_bytes: number | null;
  rss_bytes: number | null;
  predicted_peak_bytes: number | null;
}

export interface CheckpointSavedEvent extends EventBase {
  type: 'checkpoint_saved';
  run_id: string;
  step: number;
  total_steps: number;
  epoch: number;
  step_in_epoch: number;
  reason: 'interval' | 'epoch_end' | 'stop';
  path: string;
  bytes: number;
}

/** A graceful stop (SIGINT/SIGTERM, or early_stop: a sweep's ASHA ended this hopeless trial): the run's last event;
 * `checkpoint` is what a resume continues from. */
export interface RunStoppedEvent extends EventBase {
  type: 'run_stopped';
  run_id: string;
  step: number;
  total_steps: number;
  signal: 'SIGINT' | 'SIGTERM' | 'early_stop';
  checkpoint: string | null;
  message: string;
}

/** Where the side network's initial weights come from (LST's pruning init), with the Fisher pass's progress. */
export interface InitProgressEvent extends EventBase {
  type: 'init_progress';
  /** scores: computed now; cache: an earlier run's index sets reused; checkpoint: a resumed run (no init). */
  source: 'scores' | 'cache' | 'checkpoint';
  init: 'fisher' | 'magnitude' | 'distillation';
  elapsed_s: number;
  /** source scores with init fisher (or distillation): examples scored (trained on) so far, of how many, and the
   * seconds left (null at first). */
  examples?: InitExamples;
}

export interface InitExamples {
  done: number;
  total: number;
  eta_s: number | null;
}

export interface RunFinishedEvent extends EventBase {
  type: 'run_finished';
  run_id: string;
  summary: RunSummary;
}

/** A method of a comparison that failed (compare_finished.failed). */
export interface FailedMethod {
  method: string;
  kind: string;
  message: string;
  hint: string | null;
}

export interface CompareFinishedEvent extends EventBase {
  type: 'compare_finished';
  rows: RunSummary[];
  failed?: FailedMethod[]; // absent from engines before on_failure
  skipped?: string[]; // not started: an earlier method failed and on_failure is stop
}

/** `ladderlab sweep` (or its resume) begins; manifest.json and results.json are in sweep_dir. */
export interface SweepStartedEvent extends EventBase {
  type: 'sweep_started';
  sweep_id: string;
  sweep_dir: string;
  trials: number; // trials the grid expands to
  pending: number; // trials this invocation runs (fewer on a resume)
}

/** early_stopped: ASHA (sweep.early_stopping) ended the trial as hopeless; its run keeps its checkpoint and a resume
 * leaves it. */
export type TrialStatus = 'queued' | 'running' | 'finished' | 'failed' | 'stopped' | 'early_stopped';

/** A sweep trial changed state; run_id (inherited) is its run folder, absent before it has one. */
export interface SweepTrialEvent extends EventBase {
  type: 'sweep_trial';
  trial_id: string;
  method: string;
  point: Record<string, unknown>;
  seed: number;
  status: TrialStatus;
}

/** One grid point over its seeds: mean and sample std (0 for n = 1) of every test metric. */
export interface SweepPoint {
  method: string;
  point: Record<string, unknown>;
  trials: number;
  n: number; // finished trials
  mean: Metrics;
  std: Metrics;
  peak_bytes: number | null; // mean peak training memory (CUDA peak, else accounted bytes)
  memory: { mean: Record<string, number>; std: Record<string, number> };
}

export interface SweepFinishedEvent extends EventBase {
  type: 'sweep_finished';
  sweep_id: string;
  sweep_dir: string;
  points: SweepPoint[];
}

export type EngineEvent =
  | RunStartedEvent
  | PhaseStartedEvent
  | TrainStepEvent
  | EvaluationEvent
  | PhaseMemoryEvent
  | LogEvent
  | ErrorEvent
  | RunFinishedEvent
  | CompareFinishedEvent
  | CheckpointSavedEvent
  | RunStoppedEvent
  | InitProgressEvent
  | SweepStartedEvent
  | SweepTrialEvent
  | SweepFinishedEvent;

export type EngineEventType = EngineEvent['type'];
