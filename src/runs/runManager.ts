// Implements RunManagerApi: launches comparisons (one engine process each), keeps every session's events for
// replay, and watches the runs folders so views refresh when the engine (or anything else) writes there.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineEvent } from '../../protocol/events';
import { checkEnvironment, describeReport, type EnvironmentReport } from '../engine/environment';
import { findPython } from '../engine/python';
import { compareArgs, EngineWorker, type Logger } from '../engine/worker';
import { parseExperimentText } from '../experiment/model';
import { parseRunId, RunReader, sortRuns, type StoredRun } from './runStore';
import type { RunManagerApi, Session, SessionEvent } from './types';

export const DEFAULT_RUNS_DIR = '.ladderlab/runs';

/** Why launching is refused, or undefined if it is allowed. Running a workspace's Python is code execution. */
export function launchBlockedReason(trusted: boolean): string | undefined {
  return trusted
    ? undefined
    : 'Ladder Lab does not start the engine in a Restricted Mode workspace: running it executes this workspace\'s Python. ' +
        'Trust the workspace (Manage Workspace Trust) to run experiments; existing results are still listed.';
}

/** The engine's environment lacks packages; carries the report so the UI can offer "Set Up Engine Environment". */
export class EngineEnvironmentError extends Error {
  constructor(readonly report: EnvironmentReport) {
    super(`The engine cannot run: ${describeReport(report)}. Run "Ladder Lab: Set Up Engine Environment" or choose another interpreter.`);
  }
}

export interface RunManagerOptions {
  log: Logger;
  isTrusted?: () => boolean;
  findPython?: (folder?: vscode.WorkspaceFolder) => Promise<string>;
  checkEnvironment?: (python: string, cwd: string) => Promise<EnvironmentReport>;
  graceMs?: number;
}

interface LiveSession {
  session: Session;
  worker?: EngineWorker;
  startedAt: number; // unix seconds
  runIds: Set<string>; // run folders this session's engine announced
  stopRequested: boolean;
  done: Promise<Session>;
}

export function runsDirFor(folder: vscode.WorkspaceFolder): string {
  const setting = vscode.workspace.getConfiguration('ladderLab', folder.uri).get<string>('runsDir') || DEFAULT_RUNS_DIR;
  return path.resolve(folder.uri.fsPath, setting);
}

export class RunManager implements RunManagerApi {
  private readonly eventEmitter = new vscode.EventEmitter<SessionEvent>();
  private readonly sessionsEmitter = new vscode.EventEmitter<void>();
  private readonly runsEmitter = new vscode.EventEmitter<void>();
  readonly onDidEvent = this.eventEmitter.event;
  readonly onDidChangeSessions = this.sessionsEmitter.event;
  readonly onDidChangeRuns = this.runsEmitter.event;

  private readonly live: LiveSession[] = [];
  private readonly checkedPythons = new Set<string>(); // interpreters that passed the environment check
  private readonly reader = new RunReader();
  private watchers: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private runsTimer: NodeJS.Timeout | undefined;
  private counter = 0;
  private launching = false;

