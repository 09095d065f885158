// "Set Up Engine Environment" as a plan of commands (no vscode, no side effects: unit-testable); setup.ts runs it.
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { venvPython } from './environment';

/** Where `ladderLab.setup.torch: "auto"` takes the CPU build from (PyPI's Linux/Windows torch is the CUDA one). */
export const CPU_TORCH_INDEX = 'https://download.pytorch.org/whl/cpu';
/** The engine's extra that brings the embedded default backbone (engine/pyproject.toml). */
export const ENGINE_EXTRA = 'default-backbone';

/** `ladderLab.setup.torch`: which PyTorch the setup installs. */
export type TorchChoice =
  | { kind: 'auto' } // CUDA build where nvidia-smi answers, the CPU build otherwise
  | { kind: 'keep' } // keep the torch the environment has (auto when it has none)
  | { kind: 'pip'; args: string[] }; // the user's own: a requirement or wheel, with pip options (e.g. --index-url)

/** Reads the setting; a value it cannot use is an error that says what to write instead. */
export function parseTorchSetting(value: string | undefined): TorchChoice {
  const v = (value ?? '').trim();
  if (v === '' || v === 'auto') return { kind: 'auto' };
  if (v === 'keep') return { kind: 'keep' };
  // Split on whitespace into pip arguments (never a shell string): "torch==2.5.1 --index-url https://…/cu121".
  const args = v.split(/\s+/);
  if (/^torch(\[[\w,-]+\])?\s*([<>=!~]=?.*)?$/.test(args[0]) || /\.whl$/i.test(args[0])) return { kind: 'pip', args };
  throw new Error(
    `the setting ladderLab.setup.torch is "${v}": use "auto", "keep", a pip requirement for torch such as ` +
      `"torch==2.13.0" (optionally followed by pip options such as "--index-url <url>"), or the path of a torch wheel`,
  );
}

/** Where the engine comes from: the wheel inside the VSIX, or (running from the repository) its engine/ folder. */
export type EngineSource = { wheel: string } | { editable: string };

/** Where scripts/package-vsix.mjs puts the engine wheel inside the extension. */
export const ENGINE_WHEEL_DIR = path.join('dist', 'engine');

/** The wheel the extension carries; else, when it runs from the repository (development), its engine/ folder. */
export function engineSource(extensionPath: string): EngineSource | undefined {
  const dir = path.join(extensionPath, ENGINE_WHEEL_DIR);
  const wheels = existsSync(dir) ? readdirSync(dir).filter((f) => /^ladderlab-.*\.whl$/.test(f)) : [];
  if (wheels.length === 1) return { wheel: path.join(dir, wheels[0]) };
  if (wheels.length > 1) throw new Error(`${dir} holds ${wheels.length} engine wheels (${wheels.join(', ')}); reinstall the extension`);
  if (existsSync(path.join(extensionPath, 'engine', 'pyproject.toml'))) return { editable: path.join(extensionPath, 'engine') };
  return undefined;
}

export interface SetupStep {
  id: 'venv' | 'torch' | 'engine' | 'script';
  title: string; // shown in the progress notification and in error messages
  command: string;
  args: string[];
  env?: Record<string, string>;
}

export interface SetupPlanInput {
  folder: string; // the workspace folder; the environment goes into <folder>/.venv
  platform: NodeJS.Platform;
  venvExists: boolean; // <folder>/.venv has an interpreter already
  torchPresent: boolean; // …and it imports torch
  torch: TorchChoice;
  cuda: boolean; // nvidia-smi answered
  engine: EngineSource;
  repoScript?: string; // scripts/setup-engine, when the workspace is this repository
  basePython?: string; // creates the venv; python3 (python on Windows) by default
}

export interface SetupPlan {
  venv: string;
  python: string; // the interpreter the plan ends with
  createsVenv: boolean; // so a failure removes the .venv only when this setup made it
  steps: SetupStep[];
}

const PIP = ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off'];

/** The torch step for a choice, or undefined when nothing is to be installed. */
export function torchStep(python: string, input: SetupPlanInput): SetupStep | undefined {
  const choice = input.torch;
  if (choice.kind === 'keep' && input.torchPresent) return undefined;
  if (choice.kind === 'pip')
    return { id: 'torch', title: `installing PyTorch (${choice.args.join(' ')})`, command: python, args: [...PIP, ...choice.args] };
  const keepNone = choice.kind === 'keep' ? 'no PyTorch to keep: ' : '';
  // macOS has no CUDA builds: PyPI's torch is the right one there (CPU + MPS).
  if (input.cuda || input.platform === 'darwin')
    return { id: 'torch', title: `${keepNone}installing PyTorch (${input.cuda ? 'CUDA build: nvidia-smi answered' : 'from PyPI'})`, command: python, args: [...PIP, 'torch'] };
  return {
    id: 'torch',
    title: `${keepNone}installing PyTorch (CPU build: no nvidia-smi)`,
    command: python,
    args: [...PIP, 'torch', '--index-url', CPU_TORCH_INDEX],
  };
}

export function setupPlan(input: SetupPlanInput): SetupPlan {
  const venv = path.join(input.folder, '.venv');
  const python = venvPython(venv, input.platform);
  const createsVenv = !input.venvExists;
  if (input.repoScript && input.platform !== 'win32') {
    // The repository's own script (editable engine + test tools); it reads the torch requirement from LADDERLAB_TORCH.
    const env = input.torch.kind === 'pip' ? { LADDERLAB_TORCH: input.torch.args.join(' ') } : undefined;
    return { venv, python, createsVenv, steps: [{ id: 'script', title: 'running scripts/setup-engine', command: input.repoScript, args: [], env }] };
  }
  const steps: SetupStep[] = [];
  if (createsVenv)
    steps.push({
      id: 'venv',
      title: 'creating .venv',
      command: input.basePython ?? (input.platform === 'win32' ? 'python' : 'python3'),
      args: ['-m', 'venv', venv],
    });
  const torch = torchStep(python, input);
  if (torch) steps.push(torch);
  const engine = 'wheel' in input.engine
    ? { what: `the bundled engine (${path.basename(input.engine.wheel)})`, args: [`${input.engine.wheel}[${ENGINE_EXTRA}]`] }
    : { what: `the engine from ${input.engine.editable} (editable)`, args: ['-e', `${input.engine.editable}[${ENGINE_EXTRA}]`] };
  steps.push({ id: 'engine', title: `installing ${engine.what}`, command: python, args: [...PIP, ...engine.args] });
  return { venv, python, createsVenv, steps };
}

/** What to quote from a failed command's output: pip's ERROR lines if it printed any, else its last lines. */
export function lastLines(lines: string[], n = 4): string {
  const nonEmpty = lines.filter((l) => l.trim());
  const errors = nonEmpty.filter((l) => /^ERROR\b/.test(l.trim()));
  return (errors.length ? errors : nonEmpty).slice(-n).join('\n');
}

/** A pip output line worth showing as progress ("Collecting transformers", "Installing collected packages…"). */
export function progressLine(line: string): string | undefined {
  const m = /^\s*(Collecting \S+|Downloading \S+|Processing \S+|Installing collected packages|Successfully installed)/.exec(line);
  if (!m) return undefined;
  return m[1].replace(/^(Downloading|Processing) .*\//, '$1 ');
}
