// Does an interpreter have what the engine needs? No vscode here (unit-testable); python.ts adds the UI.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';

export const ENGINE_MODULES = ['torch', 'transformers', 'peft', 'ladderlab'] as const;

export interface ModuleStatus {
  ok: boolean;
  version?: string;
  error?: string; // why it is missing or failed to import
}

export interface EnvironmentReport {
  python: string;
  ok: boolean;
  pythonVersion?: string;
  modules: Record<string, ModuleStatus>;
  missing: string[]; // module names, in ENGINE_MODULES order
  problem?: string; // the interpreter itself could not run, or printed something unexpected
}

// Printed as one JSON line. `deep` really imports each module (catches broken installs, e.g. a torch built for
// another CUDA) but costs ~10 s for torch + transformers; the quick mode only finds each package (milliseconds),
// which is enough to say what is missing before every run.
const CHECK_SCRIPT = `
import importlib, importlib.util, json, sys
deep = sys.argv[1] == "deep"
out = {"python": sys.version.split()[0], "modules": {}}
for name in sys.argv[2:]:
    try:
        if deep:
            importlib.import_module(name)
        elif importlib.util.find_spec(name) is None:
            raise ModuleNotFoundError(f"No module named '{name}'")
        try:
            from importlib.metadata import version
            v = version(name)
        except Exception:
            v = None
        out["modules"][name] = {"ok": True, "version": v}
    except Exception as e:
        out["modules"][name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
print(json.dumps(out))
`;

export function checkArgs(deep: boolean): string[] {
  return ['-c', CHECK_SCRIPT, deep ? 'deep' : 'quick', ...ENGINE_MODULES];
}

/** The check script's stdout -> a report. Anything unexpected is a problem, never an exception. */
export function parseCheckOutput(python: string, stdout: string): EnvironmentReport {
  const report: EnvironmentReport = { python, ok: false, modules: {}, missing: [...ENGINE_MODULES] };
  const line = stdout.trim().split('\n').pop() ?? '';
  const unexpected = { ...report, problem: `unexpected output from ${python}: ${line.slice(0, 200) || '(nothing)'}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return unexpected;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return unexpected;
  const data = parsed as { python?: string; modules?: Record<string, ModuleStatus> };
  report.pythonVersion = data.python;
  report.modules = data.modules ?? {};
  report.missing = ENGINE_MODULES.filter((m) => !report.modules[m]?.ok);
  report.ok = report.missing.length === 0;
  return report;
}

/** One sentence for a notification: exactly what is missing, and from which interpreter. */
export function describeReport(r: EnvironmentReport): string {
  if (r.problem) return r.problem;
  if (r.ok) {
    const versions = ENGINE_MODULES.map((m) => `${m} ${r.modules[m]?.version ?? '?'}`).join(', ');
    return `${r.python} (Python ${r.pythonVersion}) has ${versions}`;
  }
  const details = r.missing.map((m) => (r.modules[m]?.error?.startsWith('ModuleNotFoundError') || !r.modules[m] ? m : `${m} (${r.modules[m].error})`));
  return `${r.python} (Python ${r.pythonVersion ?? '?'}) is missing ${details.join(', ')}`;
}

export function checkEnvironment(python: string, opts: { deep?: boolean; cwd?: string; timeoutMs?: number } = {}): Promise<EnvironmentReport> {
  return new Promise((resolve) => {
    execFile(
      python,
      checkArgs(!!opts.deep),
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? (opts.deep ? 120_000 : 20_000), env: { ...process.env, HF_HUB_OFFLINE: '1' }, shell: false },
      (err, stdout, stderr) => {
        if (err && !stdout) {
          const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (stderr.trim().split('\n').pop() ?? err.message);
          resolve({ python, ok: false, modules: {}, missing: [...ENGINE_MODULES], problem: `cannot run the Python interpreter ${python}: ${why}` });
        } else resolve(parseCheckOutput(python, stdout));
      },
    );
  });
}

/** Where a virtual environment keeps its interpreter. */
export function venvPython(venvDir: string, platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? path.join(venvDir, 'Scripts', 'python.exe') : path.join(venvDir, 'bin', 'python');
}

export type PythonSource = 'setting' | 'python-extension' | 'workspace-venv' | 'default';

/** The interpreter to use, first match wins: the setting, the Python extension's choice, <workspace>/.venv, python3. */
export function pickPython(c: { setting?: string; pythonExtension?: string; workspaceVenv?: string; platform?: NodeJS.Platform }): { path: string; source: PythonSource } {
  if (c.setting?.trim()) return { path: c.setting.trim(), source: 'setting' };
  if (c.pythonExtension) return { path: c.pythonExtension, source: 'python-extension' };
  if (c.workspaceVenv) return { path: c.workspaceVenv, source: 'workspace-venv' };
  return { path: (c.platform ?? process.platform) === 'win32' ? 'python' : 'python3', source: 'default' };
}

/** `ladderlab --help` -> its subcommands, from argparse's "{run,compare}" choice list. */
export function parseSubcommands(helpText: string): string[] {
  const m = /\{([a-z0-9_,-]+)\}/.exec(helpText);
  return m ? m[1].split(',') : [];
}

/** The engine's subcommands (e.g. whether it has `estimate`); [] if the engine cannot run. */
export function engineSubcommands(python: string, cwd?: string): Promise<string[]> {
  return new Promise((resolve) => {
    execFile(python, ['-m', 'ladderlab.cli', '--help'], { cwd, timeout: 30_000, shell: false }, (err, stdout) =>
      resolve(err ? [] : parseSubcommands(stdout)),
    );
  });
}

/**
 * Whether a virtual environment has the engine installed (a ladderlab-*.dist-info in its site-packages; an editable
 * install has one too). A file-system look, not an import, because it decides the interpreter before every run: a
 * .venv left half-made (a setup killed before its engine step) must not be picked as the workspace's interpreter.
 */
export function venvHasEngine(venvDir: string, platform: NodeJS.Platform = process.platform): boolean {
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const sitePackages =
    platform === 'win32'
      ? [path.join(venvDir, 'Lib', 'site-packages')]
      : list(path.join(venvDir, 'lib'))
          .filter((d) => d.startsWith('python'))
          .map((d) => path.join(venvDir, 'lib', d, 'site-packages'));
  return sitePackages.some((dir) => list(dir).some((f) => /^ladderlab-[^-]+\.dist-info$/.test(f)));
}
