// Counts every child_process launch in this extension host while a test runs. The extension's bundle calls the
// launchers through the real module object (`require("node:child_process").spawn(...)` at call time), so
// replacing them on that object sees the extension's calls too. (An `import * as` here would give esbuild's
// read-only copy of the module instead, hence require.)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cp = require('node:child_process') as Record<string, unknown>;
const NAMES = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'];

export function spyOnProcesses(): { calls: string[]; restore: () => void } {
  const calls: string[] = [];
  const originals = new Map(NAMES.map((n) => [n, cp[n] as (...a: unknown[]) => unknown]));
  for (const n of NAMES) cp[n] = (...args: unknown[]) => (calls.push(`${n} ${String(args[0])}`), originals.get(n)!(...args));
  return { calls, restore: () => NAMES.forEach((n) => (cp[n] = originals.get(n))) };
}
