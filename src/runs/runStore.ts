// Reads the engine's run folders (<runsDir>/<id>/: config.json, events.jsonl, summary.json, metrics.json, and
// label.json, the one file the extension writes: the user's name for the run) back into RunRecords. The folders are the source of truth; this never writes to them (writeUserLabel aside). An interrupted folder with
// config.json and no summary.json is resumable: from checkpoint.pt when the engine left one (it deletes it when a run
// finishes), else the engine starts the run again from the beginning in its folder.
// No vscode here: recordFromFiles is pure and unit-tested; readRuns only adds the file reading.
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { EngineEvent, RunSummary } from '../../protocol/events';
import { parseEventLine } from '../../protocol/validate';
import type { RunRecord, RunStatus, RunTiming } from './types';

export const RUN_FILES = ['config.json', 'events.jsonl', 'summary.json', 'metrics.json', 'label.json'] as const;
/** The user's name for a run: {"label": "..."}; absent = the label made from config.json. */
export const LABEL_FILE = 'label.json';
export type RunFileName = (typeof RUN_FILES)[number];
/** The engine's resumable state (written atomically); only its presence matters here. */
export const CHECKPOINT_FILE = 'checkpoint.pt';

/** A file's text, undefined if it does not exist, or why it could not be read. */
export type FileContent = string | undefined | { error: string };
export type RunFiles = Partial<Record<RunFileName, FileContent>> & { checkpoint?: boolean };

/** A RunRecord as read from disk (config.json, which CodeLens uses to match runs to files, is part of it). */
export type StoredRun = RunRecord;

export interface EventsParse {
  events: EngineEvent[];
  problem?: string; // the first invalid line other than a torn last one
  tornTail: boolean; // the last line was cut off mid-write (the engine was killed): ignored, not an error
}

/** Parses events.jsonl. Every line ends in "\n" when the engine wrote it whole, so an unterminated last line
 * that fails to parse is a torn write (a kill mid-line), which is expected and skipped. */
export function parseEventsJsonl(text: string): EventsParse {
  const lines = text.split('\n');
  const tail = lines.pop() ?? ''; // '' when the file ends in a newline
  const out: EventsParse = { events: [], tornTail: false };
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const r = parseEventLine(lines[i].replace(/\r$/, ''));
    if (r.ok) out.events.push(r.event);
    else if (!out.problem) out.problem = `events.jsonl line ${i + 1}: ${r.error}`;
  }
  if (tail.trim() !== '') {
    const r = parseEventLine(tail);
    if (r.ok) out.events.push(r.event);
    else out.tornTail = true;
  }
  return out;
}

/** A run folder's events.jsonl as events; none when it cannot be read (the run has written none yet). */
export async function readRunEvents(runDir: string): Promise<EngineEvent[]> {
  try {
    return parseEventsJsonl(await readFile(path.join(runDir, 'events.jsonl'), 'utf8')).events;
  } catch {
    return [];
  }
}

/** "20261126-221135-lst-d49c" -> its method and local start time (the engine's folder naming). */
export function parseRunId(id: string): { method?: string; startedAt?: number } {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-([a-z0-9_]+)-[0-9a-f]+$/.exec(id);
  if (!m) return {};
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  return { method: m[7], startedAt: new Date(y, mo - 1, d, h, mi, s).getTime() / 1000 };
}

function jsonObject(name: RunFileName, content: FileContent): { value?: Record<string, unknown>; problem?: string } {
  if (content === undefined) return {};
  if (typeof content !== 'string') return { problem: `${name} cannot be read: ${content.error}` };
  try {
    const value: unknown = JSON.parse(content);
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return { value: value as Record<string, unknown> };
    return { problem: `${name} does not hold a JSON object` };
  } catch (e) {
    return { problem: `${name} is not valid JSON (${(e as Error).message})` };
  }
}

function isSummary(v: Record<string, unknown>): v is Record<string, unknown> & RunSummary {
  return (
    typeof v.method === 'string' &&
    typeof v.metrics === 'object' &&
    v.metrics !== null &&
    typeof v.memory === 'object' &&
    v.memory !== null
  );
}

