// Wording about runs that the notifications and the Runs tree show. Pure (no vscode): unit-tested.
import * as path from 'node:path';
import type { EngineEvent } from '../../protocol/events';
import { methodName, runLabel, runOrigin, type RunConfig } from '../../protocol/runLabel';
import { methodLabel, runDescription } from '../views/format';
import type { RunRecord } from './types';

/** What an engine error notification says: out of memory gets the method, the step and the engine's hint first. */
export function errorNotice(event: Extract<EngineEvent, { type: 'error' }>, method?: string): string {
  const hint = event.hint ? ` Hint: ${event.hint}` : '';
  const message = event.message.replace(/\.$/, '');
  if (event.kind === 'oom') {
    const where = [method && methodLabel(method), event.step !== undefined && `step ${event.step}`]
      .filter(Boolean)
      .join(', ');
    return `Ladder Lab: out of memory${where ? ` (${where})` : ''}: ${message}.${hint}`;
  }
  return `Ladder Lab: ${message}.${hint}`;
}

/** The tree's one-line description: out of memory says so with the engine's hint, a resumable run says so. */
export function treeDescription(run: RunRecord): string {
  if (run.status === 'failed' && run.error?.kind === 'oom')
    return `out of memory${run.error.hint ? ` — ${run.error.hint}` : ''}`;
  const text = runDescription(run);
  return run.status === 'interrupted' && run.resumable ? `${text} · resumable` : text;
}

// ---- the Runs tree's groups: experiment file > comparison > run ----------------------------------------------------

/** A folder of the Runs tree: an experiment file, one comparison (one engine invocation) of it, or one sweep. */
export interface RunGroup {
  kind: 'group';
  level: 'file' | 'comparison' | 'sweep';
  id: string; // stable across refreshes (the tree keeps expansion by id)
  title: string;
  description: string;
  children: (RunGroup | RunRecord)[];
}

export function isRunGroup(node: RunGroup | RunRecord): node is RunGroup {
  return (node as RunGroup).kind === 'group';
}

/** The name a run goes by: the user's (label.json), else its label among `among` (protocol/runLabel.ts). */
export function runName(run: RunRecord, among: readonly RunConfig[] = []): string {
  if (run.userLabel) return run.userLabel;
  const config = run.config ?? { method: run.method };
  return runLabel(config, among.length ? among : [config]);
}

const NO_FILE = 'Runs started without an experiment file';
const EARLIER = 'Earlier runs (no comparison recorded)';

/**
 * Runs (newest first) -> groups: one per experiment file (newest first; runs from flags only, then runs from engines
 * that recorded neither, last), each holding its comparisons (newest first), each holding its runs in the order they
 * ran. `fileTitle` shows an experiment file's path (e.g. relative to the workspace).
 */
export function groupRuns(runs: readonly RunRecord[], fileTitle: (file: string) => string): RunGroup[] {
  const files = new Map<string, RunRecord[]>();
  for (const run of runs) {
    const origin = runOrigin(run.config);
    const key = origin.experimentFile ?? (origin.comparison ? NO_FILE : EARLIER);
    files.set(key, [...(files.get(key) ?? []), run]);
  }
  const order = (k: string) => (k === EARLIER ? 2 : k === NO_FILE ? 1 : 0);
  return [...files.keys()]
    .sort((a, b) => order(a) - order(b)) // Map keeps first-seen order = newest run first within each kind
    .map((key): RunGroup => {
      const members = files.get(key)!;
      const file = key !== NO_FILE && key !== EARLIER;
      const comparisons = new Map<string, RunRecord[]>();
      for (const run of members) {
        const c = runOrigin(run.config).comparison ?? '';
        comparisons.set(c, [...(comparisons.get(c) ?? []), run]);
      }
      const children = [...comparisons].flatMap(([id, inOrder]): (RunGroup | RunRecord)[] => {
        const ran = [...inOrder].reverse();
        if (!id) return inOrder; // no comparison recorded: the runs themselves, newest first
        const first = ran.find((r) => r.startedAt)?.startedAt;
        return [
          {
            kind: 'group',
            level: 'comparison',
            id: `comparison:${id}`,
            title: `Comparison ${first ? new Date(first * 1000).toLocaleString() : id}`,
            description: ran.map((r) => methodName(r.method)).join(', '),
            children: ran,
          },
        ];
      });
      return {
        kind: 'group',
        level: 'file',
        id: `file:${key}`,
        title: file ? path.basename(key) : key,
        description: file ? fileTitle(key) : `${members.length} run${members.length === 1 ? '' : 's'}`,
        children,
      };
    });
}

/** Every run config under a group (the runs a label is made among: those of one experiment file). */
export function configsUnder(group: RunGroup): RunConfig[] {
  return group.children.flatMap((c) => (isRunGroup(c) ? configsUnder(c) : [c.config ?? { method: c.method }]));
}
