// Engine sessions: every engine process this window follows, whether it launched it (a comparison, a resume, a sweep) or
// an earlier window did and left it running (attached after a reload, from the session folders). Owns the launch
// guards (trust, one engine at a time), each session's state and events, Stop, and the fan-out of events to the
// views and panels. The run folders on disk are the WorkspaceRunStore's; this only tells it when they change.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineEvent } from '../../protocol/events';
import { checkEnvironment, type EnvironmentReport } from '../engine/environment';
import type { Logger } from '../engine/logger';
import { findPython } from '../engine/python';
import {
  compareArgs,
  EngineWorker,
  isEngineProcess,
  resumeArgs,
  sweepArgs,
  sweepBackendArgs,
  sweepResumeArgs,
  type SweepBackend,
} from '../engine/worker';
import { parseExperimentText, SWEEP_KEY } from '../../protocol/experiment';
import {
  EngineEnvironmentError,
  experimentLaunchProblem,
  launchBlockedReason,
  resumeRefusal,
  sweepResumeRefusal,
} from './launchChecks';
import { DEFAULT_RUNS_DIR } from './runsDir';
import { parseRunId, readRunEvents } from './runStore';
import {
  listSessionFiles,
  removeSessionDir,
  sessionDir,
  SESSION_FILE,
  writeJsonAtomic,
  type SessionFile,
} from './sessionFiles';
import { finalState, isActive, sessionNoun } from './sessionState';
import { runsDirOfSweep } from '../sweeps/sweepFolders';
import type { Session, SessionEvent } from './types';
import { findWorkspaceSweep, runsDirFor, tryRunsDir, type WorkspaceRunStore } from './workspaceRuns';

export interface EngineSessionsOptions {
  log: Logger;
  isTrusted?: () => boolean;
  findPython?: (folder?: vscode.WorkspaceFolder) => Promise<string>;
  checkEnvironment?: (python: string, cwd: string) => Promise<EnvironmentReport>;
  graceMs?: number;
}

/** An engine to start: what it runs, where, and the session it becomes. */
interface Launch {
  kind: SessionFile['kind'];
  experimentPath: string;
  methods: string[];
  python: string;
  args: string[];
  cwd: string;
  runsDir: string;
  history: EngineEvent[]; // a resumed run's events so far: the monitor's chart continues them
  runDir?: string;
  sweepDir?: string; // a sweep's resume: its folder
}

interface LiveSession {
  session: Session;
  worker?: EngineWorker;
  startedAt: number; // unix seconds
  runIds: Set<string>; // run folders this session's engine announced
  stopRequested: boolean;
  done: Promise<Session>;
  finish: (s: Session) => void; // resolves done
  runsDir: string;
  kind: SessionFile['kind'];
}

export class EngineSessions implements vscode.Disposable {
  private readonly eventEmitter = new vscode.EventEmitter<SessionEvent>();
  private readonly sessionsEmitter = new vscode.EventEmitter<void>();
  readonly onDidEvent = this.eventEmitter.event;
  readonly onDidChangeSessions = this.sessionsEmitter.event;
  /** Resolves once engines left running by an earlier window are attached. */
  readonly ready: Promise<void>;

  private readonly live: LiveSession[] = [];
  private readonly checkedPythons = new Set<string>(); // interpreters that passed the environment check
  private readonly disposables: vscode.Disposable[] = [];
  private counter = 0;
  private launching = false;
  private disposed = false;

  constructor(
    private readonly opts: EngineSessionsOptions,
    private readonly runs: WorkspaceRunStore,
  ) {
    this.disposables.push(vscode.workspace.onDidChangeWorkspaceFolders(() => void this.reattach()));
    this.ready = this.reattach();
  }

  private trusted(): boolean {
    return this.opts.isTrusted?.() ?? vscode.workspace.isTrusted;
  }

  sessions(): Session[] {
    return this.live.map((l) => l.session);
  }

  activeSession(): Session | undefined {
    return [...this.live].reverse().find((l) => isActive(l.session))?.session;
  }

  /** Resolves when the session's engine process has exited (the session's final state is set by then). */
  whenDone(sessionId: string): Promise<Session> {
    const l = this.live.find((x) => x.session.id === sessionId);
    return l ? l.done : Promise.reject(new Error(`no session ${sessionId}`));
  }

  /** The engine's pid of a session (tests kill it to play a crash). */
  pidOf(sessionId: string): number | undefined {
    return this.live.find((x) => x.session.id === sessionId)?.worker?.pid;
  }

