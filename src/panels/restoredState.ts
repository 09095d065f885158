// What a reloaded window hands a panel serializer is the webview's own saved state: untrusted input like any
// webview message. Pure (no vscode) so it is unit-tested.
import { parseRunId } from '../runs/runStore';

/** The run id a Try Model webview saved (webview/try/main.ts), if it has the shape of a run folder's name. */
export function restoredRunId(state: unknown): string | undefined {
  const id = typeof state === 'object' && state !== null ? (state as { runId?: unknown }).runId : undefined;
  return typeof id === 'string' && parseRunId(id).method !== undefined ? id : undefined;
}
