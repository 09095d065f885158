// Runs the engine CLI as a detached child process and turns its output into protocol events.
// The engine's stdout and stderr go to FILES in a session folder, never to pipes: a pipe dies with the extension
// host (a window reload), and the engine would then die on its next write. The host tails the files instead
// (SessionOutput), so a reloaded window can attach to the same process again and read everything from the start.
// Two ways in, one class: EngineWorker.spawn starts an engine, EngineWorker.attach follows one an earlier window
// started. No vscode import: the host passes a Logger, so the line handling and the stop sequence are testable
// under node.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EngineEvent } from '../../protocol/events';
import { SessionOutput, STDERR_FILE, STDOUT_FILE } from './engineOutput';
import type { Logger } from './logger';

export type { Logger } from './logger';

/** Tells the engine it runs for the extension (errors.py CLIENT_ENV), so its hints say what to click. */
export const ENGINE_CLIENT_ENV = 'LADDERLAB_CLIENT';

/** The environment of every engine process the extension starts (a run, an estimate, an export): the user's, no hub
 * downloads, unbuffered UTF-8 output, and the marker that makes the engine's hints speak to a VS Code user. */
export function engineEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...extra,
    HF_HUB_OFFLINE: '1',
    PYTHONUNBUFFERED: '1',
    PYTHONIOENCODING: 'utf-8',
    [ENGINE_CLIENT_ENV]: 'vscode',
  };
}

export function compareArgs(configPath: string, runsDir?: string): string[] {
  const args = ['-m', 'ladderlab.cli', 'compare', '--config', configPath, '--format', 'events'];
  return runsDir ? [...args, '--runs-dir', runsDir] : args;
}

/** `ladderlab resume RUN_DIR`: continues an interrupted run from its checkpoint, appending to its events.jsonl. */
export function resumeArgs(runDir: string): string[] {
  return ['-m', 'ladderlab.cli', 'resume', runDir, '--format', 'events'];
}

/** Where a sweep's trials run: the ladderLab.sweep.backend setting and, for a cluster, ladderLab.sweep.rayAddress. */
export type SweepBackend = 'auto' | 'ray' | 'local';
export const SWEEP_BACKENDS: readonly SweepBackend[] = ['auto', 'ray', 'local'];

/** The engine's backend flags for the settings: an address means that Ray cluster (unless the backend is "local").
 * "auto" is the engine's to decide: Ray when a local Ray would listen on 127.0.0.1 only, else the trials one after
 * another in its own process, with a log event that says why. */
export function sweepBackendArgs(backend: SweepBackend, rayAddress?: string): string[] {
  const address = rayAddress?.trim();
  if (backend === 'local') return ['--backend', 'local'];
  if (address) return ['--backend', 'ray', '--ray-address', address];
  return ['--backend', backend];
}

/** `ladderlab sweep --config F`: expands the file's sweep block into trials, runs and aggregates them. */
export function sweepArgs(configPath: string, runsDir: string, backend: string[]): string[] {
  return ['-m', 'ladderlab.cli', 'sweep', '--config', configPath, '--runs-dir', runsDir, ...backend, '--format', 'events'];
}

/** `ladderlab sweep resume SWEEP_DIR`: finished trials kept, stopped ones continued, the rest run. */
export function sweepResumeArgs(sweepDir: string, backend: string[]): string[] {
  return ['-m', 'ladderlab.cli', 'sweep', 'resume', sweepDir, ...backend, '--format', 'events'];
}

/** What every worker needs, however its process came to be. */
export interface FollowOptions {
  /** The session folder: stdout.jsonl and stderr.log are there. */
  logDir: string;
  log: Logger;
  onEvent: (event: EngineEvent) => void;
  /** How long each signal gets before the next, harder one. Default: SIGINT 30 s (the engine finishes its step and
   * writes a checkpoint), SIGTERM 5 s. Given: every signal gets this long. */
  graceMs?: number;
  pollMs?: number;
}

/** EngineWorker.spawn: the interpreter, its arguments and where it runs. */
export interface SpawnOptions extends FollowOptions {
  python: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/** EngineWorker.attach: the pid of an engine an earlier window spawned (from its session.json). */
export interface AttachOptions extends FollowOptions {
  pid: number;
}

export interface WorkerExit {
  /** null when unknown: the process was not our child (attached after a reload) or died of a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not start at all (e.g. the interpreter does not exist). */
  spawnError?: string;
}

export const CHECKPOINT_GRACE_MS = 30_000;
export const TERM_GRACE_MS = 5_000;
const ATTACHED_POLL_MS = 250;

/** Whether a process exists and is not a zombie (a zombie has exited; only its exit status is left). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform === 'linux') {
    try {
      // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  }
  return true;
}

/** On Linux, whether pid runs the ladderlab engine (guards against a reused pid or a pid planted in a session
 * file); elsewhere only liveness can be checked. */
export function isEngineProcess(pid: number): boolean {
  if (!isProcessAlive(pid)) return false;
  if (process.platform !== 'linux') return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a === 'ladderlab.cli' || a.endsWith('ladderlab'));
  } catch {
    return false;
  }
}