  /** A run folder belongs to a live engine if that engine announced it, or if it appeared after the engine
   * started and the engine has not announced it yet (the folder exists a moment before run_started). */
  ownsRun(runId: string): boolean {
    return this.live.some((l) => {
      if (!isActive(l.session)) return false;
      if (l.runIds.has(runId)) return true;
      if (l.kind === 'resume') return false; // a comparison's or a sweep's new runs are born after it started
      const born = parseRunId(runId).startedAt;
      return born !== undefined && born >= Math.floor(l.startedAt) - 1;
    });
  }

  /** Runs an experiment file: its comparison, or its sweep when the file has a sweep block. */
  startComparison(experimentPath: string): Promise<Session> {
    return this.exclusive(() => this.launchComparison(experimentPath));
  }

  /** Continues a stopped or interrupted sweep of the workspace: `ladderlab sweep resume SWEEP_DIR`. */
  resumeSweep(sweepDir: string): Promise<Session> {
    return this.exclusive(() => this.launchSweepResume(sweepDir));
  }

  /** Continues an interrupted run (a run id or its folder) from its checkpoint, or starts it again in its folder when
   * it has none yet: `ladderlab resume RUN_DIR`. */
  resume(run: string): Promise<Session> {
    return this.exclusive(() => this.launchResume(run));
  }

  /** The guards every launch goes through: trust, one engine at a time, one launch being prepared at a time. */
  private async exclusive(launch: () => Promise<Session>): Promise<Session> {
    const blocked = launchBlockedReason(this.trusted());
    if (blocked) throw new Error(blocked);
    const active = this.activeSession();
    if (active)
      throw new Error(
        `A ${sessionNoun(active.kind)} (${active.methods.join(', ')}) is already running; stop it first (Ladder Lab: Stop Run).`,
      );
    // One engine at a time (they would compete for the same GPU/CPU): also while this one is being prepared.
    if (this.launching)
      throw new Error('An engine is already starting; wait for it, or stop it (Ladder Lab: Stop Run).');
    this.launching = true;
    try {
      return await launch();
    } finally {
      this.launching = false;
    }
  }

  private async python(folder: vscode.WorkspaceFolder | undefined, cwd: string): Promise<string> {
    const python = this.opts.findPython ? await this.opts.findPython(folder) : (await findPython(folder)).path;
    if (!this.checkedPythons.has(python)) {
      const report = await (this.opts.checkEnvironment ?? ((p, c) => checkEnvironment(p, { cwd: c })))(python, cwd);
      if (!report.ok) throw new EngineEnvironmentError(report);
      this.checkedPythons.add(python);
    }
    return python;
  }

  private async launchComparison(experimentPath: string): Promise<Session> {
    let text: string;
    try {
      text = await readFile(experimentPath, 'utf8');
    } catch (e) {
      throw new Error(
        `${path.basename(experimentPath)} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that the file exists.`,
      );
    }
    const values = parseExperimentText(text).values;
    const folder =
      vscode.workspace.getWorkspaceFolder(vscode.Uri.file(experimentPath)) ?? vscode.workspace.workspaceFolders?.[0];
    // Relative paths in the file (data) are relative to the workspace folder, like `ladderlab` run from there.
    const cwd = folder?.uri.fsPath ?? path.dirname(experimentPath);
    const problem = await experimentLaunchProblem(experimentPath, text);
    if (problem) throw new Error(problem);
    const runsDir = folder ? runsDirFor(folder) : path.resolve(cwd, DEFAULT_RUNS_DIR);
    const python = await this.python(folder, cwd);
    const methods = [...values.methods];
    const sweep = parseExperimentText(text).raw?.[SWEEP_KEY] !== undefined;
    const what = sweep ? `the sweep of ${methods.join(', ')}` : methods.join(', ');
    this.opts.log.info(`starting ${what} from ${experimentPath} with ${python} (runs in ${runsDir})`);
    return this.spawnSession({
      kind: sweep ? 'sweep' : 'compare',
      experimentPath,
      methods,
      python,
      args: sweep
        ? sweepArgs(experimentPath, runsDir, this.sweepBackend(folder))
        : compareArgs(experimentPath, runsDir),
      cwd,
      runsDir,
      history: [],
    });
  }

  /** The backend flags from the ladderLab.sweep settings of the folder. */
  private sweepBackend(folder: vscode.WorkspaceFolder | undefined): string[] {
    const config = vscode.workspace.getConfiguration('ladderLab.sweep', folder?.uri);
    return sweepBackendArgs(config.get<SweepBackend>('backend') ?? 'auto', config.get<string>('rayAddress'));
  }