/**
 * One run folder's files -> its record. `live` says whether a running session of this window owns the run:
 * without a final event a run is 'running' if so, else 'interrupted' (the process died or was stopped).
 */
export function recordFromFiles(id: string, dir: string, files: RunFiles, live = false): StoredRun {
  const fromName = parseRunId(id);
  const record: StoredRun = { id, dir, method: fromName.method ?? 'unknown', status: 'interrupted' };
  const problems: string[] = [];

  const config = jsonObject('config.json', files['config.json']);
  if (config.problem) problems.push(config.problem);
  if (config.value) {
    record.config = config.value;
    if (typeof config.value.method === 'string') record.method = config.value.method;
  }

  let events: EngineEvent[] = [];
  let tornTail = false;
  const eventsFile = files['events.jsonl'];
  if (typeof eventsFile === 'string') {
    const parsed = parseEventsJsonl(eventsFile);
    events = parsed.events;
    tornTail = parsed.tornTail;
    if (parsed.problem) problems.push(parsed.problem);
  } else if (eventsFile !== undefined) problems.push(`events.jsonl cannot be read: ${eventsFile.error}`);

  const summaryFile = jsonObject('summary.json', files['summary.json']);
  if (summaryFile.problem) problems.push(summaryFile.problem);
  else if (summaryFile.value && !isSummary(summaryFile.value))
    problems.push('summary.json lacks method, metrics or memory');
  const metricsFile = jsonObject('metrics.json', files['metrics.json']);
  if (metricsFile.problem) problems.push(metricsFile.problem);

  if (files['config.json'] === undefined && eventsFile === undefined && !problems.length) {
    // The engine writes config.json right after creating the folder; an empty folder is a run being born or debris.
    if (!live) problems.push('the folder has neither config.json nor events.jsonl');
  }

  let status: RunStatus | undefined;
  let stopped: string | undefined;
  for (const e of events) {
    if (e.type === 'run_started') {
      record.method = e.method;
      // A resumed run starts again: what came before (a stop) no longer decides its state. Keep the first start.
      record.startedAt ??= e.ts;
      status = undefined;
      stopped = undefined;
      record.error = undefined;
    } else if (e.type === 'run_stopped') {
      stopped = e.message;
      status = 'interrupted';
    } else if (e.type === 'train_step') {
      record.lastStep = { step: e.step, totalSteps: e.total_steps, loss: e.loss };
    } else if (e.type === 'run_finished') {
      record.summary = e.summary;
      status = 'finished';
    } else if (e.type === 'error') {
      record.error = { kind: e.kind, message: e.message, hint: e.hint };
      status = 'failed';
    }
  }
  if (summaryFile.value && isSummary(summaryFile.value)) {
    record.summary = summaryFile.value;
    // summary.json is written (atomically) only at a successful end, just before run_finished is emitted.
    if (status !== 'failed') status = 'finished';
  }
  record.startedAt ??= fromName.startedAt;
  record.timing = runTiming(events);
  const notes: string[] = [];
  const label = jsonObject('label.json', files['label.json']);
  const userLabel = label.value?.label;
  if (typeof userLabel === 'string' && userLabel.trim()) record.userLabel = userLabel.trim();
  else if (label.problem || label.value) notes.push(`label.json is ignored: it holds no {"label": "..."}`);
  if (tornTail) {
    notes.push(
      'the last line of events.jsonl was cut off (the engine was killed while writing it); every earlier event is intact',
    );
  }
  if (stopped) notes.push(stopped);

  if (problems.length) {
    record.status = 'corrupt';
    record.problem = problems.join('; ');
  } else
    record.status =
      status === 'interrupted' && live && !stopped ? 'running' : (status ?? (live ? 'running' : 'interrupted'));
  if (record.status === 'interrupted') {
    record.resumable = config.value !== undefined && !summaryFile.value;
    record.checkpoint = files.checkpoint === true;
  }
  if (notes.length) record.notes = notes;
  return record;
}

