// Runs the engine CLI as a child process and turns its stdout into protocol events.
// No vscode import: the host passes a Logger (the "Ladder Lab" output channel), so the line handling
// and the stop sequence are testable under plain node.
import { spawn, type ChildProcess } from 'node:child_process';
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

export interface WorkerOptions {
  python: string;
  args: string[];
  cwd: string;
  log: Logger;
  onEvent: (event: EngineEvent) => void;
  env?: NodeJS.ProcessEnv;
  /** How long each signal (SIGINT, then SIGTERM) gets before the next, harder one. */
  graceMs?: number;
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not start at all (e.g. the interpreter does not exist). */
  spawnError?: string;
}

export class EngineWorker {
  readonly exited: Promise<WorkerExit>;
  private readonly child: ChildProcess;
  private done = false;

  constructor(private readonly opts: WorkerOptions) {
    const reader = new EventLineReader(opts.onEvent, opts.log);
    const stderr = new LineSplitter();
    // An argument array and shell: false: paths with spaces or quotes reach Python unchanged, nothing is interpreted.
    this.child = spawn(opts.python, opts.args, {
      cwd: opts.cwd,
      shell: false,
      env: { ...process.env, ...opts.env, HF_HUB_OFFLINE: '1', PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8'); // decodes multi-byte characters split across chunks
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => reader.push(chunk));
    this.child.stderr!.on('data', (chunk: string) => stderr.push(chunk).forEach((l) => opts.log.info(`[engine] ${l}`)));
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.done = true;
        resolve({ code: null, signal: null, spawnError: `cannot start ${opts.python}: ${e.message}` });
      });
      // 'close' (not 'exit') waits for stdout to drain, so no event is lost after the exit status.
      this.child.on('close', (code, signal) => {
        reader.end();
        stderr.flush().forEach((l) => opts.log.info(`[engine] ${l}`));
        this.done = true;
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * SIGINT first: the engine turns it into KeyboardInterrupt and exits between steps, leaving a clean run folder.
   * If it is stuck (e.g. in a long native call), SIGTERM after the grace period, then SIGKILL.
   */
  async stop(): Promise<WorkerExit> {
    const grace = this.opts.graceMs ?? 5000;
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
      if (this.done) break;
      this.child.kill(signal);
      const exited = await Promise.race([this.exited.then(() => true), delay(grace).then(() => false)]);
      if (exited) break;
    }
    return this.exited;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