  constructor(private readonly opts: RunManagerOptions) {
    this.watch();
    this.disposables.push(
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.watch()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('ladderLab.runsDir')) this.watch();
      }),
    );
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

  async startComparison(experimentPath: string): Promise<Session> {
    const blocked = launchBlockedReason(this.opts.isTrusted?.() ?? vscode.workspace.isTrusted);
    if (blocked) throw new Error(blocked);
    const active = this.activeSession();
    if (active) throw new Error(`A comparison (${active.methods.join(', ')}) is already running; stop it first (Ladder Lab: Stop Run).`);
    // One engine at a time (they would compete for the same GPU/CPU): also while this one is being prepared.
    if (this.launching) throw new Error('A comparison is already starting.');
    this.launching = true;
    try {
      return await this.launch(experimentPath);
    } finally {
      this.launching = false;
    }
  }

  private async launch(experimentPath: string): Promise<Session> {
    const name = path.basename(experimentPath);
    const { values, errors } = parseExperimentText(await readFile(experimentPath, 'utf8'));
    if (!values || errors.length) throw new Error(`${name}: ${errors.map((e) => e.message).join('; ')}`);
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(experimentPath)) ?? vscode.workspace.workspaceFolders?.[0];
    // Relative paths in the file (data) are relative to the workspace folder, like `ladderlab` run from there.
    const cwd = folder?.uri.fsPath ?? path.dirname(experimentPath);
    const python = this.opts.findPython ? await this.opts.findPython(folder) : (await findPython(folder)).path;
    if (!this.checkedPythons.has(python)) {
      const report = await (this.opts.checkEnvironment ?? ((p, c) => checkEnvironment(p, { cwd: c })))(python, cwd);
      if (!report.ok) throw new EngineEnvironmentError(report);
      this.checkedPythons.add(python);
    }

    const session: Session = {
      id: `session-${Date.now().toString(36)}-${++this.counter}`,
      experimentPath,
      methods: (values.methods as string[] | undefined) ?? ['lst'],
      state: 'starting',
      events: [],
    };
    let finish!: (s: Session) => void;
    const l: LiveSession = { session, startedAt: Date.now() / 1000, runIds: new Set(), stopRequested: false, done: new Promise((r) => (finish = r)) };
    this.live.push(l);
    const runsDir = folder ? runsDirFor(folder) : path.resolve(cwd, DEFAULT_RUNS_DIR);
    this.opts.log.info(`starting ${session.methods.join(', ')} from ${experimentPath} with ${python} (runs in ${runsDir})`);
    l.worker = new EngineWorker({
      python,
      args: compareArgs(experimentPath, runsDir),
      cwd,
      log: this.opts.log,
      graceMs: this.opts.graceMs,
      onEvent: (event) => this.onEngineEvent(l, event),
    });
    void l.worker.exited.then((exit) => {
      if (exit.spawnError) this.opts.log.error(exit.spawnError);
      session.state = l.stopRequested ? 'stopped' : exit.code === 0 ? 'finished' : 'failed';
      this.opts.log.info(`engine exited (code ${exit.code}${exit.signal ? `, signal ${exit.signal}` : ''}): session ${session.state}`);
      this.sessionsEmitter.fire();
      this.runsChanged();
      finish(session);
    });
    this.sessionsEmitter.fire();
    return session;
  }

  private onEngineEvent(l: LiveSession, event: EngineEvent): void {
    const { session } = l;
    session.events.push(event);
    if (session.state === 'starting') {
      session.state = 'running';
      this.sessionsEmitter.fire();
    }
    if (event.type === 'run_started') l.runIds.add(event.run_id);
    if (event.type === 'run_started' || event.type === 'run_finished' || event.type === 'error') this.runsChanged();
    this.eventEmitter.fire({ sessionId: session.id, event });
  }

  async stop(sessionId?: string): Promise<void> {
    const l = sessionId ? this.live.find((x) => x.session.id === sessionId) : this.live.find((x) => x.session === this.activeSession());
    if (!l || !l.worker || !isActive(l.session)) return;
    l.stopRequested = true;
    l.session.state = 'stopping';
    this.sessionsEmitter.fire();
    await l.worker.stop();
  }

  async listRuns(): Promise<StoredRun[]> {
    const all: StoredRun[] = [];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      try {
        all.push(...(await this.reader.read(runsDirFor(folder), (id) => this.isLive(id))));
      } catch (e) {
        this.opts.log.warn(`cannot list runs in ${runsDirFor(folder)}: ${(e as Error).message}`);
      }
    }
    return sortRuns(all);
  }

  /** A run folder belongs to a live engine if that engine announced it, or if it appeared after the engine
   * started and the engine has not announced it yet (the folder exists a moment before run_started). */
  private isLive(id: string): boolean {
    return this.live.some((l) => {
      if (!isActive(l.session)) return false;
      if (l.runIds.has(id)) return true;
      const born = parseRunId(id).startedAt;
      return born !== undefined && born >= Math.floor(l.startedAt) - 1;
    });
  }

  private watch(): void {
    this.watchers.forEach((w) => w.dispose());
    this.watchers = (vscode.workspace.workspaceFolders ?? []).map((folder) => {
      const dir = runsDirFor(folder);
      const rel = path.relative(folder.uri.fsPath, dir);
      // Inside the folder, a folder-relative glob rides on the workspace's own recursive watcher, which also sees
      // the runs dir appear later; a runs dir elsewhere gets a watcher of its own.
      const pattern = rel && !rel.startsWith('..') && !path.isAbsolute(rel)
        ? new vscode.RelativePattern(folder, `${rel.split(path.sep).join('/')}/**`)
        : new vscode.RelativePattern(vscode.Uri.file(dir), '**');
      const watcher = vscode.workspace.createFileSystemWatcher(pattern);
      const changed = () => this.runsChanged();
      watcher.onDidCreate(changed);
      watcher.onDidChange(changed);
      watcher.onDidDelete(changed);
      return watcher;
    });
    this.runsChanged();
  }

  /** Debounced: the engine writes several files per step; views need one refresh. */
  private runsChanged(): void {
    if (this.runsTimer) clearTimeout(this.runsTimer);
    this.runsTimer = setTimeout(() => this.runsEmitter.fire(), 300);
  }

  dispose(): void {
    for (const l of this.live) if (l.worker && isActive(l.session)) void l.worker.stop();
    if (this.runsTimer) clearTimeout(this.runsTimer);
    [...this.watchers, ...this.disposables, this.eventEmitter, this.sessionsEmitter, this.runsEmitter].forEach((d) => d.dispose());
  }
}

function isActive(s: Session): boolean {
  return s.state === 'starting' || s.state === 'running' || s.state === 'stopping';
}