/** Step time, init time and test-set size from the run's events (the engine writes them there, not in summary.json). */
export function runTiming(events: readonly EngineEvent[]): RunTiming {
  const steps: number[] = [];
  let started: number | undefined;
  let initS: number | null = null;
  let testExamples: number | null = null;
  for (const e of events) {
    if (e.type === 'run_started') started ??= e.ts;
    else if (e.type === 'phase_started' && e.phase === 'train' && initS === null && started !== undefined)
      initS = Math.max(0, e.ts - started);
    else if (e.type === 'train_step' && typeof e.step_s === 'number') steps.push(e.step_s);
    else if (e.type === 'evaluation' && e.split === 'test' && typeof e.examples === 'number') testExamples = e.examples;
  }
  steps.sort((a, b) => a - b);
  // The median: a step that paid for a checkpoint write or a cold cache does not move it.
  const mid = steps.length >> 1;
  const stepS = steps.length ? (steps.length % 2 ? steps[mid] : (steps[mid - 1] + steps[mid]) / 2) : null;
  return { stepS, initS, testExamples };
}

/** Names a run (label.json in its folder); an empty name removes the file, so the made-up label shows again. */
export async function writeUserLabel(runDir: string, label: string): Promise<void> {
  const file = path.join(runDir, LABEL_FILE);
  if (!label.trim()) await rm(file, { force: true });
  else await writeFile(file, JSON.stringify({ label: label.trim() }, null, 2) + '\n', 'utf8');
}

/** Newest first: by start time, then by id (ids begin with a timestamp, so this also orders undated ones). */
export function sortRuns<T extends RunRecord>(runs: T[]): T[] {
  return [...runs].sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

async function readContent(file: string): Promise<FileContent> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.code === 'ENOENT' ? undefined : { error: err.code ?? err.message };
  }
}

/** Every run folder under `runsDir` (missing dir = no runs), newest first. A folder that cannot be read is 'corrupt'. */
export function readRuns(runsDir: string, isLive: (id: string) => boolean = () => false): Promise<StoredRun[]> {
  return new RunReader().read(runsDir, isLive);
}

/**
 * readRuns with memory: a folder is parsed again only when one of its files changed (size or mtime) or its
 * liveness did. Views re-list on every engine write; without this a long history would be re-read each step.
 */
/** `<runs_dir>/sweeps/<id>/`: a sweep's manifest and results (its trials are ordinary run folders beside it). */
export const SWEEPS_DIR = 'sweeps';

export class RunReader {
  private readonly cache = new Map<string, { stamp: string; record: StoredRun }>();

  async read(runsDir: string, isLive: (id: string) => boolean = () => false): Promise<StoredRun[]> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(runsDir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    // Not runs: dot-folders (the init cache, trackers' stores) and the sweeps' folders (engine sweep/store.py).
    const dirs = entries.filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== SWEEPS_DIR);
    const seen = new Set<string>();
    const runs = await Promise.all(
      dirs.map(async (d) => {
        const dir = path.join(runsDir, d.name);
        seen.add(dir);
        const live = isLive(d.name);
        const stamps = await Promise.all(
          [...RUN_FILES, CHECKPOINT_FILE].map((name) =>
            stat(path.join(dir, name)).then(
              (s) => `${s.mtimeMs}:${s.size}`,
              (e: unknown) => `missing:${(e as NodeJS.ErrnoException).code ?? 'error'}`,
            ),
          ),
        );
        const stamp = `${live}|${stamps.join('|')}`;
        const cached = this.cache.get(dir);
        if (cached?.stamp === stamp) return cached.record;
        const files: RunFiles = {};
        await Promise.all(RUN_FILES.map(async (name) => (files[name] = await readContent(path.join(dir, name)))));
        files.checkpoint = !stamps[stamps.length - 1].startsWith('missing:');
        const record = recordFromFiles(d.name, dir, files, live);
        this.cache.set(dir, { stamp, record });
        return record;
      }),
    );
    for (const dir of this.cache.keys())
      if (dir.startsWith(runsDir + path.sep) && !seen.has(dir)) this.cache.delete(dir);
    return sortRuns(runs);
  }
}
