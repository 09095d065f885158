// What the host writes next to the run folders: one folder per engine process it started,
// <runsDir>/.sessions/<session id>/{session.json, stdout.jsonl, stderr.log}. session.json holds the engine's pid,
// so a new window (after a reload, or a second window on the same workspace) can tell a live run from an
// interrupted one and attach to it. The run folders stay the engine's; the host never writes into them.
// No vscode here: unit-tested under node.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isSafeId } from '../../protocol/webviews/common';

export const SESSIONS_DIR = '.sessions';

/** What an engine process runs: a comparison, a run's resume, or a sweep (`ladderlab sweep`, or its resume). */
export const SESSION_KINDS = ['compare', 'resume', 'sweep'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];
export const SESSION_FILE = 'session.json';

export interface SessionFile {
  version: 1;
  id: string;
  pid: number;
  kind: SessionKind;
  experimentPath: string; // the experiment file, the run folder for a resume, the sweep folder for a sweep's resume
  methods: string[];
  startedAt: number; // unix seconds
  /** For a resume: the run folder whose history precedes this process's output. */
  runDir?: string;
}

export function sessionsDir(runsDir: string): string {
  return path.join(runsDir, SESSIONS_DIR);
}

export function sessionDir(runsDir: string, id: string): string {
  if (!isSafeId(id)) throw new Error(`not a session id: ${JSON.stringify(id)}`);
  return path.join(sessionsDir(runsDir), id);
}

/**
 * Writes JSON so that a reader sees the old file or the new one, never half of one: a temp file in the same
 * folder (same file system), then rename, which replaces atomically. A unique temp name keeps concurrent writers
 * (two windows) from sharing one.
 */
export async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`,
  );
  try {
    await writeFile(tmp, JSON.stringify(data, null, 2) + '\n', { encoding: 'utf8', flag: 'wx' });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** session.json's text -> the record, or why it is not one (a hand-edited or planted file must not be trusted). */
export function parseSessionFile(text: string): SessionFile | { problem: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { problem: `not valid JSON (${(e as Error).message})` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { problem: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (o.version !== 1) return { problem: 'unknown version' };
  if (!isSafeId(o.id)) return { problem: 'id is not a session id' };
  if (typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid <= 1)
    return { problem: 'pid is not a process id' };
  if (!SESSION_KINDS.includes(o.kind as SessionKind)) return { problem: `kind is not ${SESSION_KINDS.join(' or ')}` };
  if (typeof o.experimentPath !== 'string' || o.experimentPath.length > 4096)
    return { problem: 'experimentPath is not a path' };
  if (!Array.isArray(o.methods) || !o.methods.every((m) => typeof m === 'string' && m.length < 64))
    return { problem: 'methods is not a list of names' };
  if (typeof o.startedAt !== 'number' || !Number.isFinite(o.startedAt)) return { problem: 'startedAt is not a time' };
  if (o.runDir !== undefined && (typeof o.runDir !== 'string' || o.runDir.length > 4096))
    return { problem: 'runDir is not a path' };
  return {
    version: 1,
    id: o.id,
    pid: o.pid,
    kind: o.kind as SessionKind,
    experimentPath: o.experimentPath,
    methods: [...(o.methods as string[])],
    startedAt: o.startedAt,
    ...(o.runDir !== undefined ? { runDir: o.runDir } : {}),
  };
}

export interface FoundSession {
  dir: string;
  session?: SessionFile;
  problem?: string;
}

/** Every session folder under runsDir (none if the folder does not exist); unreadable ones carry a problem. */
export async function listSessionFiles(runsDir: string): Promise<FoundSession[]> {
  let names: string[];
  try {
    names = (await readdir(sessionsDir(runsDir), { withFileTypes: true }))
      .filter((d) => d.isDirectory() && isSafeId(d.name))
      .map((d) => d.name);
  } catch {
    return [];
  }
  return Promise.all(
    names.map(async (name) => {
      const dir = path.join(sessionsDir(runsDir), name);
      try {
        const parsed = parseSessionFile(await readFile(path.join(dir, SESSION_FILE), 'utf8'));
        if ('problem' in parsed) return { dir, problem: `${SESSION_FILE}: ${parsed.problem}` };
        if (parsed.id !== name) return { dir, problem: `${SESSION_FILE}: id ${parsed.id} does not match its folder` };
        return { dir, session: parsed };
      } catch (e) {
        return {
          dir,
          problem: `${SESSION_FILE} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        };
      }
    }),
  );
}

/** Removes a finished session's folder (its events are in the run folders); only ever inside .sessions. */
export async function removeSessionDir(runsDir: string, id: string): Promise<void> {
  await rm(sessionDir(runsDir, id), { recursive: true, force: true });
}
