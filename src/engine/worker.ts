// Runs the engine CLI as a detached child process and turns its output into protocol events.
// The engine's stdout and stderr go to FILES in a session folder, never to pipes: a pipe dies with the extension
// host (a window reload), and the engine would then die on its next write. The host tails the files instead, so
// a reloaded window can attach to the same process again (EngineWorker.attach) and read everything from the start.
// No vscode import: the host passes a Logger, so the line handling and the stop sequence are testable under node.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { EngineEvent } from '../../protocol/events';
import { parseEventLine } from '../../protocol/validate';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Splits a stream of text chunks into whole lines; a line may arrive across several chunks. */
export class LineSplitter {
  private rest = '';

  push(chunk: string): string[] {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    return parts.map((l) => l.replace(/\r$/, ''));
  }

  /** The unterminated remainder at end of stream (a torn last line, if the process died mid-write). */
  flush(): string[] {
    const rest = this.rest;
    this.rest = '';
    return rest === '' ? [] : [rest];
  }
}

/** Feeds stdout lines to parseEventLine; a bad line becomes a warning, never an exception. */
export class EventLineReader {
  private readonly splitter = new LineSplitter();

  constructor(
    private readonly onEvent: (event: EngineEvent) => void,
    private readonly log: Logger,
  ) {}

  push(chunk: string): void {
    this.splitter.push(chunk).forEach((line) => this.line(line));
  }

  end(): void {
    this.splitter.flush().forEach((line) => this.line(line));
  }

  private line(line: string): void {
    if (line.trim() === '') return;
    const r = parseEventLine(line);
    if (r.ok) this.onEvent(r.event);
    else this.log.warn(`engine output line skipped: ${r.error}`);
  }
}

export function compareArgs(configPath: string, runsDir?: string): string[] {
  const args = ['-m', 'ladderlab.cli', 'compare', '--config', configPath, '--format', 'events'];
  return runsDir ? [...args, '--runs-dir', runsDir] : args;
}

/** `ladderlab resume RUN_DIR`: continues an interrupted run from its checkpoint, appending to its events.jsonl. */
export function resumeArgs(runDir: string): string[] {
  return ['-m', 'ladderlab.cli', 'resume', runDir, '--format', 'events'];
}

/** Where a worker's output lives inside its session folder. */
export const STDOUT_FILE = 'stdout.jsonl';
export const STDERR_FILE = 'stderr.log';

/**
 * Follows a file that another process appends to: every `intervalMs` it reads what was added since the last read.
 * Multi-byte characters split across reads are decoded correctly; lines are the reader's business.
 */
export class FileTail {
  private offset = 0;
  private readonly decoder = new StringDecoder('utf8');
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private handle: FileHandle | undefined;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly onText: (text: string) => void,
    private readonly intervalMs = 200,
  ) {}

  /** Starts following; resolves once what the file holds now has been delivered. */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref?.();
    return this.poll();
  }

  /** Reads whatever is there now; concurrent calls queue, so text is delivered once and in order. */
  poll(): Promise<void> {
    this.reading = this.reading.then(() => this.readNew()).catch(() => undefined);
    return this.reading;
  }

  private async readNew(): Promise<void> {
    if (this.closed) return;
    try {
      this.handle ??= await open(this.file, 'r');
    } catch {
      return; // not created yet
    }
    const buffer = Buffer.alloc(1 << 16);
    for (;;) {
      const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const text = this.decoder.write(buffer.subarray(0, bytesRead));
      if (text) this.onText(text);
    }
  }

  /** Reads the rest, stops following and closes the file. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    await this.poll();
    this.closed = true;
    const rest = this.decoder.end();
    if (rest) this.onText(rest);
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}

export interface WorkerOptions {
  python: string;
  args: string[];
  cwd: string;
  /** The session folder: stdout.jsonl and stderr.log are written here. */
  logDir: string;
  log: Logger;
  onEvent: (event: EngineEvent) => void;
  env?: NodeJS.ProcessEnv;
  /** How long each signal gets before the next, harder one. Default: SIGINT 30 s (the engine finishes its step and
   * writes a checkpoint), SIGTERM 5 s. Given: every signal gets this long. */
  graceMs?: number;
  pollMs?: number;
}