  private async launchSweepResume(sweepDir: string): Promise<Session> {
    const sweep = await findWorkspaceSweep(sweepDir);
    if (!sweep) throw new Error(`${sweepDir} is not a sweep folder of this workspace's runs folders.`);
    const refusal = sweepResumeRefusal(sweep);
    if (refusal) throw new Error(refusal);
    const folder =
      vscode.workspace.getWorkspaceFolder(vscode.Uri.file(sweep.dir)) ?? vscode.workspace.workspaceFolders?.[0];
    const runsDir = runsDirOfSweep(sweep.dir);
    const cwd = folder?.uri.fsPath ?? runsDir;
    const python = await this.python(folder, cwd);
    this.opts.log.info(`resuming the sweep ${sweep.id} with ${python}`);
    return this.spawnSession({
      kind: 'sweep',
      experimentPath: sweep.dir,
      methods: sweep.methods,
      python,
      args: sweepResumeArgs(sweep.dir, this.sweepBackend(folder)),
      cwd,
      runsDir,
      history: [],
      sweepDir: sweep.dir,
    });
  }

  private async launchResume(run: string): Promise<Session> {
    const record = await this.runs.findRun(run);
    if (!record) throw new Error(`No run ${run} in this workspace's runs folders; refresh the Runs view.`);
    const refusal = resumeRefusal(record);
    if (refusal) throw new Error(refusal);
    const folder =
      vscode.workspace.getWorkspaceFolder(vscode.Uri.file(record.dir)) ?? vscode.workspace.workspaceFolders?.[0];
    const cwd = folder?.uri.fsPath ?? path.dirname(record.dir);
    const python = await this.python(folder, cwd);
    // The run's history so far: the monitor charts it and the resumed steps continue the same lines.
    const history = await readRunEvents(record.dir);
    this.opts.log.info(`resuming ${record.id} with ${python}`);
    return this.spawnSession({
      kind: 'resume',
      experimentPath: record.dir,
      methods: [record.method],
      python,
      args: resumeArgs(record.dir),
      cwd,
      runsDir: path.dirname(record.dir),
      history,
      runDir: record.dir,
    });
  }

  private async spawnSession(p: Launch): Promise<Session> {
    const id = `session-${Date.now().toString(36)}-${++this.counter}-${Math.random().toString(36).slice(2, 6)}`;
    const session: Session = {
      id,
      kind: p.kind,
      experimentPath: p.experimentPath,
      methods: p.methods,
      ...(p.sweepDir ? { sweepDir: p.sweepDir } : {}),
      state: 'starting',
      events: [...p.history],
    };
    const l = this.track(session, p.runsDir, p.kind, Date.now() / 1000, p.runDir);
    const logDir = sessionDir(p.runsDir, id);
    let worker: EngineWorker;
    try {
      worker = l.worker = EngineWorker.spawn({
        python: p.python,
        args: p.args,
        cwd: p.cwd,
        logDir,
        log: this.opts.log,
        graceMs: this.opts.graceMs,
        onEvent: (event) => this.onEngineEvent(l, event),
      });
    } catch (e) {
      // e.g. the runs folder is read-only: the session must not stay "starting" and block every later launch.
      session.state = 'failed';
      l.finish(session);
      this.sessionsEmitter.fire();
      throw new Error(
        `Cannot start the engine: ${(e as Error).message}. Check that ${p.runsDir} is writable (setting ladderLab.runsDir).`,
      );
    }
    if (worker.pid !== undefined) {
      const file: SessionFile = {
        version: 1,
        id,
        pid: worker.pid,
        kind: p.kind,
        experimentPath: p.experimentPath,
        methods: p.methods,
        startedAt: l.startedAt,
        ...(p.runDir ? { runDir: p.runDir } : {}),
      };
      await writeJsonAtomic(path.join(logDir, SESSION_FILE), file).catch((e: Error) =>
        this.opts.log.warn(`cannot write ${SESSION_FILE}: ${e.message}`),
      );
    }
    this.follow(l, worker);
    return session;
  }

