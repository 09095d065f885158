// Which file-system paths a webview may make the host use, and how paths in an experiment file are read: one rule
// for a path chosen with Browse, typed or pasted into the form, or written in the file. A path in an experiment file
// is read from the file's folder, "~" is the home folder, ".." climbs (the engine's filepaths.py reads it the same
// way). A webview is untrusted: a path it sends is accepted only if it lies inside a workspace folder (after
// resolving symlinks where the path exists), or if the user picked it in a VS Code dialog during this session, or if
// the file already held it (the user wrote it there). A refused path is never dropped silently: the form shows it
// beside its field with the reason (experimentView.ts).
import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { SAMPLE, type ExperimentPatch } from '../../protocol/experiment';
import { parseDatasetName, parseHubId } from '../../protocol/hubCache';

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

/** The absolute path a value of the experiment file `experimentFile` names (as the engine's filepaths.py reads it). */
export function experimentPath(value: string, experimentFile: string): string {
  return path.resolve(path.dirname(experimentFile), expandHome(value));
}

/** The form's fields that hold a path, and whether a value of theirs is one (not a word such as "default",
 * "preset:NAME" or the packaged sample's word), as the engine's filepaths.is_path_value decides. */
export const PATH_FIELDS = ['backbone', 'data'] as const;
export type PathField = (typeof PATH_FIELDS)[number];
export function isPathValue(field: PathField, value: unknown): value is string {
  if (typeof value !== 'string' || value === '') return false;
  return field === 'backbone' ? value !== 'default' && !value.startsWith('preset:') : value !== SAMPLE;
}

/** Whether `value` of `field`, written in an experiment file in the folder `from`, names something on the hub (a
 * model id in the Hugging Face cache, a dataset in the datasets cache) rather than a path: written as a hub name and
 * no file or folder by that name lies there, as the engine decides (filepaths.py, hub.py). */
export function isHubName(field: PathField, value: string, from: string): boolean {
  const hub = field === 'backbone' ? parseHubId(value) : parseDatasetName(value);
  return hub !== null && !existsSync(path.resolve(from, value));
}

export type PathVerdict = { abs: string } | { refused: string };

export class PathPolicy {
  private readonly approved = new Set<string>();

  constructor(private readonly roots: () => string[]) {}

  /** Records a path the user chose in a VS Code dialog. */
  approve(p: string): void {
    this.approved.add(path.resolve(p));
  }

  /**
   * Whether `p`, read from the folder `from` (the experiment file's; by default the first workspace folder), may be
   * used: its absolute path, or why not (in words for the user, saying what to do instead).
   */
  verdict(p: string, from: string | undefined = this.roots()[0]): PathVerdict {
    if (p.includes('\0')) return { refused: 'the path contains a NUL character; type it again' };
    const home = expandHome(p);
    if (!path.isAbsolute(home) && from === undefined)
      return { refused: 'a relative path needs a workspace folder; open a folder first' };
    const abs = from === undefined ? path.resolve(home) : path.resolve(from, home);
    if (this.approved.has(abs)) return { abs };
    const roots = this.roots();
    if (roots.some((root) => isInside(real(abs), real(root)))) return { abs };
    const read = path.isAbsolute(home) ? '' : ` (read from ${from})`;
    return {
      refused:
        roots.length === 0
          ? `${abs} cannot be checked without a workspace folder; open a folder first`
          : `${abs}${read} is outside the workspace${real(abs) !== abs ? ' once its links are followed' : ''}; ` +
            'choose it with Browse… to use it, or use a path inside the workspace',
    };
  }

  /** The absolute path for `p` read from `from`, or undefined when the verdict refuses it. */
  check(p: string, from?: string): string | undefined {
    const v = this.verdict(p, from);
    return 'abs' in v ? v.abs : undefined;
  }

  /** How to write an accepted path: relative to `from` (the experiment file's folder; by default the first workspace
   * folder, ".." where needed, "." for that folder itself) when both lie in the same workspace folder, else absolute. */
  display(abs: string, from: string | undefined = this.roots()[0]): string {
    const root = this.roots().find((r) => isInside(abs, r));
    if (root === undefined || from === undefined || !isInside(from, root)) return abs;
    return path.relative(from, abs).split(path.sep).join('/') || '.';
  }
}

/** A path the form sent that the rule refused: shown in its field with the reason, never dropped silently. */
export interface RefusedPath {
  field: PathField;
  value: string;
  message: string;
}

/**
 * The patch a webview sent, with its path values checked by the one rule for the file `experimentFile`: an accepted
 * path written as `display` writes it (the same text Browse writes for the same folder); a refused one returned with
 * its reason, and then nothing of the patch is accepted. A value the file already holds is kept as written.
 */
export function acceptPaths(
  policy: PathPolicy,
  patch: ExperimentPatch,
  experimentFile: string,
  inFile: readonly (string | null)[],
): { accepted: ExperimentPatch; refused: RefusedPath[] } {
  const accepted: ExperimentPatch = { ...patch };
  const refused: RefusedPath[] = [];
  const from = path.dirname(experimentFile);
  for (const field of PATH_FIELDS) {
    const value = accepted[field];
    if (!isPathValue(field, value) || inFile.includes(value) || isHubName(field, value, from)) continue;
    const verdict = policy.verdict(value, from);
    if ('abs' in verdict) accepted[field] = policy.display(verdict.abs, from);
    else {
      delete accepted[field];
      refused.push({ field, value, message: `${field} "${value}": ${verdict.refused}` });
    }
  }
  // A patch is one change: with a path refused, none of it is written (the form shows why beside the field).
  return refused.length > 0 ? { accepted: {}, refused } : { accepted, refused };
}
