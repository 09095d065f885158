// A poll that backs up VS Code's file watcher on the folders the engine writes. The workspace's recursive watcher
// (@parcel/watcher's inotify backend, in code-server and Remote-SSH servers) was seen to miss every later change
// under folders created in one go (`mkdir -p .ladderlab/runs/sweeps/<id>`, a copied run folder), so a panel that
// followed the watcher alone froze on a sweep's first manifest while its trials finished. The poll compares a cheap
// signature (names, sizes, mtimes) and calls back only when it differs; the watcher stays the fast path.
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type * as vscode from 'vscode';

/** How often the files are looked at: a sweep trial or a run takes seconds at the least. */
export const POLL_MS = 2000;

/** Size and mtime of each file ('-' for one that is missing or unreadable). */
export async function filesSignature(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    files.map((f) =>
      stat(f).then(
        (s) => `${s.size}@${s.mtimeMs}`,
        () => '-',
      ),
    ),
  );
  return parts.join('|');
}

/** The entries of each folder with their mtimes: a folder's mtime moves when a file in it is created, deleted or
 * atomically replaced, so this sees new runs and sweeps and each one's new files, not appends to a file. */
export async function foldersSignature(dirs: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    dirs.map(async (dir) => {
      const names = await readdir(dir).catch(() => [] as string[]);
      return `${dir}:${await filesSignature([dir, ...names.sort().map((n) => path.join(dir, n))])}`;
    }),
  );
  return parts.join('\n');
}

/** Calls `changed` whenever `signature()` differs from the last one (not for the first reading). Polls never overlap. */
export function pollForChanges(signature: () => Promise<string>, changed: () => void, ms = POLL_MS): vscode.Disposable {
  let last: string | undefined;
  let busy = false;
  const look = () => {
    if (busy) return;
    busy = true;
    signature()
      .then((s) => {
        if (last !== undefined && s !== last) changed();
        last = s;
      })
      .catch(() => undefined) // an unreadable folder is the reader's to report
      .finally(() => (busy = false));
  };
  look(); // the first reading, which later ones are compared with
  const timer = setInterval(look, ms);
  return { dispose: () => clearInterval(timer) };
}
