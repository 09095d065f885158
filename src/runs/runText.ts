// Wording about runs that the notifications and the Runs tree show. Pure (no vscode): unit-tested.
import type { EngineEvent } from '../../protocol/events';
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