export interface AttachOptions {
  pid: number;
  logDir: string;
  log: Logger;
  onEvent: (event: EngineEvent) => void;
  graceMs?: number;
  pollMs?: number;
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

export class EngineWorker {
  readonly exited: Promise<WorkerExit>;
  readonly pid: number | undefined;
  /** Resolves once the output written so far has been read (for an attached worker: the replay is complete). */
  readonly replayed: Promise<void>;
  private readonly child: ChildProcess | undefined;
  private readonly tails: FileTail[] = [];
  private done = false;
  private detached = false;
  private watchTimer: NodeJS.Timeout | undefined;
  private readonly graceMs: number | undefined;

  constructor(opts: WorkerOptions);
  constructor(opts: AttachOptions, attach: true);
  constructor(opts: WorkerOptions | AttachOptions, attach?: true) {
    this.graceMs = opts.graceMs;
    mkdirSync(opts.logDir, { recursive: true });
    const stdoutFile = path.join(opts.logDir, STDOUT_FILE);
    const stderrFile = path.join(opts.logDir, STDERR_FILE);
    const reader = new EventLineReader(opts.onEvent, opts.log);
    const stderr = new LineSplitter();
    const logStderr = (lines: string[]) => lines.forEach((l) => opts.log.info(`[engine] ${l}`));
    const outTail = new FileTail(stdoutFile, (t) => reader.push(t), opts.pollMs);
    const errTail = new FileTail(stderrFile, (t) => logStderr(stderr.push(t)), opts.pollMs);
    this.tails.push(outTail, errTail);
    const drain = async () => {
      await Promise.all(this.tails.map((t) => t.close()));
      if (!this.detached) {
        reader.end();
        logStderr(stderr.flush());
      }
    };

    if (attach) {
      const a = opts as AttachOptions;
      this.pid = a.pid;
      this.replayed = Promise.all(this.tails.map((t) => t.start())).then(() => undefined);
      this.exited = new Promise((resolve) => {
        const timer = (this.watchTimer = setInterval(() => {
          if (isProcessAlive(a.pid)) return;
          clearInterval(timer);
          void drain().then(() => {
            this.done = true;
            resolve({ code: null, signal: null });
          });
        }, a.pollMs ?? 250));
      });
      return;
    }

    const o = opts as WorkerOptions;
    // Truncate: a session folder is new, but be sure no earlier output is replayed as this process's.
    const outFd = openSync(stdoutFile, 'w');
    const errFd = openSync(stderrFile, 'w');
    let child: ChildProcess;
    try {
      // An argument array and shell: false: paths with spaces or quotes reach Python unchanged, nothing is
      // interpreted. detached: its own process group, so Stop reaches the engine and anything it started, and
      // the engine outlives a window reload.
      child = spawn(o.python, o.args, {
        cwd: o.cwd,
        shell: false,
        detached: process.platform !== 'win32',
        windowsHide: true,
        env: { ...process.env, ...o.env, HF_HUB_OFFLINE: '1', PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
        stdio: ['ignore', outFd, errFd],
      });
    } finally {
      closeSync(outFd); // the child holds its own copies
      closeSync(errFd);
    }
    this.child = child;
    this.pid = child.pid;
    this.replayed = Promise.all(this.tails.map((t) => t.start())).then(() => undefined);
    this.exited = new Promise((resolve) => {
      child.on('error', (e) => {
        this.done = true;
        void drain().then(() => resolve({ code: null, signal: null, spawnError: `cannot start ${o.python}: ${e.message}` }));
      });
      child.on('exit', (code, signal) => {
        void drain().then(() => {
          this.done = true;
          resolve({ code, signal });
        });
      });
    });
  }

  /** Follows an engine started by an earlier extension host (before a window reload), replaying its output. */
  static attach(opts: AttachOptions): EngineWorker {
    return new EngineWorker(opts, true);
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
    this.detached = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    for (const t of this.tails) void t.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
