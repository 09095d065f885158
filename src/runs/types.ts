// The contract between the run side of the host (engine/, runs/) and the views and panels that show runs.
// Views and panels depend on these interfaces only, never on how the worker is spawned or files are read.
import type * as vscode from 'vscode';
import type { EngineEvent, RunSummary } from '../../protocol/events';
import type { SessionKind } from './sessionFiles';

export type RunStatus = 'running' | 'finished' | 'failed' | 'interrupted' | 'corrupt';

/** One run folder under the runs directory (the source of truth), as read back from disk. */
export interface RunRecord {
  id: string; // the folder name, e.g. 20261126-221135-lst-d49c
  dir: string; // absolute path
  method: string;
  status: RunStatus;
  startedAt?: number; // unix seconds, from run_started
  summary?: RunSummary; // from summary.json / run_finished
  lastStep?: { step: number; totalSteps: number; loss: number };
  error?: { kind: string; message: string; hint: string | null };
  problem?: string; // why a folder is 'corrupt' (e.g. "events.jsonl line 12 is not JSON")
  /** Worth telling but not corrupt, e.g. "the last line of events.jsonl was cut off (the engine was killed)". */
  notes?: string[];
  /** An interrupted run `ladderlab resume` takes up: from its checkpoint, or (none yet) from the start in its folder. */
  resumable?: boolean;
  /** An interrupted run's checkpoint.pt exists: resume continues from it rather than starting again. */
  checkpoint?: boolean;
  /** config.json: the resolved experiment + method + lr (+ experiment_file and comparison from newer engines). */
  config?: Record<string, unknown>;
  /** The name the user gave the run (label.json in its folder), shown instead of the label made from its config. */
  userLabel?: string;
  /** Read from events.jsonl: what the Results table needs beyond summary.json. */
  timing?: RunTiming;
}

export interface RunTiming {
  stepS: number | null; // median seconds per training step (step_s: the step alone, no init, no evaluation)
  initS: number | null; // run_started -> the train phase: model setup and LST's pruning init (first session)
  testExamples: number | null; // n of the test evaluation (the binomial noise band needs it)
}

/** An engine process: a comparison launched from the editor (several methods in turn), a run's resume, or a sweep. */
export interface Session {
  id: string;
  kind: SessionKind;
  experimentPath: string;
  methods: string[];
  /** A sweep's folder (<runs_dir>/sweeps/<id>): known at launch for a resume, from sweep_started for a new sweep. */
  sweepDir?: string;
  /** Followed after a window reload (the engine was started by an earlier window), not launched by this one. */
  attached?: boolean;
  // interrupted: the engine died without saying why (killed, crashed hard); its runs can be resumed.
  state: 'starting' | 'running' | 'stopping' | 'finished' | 'failed' | 'stopped' | 'interrupted';
  events: EngineEvent[]; // every event so far, in order: panels replay these when their webview reloads
}

export interface SessionEvent {
  sessionId: string;
  event: EngineEvent;
}

export interface RunManagerApi extends vscode.Disposable {
  readonly onDidEvent: vscode.Event<SessionEvent>; // live, one per engine event
  readonly onDidChangeSessions: vscode.Event<void>; // started / state changed / ended
  readonly onDidChangeRuns: vscode.Event<void>; // the run store on disk changed
  sessions(): Session[];
  activeSession(): Session | undefined;
  startComparison(experimentPath: string): Promise<Session>; // a file with a sweep block starts its sweep
  resume(run: string): Promise<Session>; // a run id or folder; interrupted runs only
  resumeSweep(sweepDir: string): Promise<Session>; // a sweep folder of the workspace with unfinished trials
  stop(sessionId?: string): Promise<void>;
  listRuns(): Promise<RunRecord[]>; // every run folder of the workspace, newest first; corrupt ones included
}
