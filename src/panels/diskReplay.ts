// The monitor's fallback when no session is in memory (after a window reload, or for runs started from a
// terminal): the latest comparison read back from its run folders' events.jsonl, the source of truth.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { EngineEvent } from '../../protocol/events';
import type { MonitorSessionInfo } from '../../protocol/webviews/monitor';
import { parseEventLine } from '../../protocol/validate';
import type { RunRecord } from '../runs/types';
import { latestComparison } from './resultsTable';

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Valid events of one events.jsonl, in order; torn or invalid lines are skipped. */
export function parseEventsJsonl(text: string): EngineEvent[] {
  const out: EngineEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const r = parseEventLine(line);
    if (r.ok) out.push(r.event);
  }
  return out;
}

/** The latest comparison's events from its run folders, or those of the runs `only` names (Reopen Curves). */
export async function lastComparisonFromDisk(
  records: RunRecord[],
  only?: readonly string[],
): Promise<{ session: MonitorSessionInfo; events: EngineEvent[] } | undefined> {
  const candidates = records.filter((r) => r.status !== 'corrupt' && (!only || only.includes(r.id))).slice(0, 50); // newest first
  if (candidates.length === 0) return undefined;
  const withConfig = await Promise.all(
    candidates.map(async (r) => ({
      id: r.id,
      method: r.method,
      startedAt: r.startedAt ?? null,
      config: await readJson(path.join(r.dir, 'config.json')),
      record: r,
    })),
  );
  // Named runs: in the order they ran (oldest first), as a comparison shows them.
  const ids = only ? withConfig.map((r) => r.id).reverse() : latestComparison(withConfig);
  const chosen = ids.map((id) => withConfig.find((r) => r.id === id)!.record);
  const events: EngineEvent[] = [];
  for (const r of chosen) {
    try {
      events.push(...parseEventsJsonl(await readFile(path.join(r.dir, 'events.jsonl'), 'utf8')));
    } catch {
      // a folder without events.jsonl adds nothing
    }
  }
  if (events.length === 0) return undefined;
  const statuses = chosen.map((r) => r.status);
  const state: MonitorSessionInfo['state'] = statuses.every((s) => s === 'finished')
    ? 'finished'
    : statuses.includes('running')
      ? 'running'
      : statuses.includes('interrupted')
        ? 'stopped'
        : 'failed';
  const resumable = state === 'stopped' ? chosen.find((r) => r.status === 'interrupted' && r.resumable) : undefined;
  return {
    session: {
      id: `disk-${chosen[chosen.length - 1].id}`.slice(0, 200),
      state,
      methods: chosen.map((r) => r.method),
      experimentPath: `from the run folders (${chosen.map((r) => r.id).join(', ')})`,
      fromDisk: true,
      ...(resumable ? { resumableRunId: resumable.id } : {}),
    },
    events,
  };
}
