// "Set Up Engine Environment": offers an interpreter that already has the engine, else creates <workspace>/.venv
// with PyTorch and the engine wheel the VSIX carries (the plan is in setupPlan.ts), verifies it by importing, and
// on failure or cancel removes the .venv it made and says which step failed and what to do.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkEnvironment, describeReport, venvHasEngine, type EnvironmentReport } from './environment';
import type { Logger } from './logger';
import { candidatePythons, findPython, PYTHON_SETTING, workspaceVenvPython } from './python';
import { ENGINE_WHEEL_DIR, engineSource, parseTorchSetting, setupPlan, type SetupPlan } from './setupPlan';
import { executePlan, type SetupOutcome } from './setupRun';

export const TORCH_SETTING = 'setup.torch';
/** Whether an NVIDIA driver answers: then PyPI's (CUDA) torch is the right build. */
function hasNvidiaGpu(): Promise<boolean> {
  return new Promise((resolve) => execFile('nvidia-smi', ['-L'], { timeout: 15_000, shell: false }, (err) => resolve(!err)));
}

/** Runs the plan in one cancellable notification ("(k/n) step: pip's latest milestone"). */
function runPlan(plan: SetupPlan, cwd: string, log: Logger): Thenable<SetupOutcome> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Ladder Lab: setting up the engine', cancellable: true },
    (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return executePlan(plan, { cwd, log, signal: abort.signal, onProgress: (message) => progress.report({ message }) });
    },
  );
}

let running = false;

/** The command. `extensionPath` is the extension's own folder: the wheel is inside it. */
export async function setUpEngineEnvironment(folder: vscode.WorkspaceFolder, extensionPath: string, log: Logger & { show(preserveFocus?: boolean): void }): Promise<void> {
  if (running) return void vscode.window.showInformationMessage('Ladder Lab: the engine setup is already running.');
  running = true;
  try {
    await setUp(folder, extensionPath, log);
  } finally {
    running = false;
  }
}

async function setUp(folder: vscode.WorkspaceFolder, extensionPath: string, log: Logger & { show(preserveFocus?: boolean): void }): Promise<void> {
  const cwd = folder.uri.fsPath;
  // 1. An interpreter the user already has that runs the engine is offered first (a quick find, not an import).
  const ready = (await Promise.all((await candidatePythons(folder)).map(async (c) => ({ ...c, report: await checkEnvironment(c.path, { cwd }) })))).filter((c) => c.report.ok);
  if (ready.length) {
    const items = [
      ...ready.map((c) => ({ label: `Use ${c.path}`, description: c.source, detail: describeReport(c.report), python: c.path })),
      { label: 'Create a new environment in .venv', description: '', detail: 'PyTorch and the engine this extension carries', python: undefined },
    ];
    const picked = await vscode.window.showQuickPick(items, { title: 'Ladder Lab: an environment with the engine exists', ignoreFocusOut: true });
    if (!picked) return;
    if (picked.python) return usePython(folder, picked.python, log);
  }
  // 2. The plan.
  const config = vscode.workspace.getConfiguration('ladderLab', folder.uri);
  let torch, engine;
  try {
    torch = parseTorchSetting(config.get<string>(TORCH_SETTING));
    engine = engineSource(extensionPath);
  } catch (e) {
    return void vscode.window.showErrorMessage(`Ladder Lab: ${(e as Error).message}.`);
  }
  const script = path.join(cwd, 'scripts', 'setup-engine');
  const repoScript = existsSync(script) && existsSync(path.join(cwd, 'engine', 'pyproject.toml')) ? script : undefined;
  if (!engine && !repoScript)
    return void vscode.window.showErrorMessage(
      `Ladder Lab: this copy of the extension carries no engine wheel (${path.join(extensionPath, ENGINE_WHEEL_DIR)} is empty). Install a VSIX built with \`npm run package\`.`,
    );
  const existing = workspaceVenvPython(folder);
  // A .venv folder without an interpreter is not ours to fill or to delete on failure: the user decides.
  if (!existing && existsSync(path.join(cwd, '.venv')))
    return void vscode.window.showErrorMessage(
      `Ladder Lab: ${path.join(cwd, '.venv')} exists but holds no Python interpreter; delete or rename it, then run Set Up Engine Environment again.`,
    );
  const torchPresent = !!existing && (await checkEnvironment(existing, { cwd })).modules.torch?.ok === true;
  const plan = setupPlan({
    folder: cwd,
    platform: process.platform,
    venvExists: !!existing,
    torchPresent,
    torch,
    cuda: await hasNvidiaGpu(),
    engine: engine ?? { editable: path.join(cwd, 'engine') },
    repoScript,
  });
  log.show(true);
  log.info(`setting up ${plan.venv}: ${plan.steps.map((s) => s.title).join('; ')}`);
  // 3. Run it; on failure or cancel remove the .venv only if this setup created it.
  const outcome = await runPlan(plan, cwd, log);
  if (!outcome.ok) {
    if (!outcome.removedVenv && existsSync(plan.venv) && !venvHasEngine(plan.venv))
      log.warn(`${plan.venv} existed before the setup and was kept; it lacks the engine, so Ladder Lab will not pick it`);
    if (outcome.cancelled) return void vscode.window.showWarningMessage(
        `Ladder Lab: engine setup ${outcome.why}${outcome.removedVenv ? '; the .venv it was creating is removed' : ''}.`,
      );
    const advice = outcome.detail ? ` pip said: ${outcome.detail.split('\n').join(' / ')}.` : '';
    const choice = await vscode.window.showErrorMessage(
      `Ladder Lab: engine setup stopped: ${outcome.why}.${advice} Check the network or proxy for PyPI, or name another PyTorch in the setting ladderLab.setup.torch, then run Set Up Engine Environment again.`,
      'Show Output',
      'Open Setting',
    );
    if (choice === 'Show Output') log.show(false);
    if (choice === 'Open Setting') void vscode.commands.executeCommand('workbench.action.openSettings', `ladderLab.${TORCH_SETTING}`);
    return;
  }
  await usePython(folder, plan.python, log, outcome.report);
}

/** Makes `python` the engine's interpreter for the folder (the setting, unless it is already the one chosen). */
async function usePython(folder: vscode.WorkspaceFolder, python: string, log: Logger, report?: EnvironmentReport): Promise<void> {
  if ((await findPython(folder)).path !== python)
    await vscode.workspace.getConfiguration('ladderLab', folder.uri).update(PYTHON_SETTING, python, vscode.ConfigurationTarget.Workspace);
  const what = report ? describeReport(report) : python;
  log.info(`the engine's interpreter is now ${python}`);
  void vscode.window.showInformationMessage(`Ladder Lab: the engine is ready (${what}).`);
}
