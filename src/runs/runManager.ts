// RunManager: what the rest of the host holds (RunManagerApi), composed of the two rooms behind it:
// EngineSessions (engine processes: launch, attach after a reload, stop, resume, session state and events) and
// WorkspaceRunStore (the run folders on disk: listing, reading, watching). Each hears the other only through
// what is wired here: the store asks the sessions which runs are live, the sessions tell the store when runs change.
import { EngineSessions, type EngineSessionsOptions } from './engineSessions';
import type { StoredRun } from './runStore';
import type { RunManagerApi, Session } from './types';
import { WorkspaceRunStore } from './workspaceRuns';

export type RunManagerOptions = EngineSessionsOptions;

export class RunManager implements RunManagerApi {
  readonly onDidEvent: RunManagerApi['onDidEvent'];
  readonly onDidChangeSessions: RunManagerApi['onDidChangeSessions'];
  readonly onDidChangeRuns: RunManagerApi['onDidChangeRuns'];
  /** Resolves once engines left running by an earlier window are attached. */
  readonly ready: Promise<void>;

  private readonly store: WorkspaceRunStore;
  private readonly engines: EngineSessions;

  constructor(opts: RunManagerOptions) {
    // The store only calls isLive when listing, after both exist.
    this.store = new WorkspaceRunStore(opts.log, (runId) => this.engines.ownsRun(runId));
    this.engines = new EngineSessions(opts, this.store);
    this.onDidEvent = this.engines.onDidEvent;
    this.onDidChangeSessions = this.engines.onDidChangeSessions;
    this.onDidChangeRuns = this.store.onDidChange;
    this.ready = this.engines.ready;
  }

  sessions(): Session[] {
    return this.engines.sessions();
  }

  activeSession(): Session | undefined {
    return this.engines.activeSession();
  }

  /** Resolves when the session's engine process has exited (the session's final state is set by then). */
  whenDone(sessionId: string): Promise<Session> {
    return this.engines.whenDone(sessionId);
  }

  /** The engine's pid of a session (tests kill it to play a crash). */
  pidOf(sessionId: string): number | undefined {
    return this.engines.pidOf(sessionId);
  }

  startComparison(experimentPath: string): Promise<Session> {
    return this.engines.startComparison(experimentPath);
  }

  resume(run: string): Promise<Session> {
    return this.engines.resume(run);
  }

  resumeSweep(sweepDir: string): Promise<Session> {
    return this.engines.resumeSweep(sweepDir);
  }

  stop(sessionId?: string): Promise<void> {
    return this.engines.stop(sessionId);
  }

  listRuns(): Promise<StoredRun[]> {
    return this.store.listRuns();
  }

  /** The window is going away: the engines go on (the next window attaches to them); the watch ends. */
  dispose(): void {
    this.engines.dispose();
    this.store.dispose();
  }
}
