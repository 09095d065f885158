// The sweep folders under a runs folder (<runs_dir>/sweeps/<id>/, engine sweep/store.py): what "Open Sweep" lists,
// newest first, with their trials counted by state, and the reading of one folder's two files. Reads only; no
// vscode here, so it is unit-tested under node.
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { TrialState } from '../../protocol/webviews/sweep';
import { countStates, parseManifest } from './sweepTable';
import { SWEEPS_DIR } from '../runs/runStore';

export const MANIFEST_FILE = 'manifest.json';
export const RESULTS_FILE = 'results.json';

export interface SweepFolder {
  id: string;
  dir: string;
  /** Trials by state; null when the manifest cannot be read (the panel then says why). */
  counts: Record<TrialState, number> | null;
  /** The methods its trials train, in the manifest's order. */
  methods: string[];
}

/** The runs folder a sweep folder (<runs_dir>/sweeps/<id>) belongs to: its trials' run folders are there. */
export function runsDirOfSweep(sweepDir: string): string {
  return path.dirname(path.dirname(sweepDir));
}

/** Trials that `ladderlab sweep resume` would run (every one neither finished nor early-stopped, which a resume leaves
 * alone), or null when the manifest is unreadable. */
export function unfinishedTrials(counts: Record<TrialState, number> | null): number | null {
  return counts && Object.entries(counts).reduce((n, [state, k]) => (ENDED.has(state) ? n : n + k), 0);
}
const ENDED = new Set<string>(['finished', 'early_stopped'] satisfies TrialState[]);

/** A file's text, or null when it is not there (anything else, e.g. no permission, is an error to show). */
export async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The sweep folders of one runs folder, newest first (sweep ids start with their UTC start time). */
export async function listSweepFolders(runsDir: string): Promise<SweepFolder[]> {
  const root = path.join(runsDir, SWEEPS_DIR);
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  names.sort().reverse();
  return Promise.all(
    names.map(async (id) => {
      const dir = path.join(root, id);
      const manifest = parseManifest(await readOptional(path.join(dir, MANIFEST_FILE)).catch(() => null));
      const trials = manifest.value?.trials;
      return {
        id,
        dir,
        counts: trials ? countStates(trials) : null,
        methods: [...new Set(trials?.map((t) => t.method))],
      };
    }),
  );
}

/** "8 trials: 6 finished · 1 running · 1 queued" (states with none left out). */
export function countsText(counts: Record<TrialState, number> | null): string {
  if (!counts) return 'manifest.json missing or unreadable';
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`);
  return `${total} trial${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(' · ')}` : ''}`;
}
