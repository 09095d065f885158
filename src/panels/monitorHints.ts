// What the monitor's ETA knows of methods that have not started yet in a comparison: each one's seconds per step in
// its latest earlier run of the same experiment file (the same backbone, data and batch, unless the file changed).
// Pure (no vscode), so unit tests run it on run records.
import * as path from 'node:path';
import type { RunRecord } from '../runs/types';

/** Method -> median seconds per step of its newest run from `experimentPath` that timed any step. */
export function stepTimesByMethod(
  runs: readonly RunRecord[], // newest first, as listRuns gives them
  experimentPath: string,
  methods: readonly string[],
): Record<string, number> {
  const file = path.resolve(experimentPath);
  const out: Record<string, number> = {};
  for (const run of runs) {
    const stepS = run.timing?.stepS;
    const from = run.config?.experiment_file;
    if (typeof stepS !== 'number' || typeof from !== 'string' || path.resolve(from) !== file) continue;
    if (methods.includes(run.method) && !(run.method in out)) out[run.method] = stepS;
  }
  return out;
}
