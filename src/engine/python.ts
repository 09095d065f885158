// Chooses the engine's Python interpreter (the rules are in environment.ts `pickPython`).
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { pickPython, venvPython, type PythonSource } from './environment';

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

export async function findPython(folder?: vscode.WorkspaceFolder): Promise<{ path: string; source: PythonSource }> {
  const config = vscode.workspace.getConfiguration('ladderLab', folder?.uri);
  let setting = config.get<string>(PYTHON_SETTING);
  if (setting && folder) setting = setting.replace(/\$\{workspaceFolder\}/g, folder.uri.fsPath);
  const venv = folder ? venvPython(vscode.Uri.joinPath(folder.uri, '.venv').fsPath) : undefined;
  return pickPython({
    setting,
    pythonExtension: setting ? undefined : await pythonFromExtension(folder),
    workspaceVenv: venv && existsSync(venv) ? venv : undefined,
  });
}
