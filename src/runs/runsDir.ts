// Where a workspace folder's runs go (the ladderLab.runsDir setting), checked: the setting is workspace-controlled,
// and the host creates, reads and (for its own session files) deletes there, so it must stay inside the folder.
// No vscode here: unit-tested under node.
import * as path from 'node:path';
import { PathPolicy } from '../views/pathPolicy';

export const DEFAULT_RUNS_DIR = '.ladderlab/runs';

export type RunsDirResult = { dir: string; error?: undefined } | { dir?: undefined; error: string };

/** The absolute runs folder for `setting` in `folderPath`, or a message naming the setting and what to do. */
export function resolveRunsDir(folderPath: string, setting: string | undefined): RunsDirResult {
  const value = setting?.trim() || DEFAULT_RUNS_DIR;
  const fix = `set "ladderLab.runsDir" to a folder inside the workspace (the default is ${DEFAULT_RUNS_DIR})`;
  if (value.includes('\0')) return { error: `ladderLab.runsDir contains a NUL character: ${fix}.` };
  // PathPolicy resolves symlinks of the existing part, so a link pointing out of the workspace does not pass.
  const dir = new PathPolicy(() => [folderPath]).check(value);
  if (dir === undefined)
    return {
      error: `ladderLab.runsDir "${value}" is outside the workspace folder ${path.basename(folderPath)}: ${fix}.`,
    };
  if (path.resolve(dir) === path.resolve(folderPath))
    return { error: `ladderLab.runsDir "${value}" is the workspace folder itself: ${fix}.` };
  return { dir: path.resolve(dir) };
}
