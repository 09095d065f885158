// Chooses the engine's Python interpreter (the rules are in environment.ts `pickPython`).
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { pickPython, venvHasEngine, venvPython, type PythonSource } from './environment';

export const PYTHON_SETTING = 'pythonPath';

/** The Python extension's public API, the part we use; it may be absent or older. */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
  };
}

async function pythonFromExtension(folder?: vscode.WorkspaceFolder): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!ext) return undefined;
  try {
    const api = ext.isActive ? ext.exports : await ext.activate();
    const found = api?.environments?.getActiveEnvironmentPath(folder?.uri)?.path;
    // Without a selection the extension reports the bare command "python", which says nothing about the engine.
    return found && found !== 'python' ? found : undefined;
  } catch {
    return undefined; // a broken or incompatible Python extension must not stop runs
  }
}

function settingPython(folder?: vscode.WorkspaceFolder): string | undefined {
  const setting = vscode.workspace.getConfiguration('ladderLab', folder?.uri).get<string>(PYTHON_SETTING)?.trim();
  return setting && folder ? setting.replace(/\$\{workspaceFolder\}/g, folder.uri.fsPath) : setting || undefined;
}

/** <workspace>/.venv's interpreter, if it exists (whether it has the engine or not). */
export function workspaceVenvPython(folder: vscode.WorkspaceFolder): string | undefined {
  const py = venvPython(vscode.Uri.joinPath(folder.uri, '.venv').fsPath);
  return existsSync(py) ? py : undefined;
}

export async function findPython(folder?: vscode.WorkspaceFolder): Promise<{ path: string; source: PythonSource }> {
  const setting = settingPython(folder);
  const venv = folder ? workspaceVenvPython(folder) : undefined;
  return pickPython({
    setting,
    pythonExtension: setting ? undefined : await pythonFromExtension(folder),
    // A .venv without the engine (e.g. a setup that was killed half-way) is not the engine's environment.
    workspaceVenv: venv && venvHasEngine(vscode.Uri.joinPath(folder!.uri, '.venv').fsPath) ? venv : undefined,
  });
}

/** Every interpreter the user already points at (setting, Python extension, workspace .venv), without repeats. */
export async function candidatePythons(folder: vscode.WorkspaceFolder): Promise<{ path: string; source: PythonSource }[]> {
  const found: { path: string; source: PythonSource }[] = [];
  const add = (p: string | undefined, source: PythonSource) => {
    if (p && !found.some((f) => f.path === p)) found.push({ path: p, source });
  };
  add(settingPython(folder), 'setting');
  add(await pythonFromExtension(folder), 'python-extension');
  add(workspaceVenvPython(folder), 'workspace-venv');
  return found;
}