  /** Finds engines an earlier window started (session folders with a live engine pid) and follows them. */
  private async reattach(): Promise<void> {
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const runsDir = tryRunsDir(folder);
      if (!runsDir) continue;
      for (const found of await listSessionFiles(runsDir)) {
        const s = found.session;
        if (!s) {
          this.opts.log.warn(`ignoring ${found.dir}: ${found.problem}`);
          continue;
        }
        if (this.disposed || this.live.some((l) => l.session.id === s.id)) continue;
        if (!isEngineProcess(s.pid)) {
          // The engine ended while no window watched: the run folders tell how. Tidy up (a write: trusted only).
          if (this.trusted()) await removeSessionDir(runsDir, s.id).catch(() => undefined);
          continue;
        }
        // The resumed run's events before this process: events.jsonl minus what the process itself wrote since.
        const history =
          s.kind === 'resume' && s.runDir && path.dirname(s.runDir) === runsDir
            ? (await readRunEvents(s.runDir)).filter((e) => e.ts < s.startedAt)
            : [];
        const session: Session = {
          id: s.id,
          kind: s.kind,
          experimentPath: s.experimentPath,
          methods: s.methods,
          attached: true,
          state: 'running',
          events: history,
        };
        const l = this.track(session, runsDir, s.kind, s.startedAt, s.runDir);
        this.opts.log.info(`attached to the engine (pid ${s.pid}) of ${s.id}, started by an earlier window`);
        const worker = (l.worker = EngineWorker.attach({
          pid: s.pid,
          logDir: found.dir,
          log: this.opts.log,
          onEvent: (event) => this.onEngineEvent(l, event),
          graceMs: this.opts.graceMs,
        }));
        this.follow(l, worker);
        await worker.replayed; // `ready` means the replay is in the session's events
        if (session.state === 'starting') session.state = 'running';
      }
    }
  }

  private track(
    session: Session,
    runsDir: string,
    kind: SessionFile['kind'],
    startedAt: number,
    runDir: string | undefined,
  ): LiveSession {
    let finish!: (s: Session) => void;
    const done = new Promise<Session>((r) => (finish = r));
    const l: LiveSession = { session, startedAt, runIds: new Set(), stopRequested: false, done, finish, runsDir, kind };
    if (runDir) l.runIds.add(path.basename(runDir));
    this.live.push(l);
    this.sessionsEmitter.fire();
    return l;
  }

  /** When the engine exits: the final state, a refresh, and the session folder removed (its events are in the runs). */
  private follow(l: LiveSession, worker: EngineWorker): void {
    const { session } = l;
    void worker.exited.then((exit) => {
      if (exit.spawnError) this.opts.log.error(exit.spawnError);
      session.state = finalState(l.kind, l.stopRequested, exit, session.events, session.methods);
      this.opts.log.info(
        `engine exited (code ${exit.code}${exit.signal ? `, signal ${exit.signal}` : ''}): session ${session.state}`,
      );
      l.finish(session);
      // A window that let go of the engine (disposed) leaves the folder to the window that attached to it.
      if (this.disposed) return;
      // Listeners (status bar, tree, monitor) hear of the end in the same tick the state changes.
      this.sessionsEmitter.fire();
      this.runs.changed();
      if (this.trusted()) void removeSessionDir(l.runsDir, session.id).catch(() => undefined);
    });
  }

  private onEngineEvent(l: LiveSession, event: EngineEvent): void {
    const { session } = l;
    session.events.push(event);
    if (session.state === 'starting') {
      session.state = 'running';
      this.sessionsEmitter.fire();
    }
    if (event.type === 'run_started') l.runIds.add(event.run_id);
    if (event.type === 'sweep_started') session.sweepDir = event.sweep_dir;
    if (event.type === 'run_started' || event.type === 'run_finished' || event.type === 'error') this.runs.changed();
    this.eventEmitter.fire({ sessionId: session.id, event });
  }

  async stop(sessionId?: string): Promise<void> {
    const l = sessionId
      ? this.live.find((x) => x.session.id === sessionId)
      : this.live.find((x) => x.session === this.activeSession());
    if (!l || !l.worker || !isActive(l.session)) return;
    // Signalling a process is acting on the machine: not from a Restricted Mode window (the pid of an attached
    // session comes from a file in the workspace).
    const blocked = launchBlockedReason(this.trusted());
    if (blocked) throw new Error(blocked.replace('does not start the engine', 'does not stop or start engines'));
    l.stopRequested = true;
    l.session.state = 'stopping';
    this.sessionsEmitter.fire();
    await l.worker.stop();
  }

  /**
   * The window is going away (reload, close): stop following the engines but leave them running; the next
   * window attaches to them from their session folders. Stop Run is how a user ends a run.
   */
  dispose(): void {
    this.disposed = true;
    for (const l of this.live) l.worker?.detach();
    for (const d of [...this.disposables, this.eventEmitter, this.sessionsEmitter]) d.dispose();
  }
}
