// Counts child_process launches in this extension host while a test runs. The extension's bundle calls the
// launchers through the real module object (`require("node:child_process").spawn(...)` at call time), so
// replacing them on that object sees the extension's calls too. (An `import * as` here would give esbuild's
// read-only copy of the module instead, hence require.) VS Code itself also launches processes in this host
// (e.g. `ps` for its process monitor): a call counts as the extension's when the extension's code is on its stack.
import * as path from 'node:path';

/** The real module object: a launch through it, made while a spy is on, is seen. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const childProcess = require('node:child_process') as typeof import('node:child_process');
const cp: Record<string, unknown> = childProcess;
const NAMES = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'];

export interface ProcessSpy {
  /** Every launch seen, with who made it. */
  all: { call: string; byExtension: boolean }[];
  /** The launches the extension made. */
  readonly calls: string[];
  restore: () => void;
}

export function spyOnProcesses(extensionPath: string): ProcessSpy {
  const ours = [path.join(extensionPath, 'dist') + path.sep, path.join(extensionPath, 'src') + path.sep];
  const all: ProcessSpy['all'] = [];
  const originals = new Map(NAMES.map((n) => [n, cp[n] as (...a: unknown[]) => unknown]));
  for (const n of NAMES) {
    cp[n] = (...args: unknown[]) => {
      const stack = new Error().stack ?? '';
      all.push({ call: `${n} ${String(args[0])}`, byExtension: ours.some((p) => stack.includes(p)) });
      return originals.get(n)!(...args);
    };
  }
  return {
    all,
    get calls() {
      return all.filter((c) => c.byExtension).map((c) => c.call);
    },
    restore: () => NAMES.forEach((n) => (cp[n] = originals.get(n))),
  };
}
