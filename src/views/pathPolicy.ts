// Which file-system paths a webview may make the host use. A webview is untrusted: a path it sends is accepted
// only if it lies inside a workspace folder (after resolving symlinks where the path exists) or if the user picked
// it in a VS Code dialog during this session, or if the experiment file already held it (the user wrote it there).
// A typed or pasted path follows the same rule as one chosen with Browse: it is resolved as the engine will read
// it, checked, and written relative to the workspace folder when inside it (absolute otherwise).
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';

export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function real(p: string, hops = 0): string {
  try {
    return realpathSync.native(p);
  } catch {
    // A dangling symlink (its target does not exist yet) still points somewhere: follow it, or it could be
    // created outside later through the link. 40 hops, like the kernel's limit, ends a loop.
    try {
      if (hops < 40 && lstatSync(p).isSymbolicLink())
        return real(path.resolve(path.dirname(p), readlinkSync(p)), hops + 1);
    } catch {
      // not there at all: fall through
    }
    // Not there (yet): resolve the deepest existing ancestor so a symlinked parent cannot smuggle it out.
    const parent = path.dirname(p);
    return parent === p ? p : path.join(real(parent, hops), path.basename(p));
  }
}

/** "~" and "~/…" as the engine reads them (Python's Path.expanduser): a typed "~/data" is the home folder's, not a
 * folder named "~" in the workspace, so it is checked (and written) as the absolute path it is. */
export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') || p.startsWith(`~${path.sep}`) ? path.join(homedir(), p.slice(1)) : p;
}

export class PathPolicy {
  private readonly approved = new Set<string>();

  constructor(private readonly roots: () => string[]) {}

  /** Records a path the user chose in a VS Code dialog. */
  approve(p: string): void {
    this.approved.add(path.resolve(p));
  }

  /**
   * The absolute path for `p` (relative paths are taken from the first workspace folder), or undefined when the
   * path is outside every workspace folder and was not approved through a dialog or already present in the file.
   */
  check(p: string, alreadyInFile: readonly (string | null)[] = []): string | undefined {
    if (p.includes('\0')) return undefined;
    const roots = this.roots();
    if (alreadyInFile.includes(p)) return p;
    const home = expandHome(p);
    const abs = path.isAbsolute(home)
      ? path.resolve(home)
      : roots[0] !== undefined
        ? path.resolve(roots[0], home)
        : undefined;
    if (abs === undefined) return undefined;
    if (this.approved.has(abs)) return abs;
    const resolved = real(abs);
    return roots.some((root) => isInside(resolved, real(root))) ? abs : undefined;
  }

  /** How to write an accepted path into the experiment file: relative inside the workspace, else absolute. */
  display(abs: string): string {
    const root = this.roots()[0];
    if (root !== undefined && isInside(abs, root) && abs !== root)
      return path.relative(root, abs).split(path.sep).join('/');
    return abs;
  }
}
