// Reads what an engine process writes into its session folder: events on stdout.jsonl (one JSON line each),
// free text on stderr.log. The files are followed while the engine appends to them (FileTail), so the reading
// is the same for an engine this window started and one an earlier window started (read from the beginning).
import { open, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { EngineEvent } from '../../protocol/events';
import { parseEventLine } from '../../protocol/validate';
import type { Logger } from './logger';

/** Where a worker's output lives inside its session folder. */
export const STDOUT_FILE = 'stdout.jsonl';
export const STDERR_FILE = 'stderr.log';

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

/** Both output files of one session folder: events to `onEvent`, stderr lines to the log as "[engine] …". */
export class SessionOutput {
  private readonly tails: FileTail[];
  private readonly events: EventLineReader;
  private readonly stderr = new LineSplitter();
  private detached = false;

  constructor(logDir: string, onEvent: (event: EngineEvent) => void, private readonly log: Logger, pollMs?: number) {
    this.events = new EventLineReader(onEvent, log);
    this.tails = [
      new FileTail(path.join(logDir, STDOUT_FILE), (text) => this.events.push(text), pollMs),
      new FileTail(path.join(logDir, STDERR_FILE), (text) => this.logStderr(this.stderr.push(text)), pollMs),
    ];
  }

  /** Starts following; resolves once what the files hold now has been delivered. */
  async start(): Promise<void> {
    await Promise.all(this.tails.map((t) => t.start()));
  }

  /** The process has exited: reads the rest, and hands on a last line it left unterminated. */
  async drain(): Promise<void> {
    await Promise.all(this.tails.map((t) => t.close()));
    if (this.detached) return;
    this.events.end();
    this.logStderr(this.stderr.flush());
  }

  /** Stops reading without touching the process (a window that lets go of the engine). */
  detach(): void {
    this.detached = true;
    for (const t of this.tails) void t.close();
  }

  private logStderr(lines: string[]): void {
    lines.forEach((l) => this.log.info(`[engine] ${l}`));
  }
}