/** The process a worker follows, as its factory resolved it: a child it spawned, or a pid it was handed. */
type EngineProcess =
  | { kind: 'spawned'; child: ChildProcess; python: string }
  | { kind: 'attached'; pid: number };

export class EngineWorker {
  readonly exited: Promise<WorkerExit>;
  readonly pid: number | undefined;
  /** Resolves once the output written so far has been read (for an attached worker: the replay is complete). */
  readonly replayed: Promise<void>;
  private readonly child: ChildProcess | undefined;
  private readonly output: SessionOutput;
  private readonly graceMs: number | undefined;
  private done = false;
  private watchTimer: NodeJS.Timeout | undefined;

  /** Starts the engine with its output going to fresh files in the session folder; throws if the folder cannot be
   * written (a missing interpreter is not thrown: `exited` reports it as spawnError). */
  static spawn(opts: SpawnOptions): EngineWorker {
    mkdirSync(opts.logDir, { recursive: true });
    // Truncate: a session folder is new, but be sure no earlier output is replayed as this process's.
    const outFd = openSync(path.join(opts.logDir, STDOUT_FILE), 'w');
    const errFd = openSync(path.join(opts.logDir, STDERR_FILE), 'w');
    let child: ChildProcess;
    try {
      // An argument array and shell: false: paths with spaces or quotes reach Python unchanged, nothing is
      // interpreted. detached: its own process group, so Stop reaches the engine and anything it started, and
      // the engine outlives a window reload.
      child = spawn(opts.python, opts.args, {
        cwd: opts.cwd,
        shell: false,
        detached: process.platform !== 'win32',
        windowsHide: true,
        env: engineEnv(opts.env),
        stdio: ['ignore', outFd, errFd],
      });
    } finally {
      closeSync(outFd); // the child holds its own copies
      closeSync(errFd);
    }
    return new EngineWorker({ kind: 'spawned', child, python: opts.python }, opts);
  }

  /** Follows an engine started by an earlier extension host (before a window reload), replaying its output. */
  static attach(opts: AttachOptions): EngineWorker {
    return new EngineWorker({ kind: 'attached', pid: opts.pid }, opts);
  }

  private constructor(engine: EngineProcess, opts: FollowOptions) {
    this.graceMs = opts.graceMs;
    this.output = new SessionOutput(opts.logDir, opts.onEvent, opts.log, opts.pollMs);
    this.replayed = this.output.start();
    if (engine.kind === 'spawned') {
      this.child = engine.child;
      this.pid = engine.child.pid;
      this.exited = this.childExit(engine.child, engine.python);
    } else {
      this.pid = engine.pid;
      this.exited = this.pidExit(engine.pid, opts.pollMs ?? ATTACHED_POLL_MS);
    }
  }

  /** Our own child: node tells its exit code and signal, or why it could not start. */
  private childExit(child: ChildProcess, python: string): Promise<WorkerExit> {
    return new Promise((resolve) => {
      child.on('error', (e) => {
        this.done = true;
        void this.output.drain().then(() => resolve({ code: null, signal: null, spawnError: `cannot start ${python}: ${e.message}` }));
      });
      child.on('exit', (code, signal) => {
        void this.output.drain().then(() => {
          this.done = true;
          resolve({ code, signal });
        });
      });
    });
  }

  /** Not our child: only polling tells that it is gone, and its exit code is lost. */
  private pidExit(pid: number, pollMs: number): Promise<WorkerExit> {
    return new Promise((resolve) => {
      const timer = (this.watchTimer = setInterval(() => {
        if (isProcessAlive(pid)) return;
        clearInterval(timer);
        void this.output.drain().then(() => {
          this.done = true;
          resolve({ code: null, signal: null });
        });
      }, pollMs));
    });
  }

  get running(): boolean {
    return !this.done;
  }

  /** Sends a signal to the engine's process group (the engine and anything it started); false if none is there. */
  signal(sig: NodeJS.Signals): boolean {
    if (this.pid === undefined || this.done) return false;
    if (process.platform !== 'win32') {
      try {
        process.kill(-this.pid, sig);
        return true;
      } catch {
        // not a group leader (should not happen): fall back to the process itself
      }
    }
    try {
      if (this.child) return this.child.kill(sig);
      process.kill(this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * SIGINT first: the engine finishes its step, writes a checkpoint and exits, leaving a resumable run folder.
   * If it is stuck (e.g. in a long native call), SIGTERM after the grace period, then SIGKILL.
   */
  async stop(): Promise<WorkerExit> {
    const steps = [
      ['SIGINT', this.graceMs ?? CHECKPOINT_GRACE_MS],
      ['SIGTERM', this.graceMs ?? TERM_GRACE_MS],
      ['SIGKILL', this.graceMs ?? TERM_GRACE_MS],
    ] as const;
    for (const [sig, grace] of steps) {
      if (this.done) break;
      this.signal(sig);
      const exited = await Promise.race([this.exited.then(() => true), delay(grace).then(() => false)]);
      if (exited) break;
    }
    return this.exited;
  }

  /** Stops following the output without touching the process (the window is going away; the engine goes on). */
  detach(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.output.detach();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
