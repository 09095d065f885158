// The "Ladder Lab: ..." commands (contributed in package.json) and the notifications about runs.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkEnvironment, describeReport, venvPython } from './engine/environment';
import { findPython, PYTHON_SETTING } from './engine/python';
import { setUpEngineEnvironment } from './engine/setup';
import type { Logger } from './engine/worker';
import { serializeExperiment, STARTER_EXPERIMENT } from '../protocol/experiment';
import { EXPERIMENT_SUFFIX, experimentFileName, experimentNameProblem, freeExperimentName } from './experimentName';
import { EngineEnvironmentError, launchBlockedReason, sweepResumeRefusal } from './runs/launchChecks';
import { isActive, sessionOfSweep } from './runs/sessionState';
import { countsText } from './sweeps/sweepFolders';
import { workspaceSweeps } from './runs/workspaceRuns';
import type { RunManager } from './runs/runManager';
import { errorNotice, runName } from './runs/runText';
import type { RunRecord, Session } from './runs/types';
import type { RunsTreeProvider } from './views/runsTree';
import { registerRunsCommands } from './views/runsCommands';
import { methodLabel, scoreText } from './views/format';
import type { EstimateOptions, MemoryEstimates } from './views/estimate';
import { engineChanged } from './views/estimateProbe';

/** Registered by the panels (src/panels/); until they are, the public commands say so instead of failing. */
export const INTERNAL_SHOW_MONITOR = 'ladderLab.internal.showMonitor';
export const INTERNAL_SHOW_RESULTS = 'ladderLab.internal.showResults';
/** The whole sweep: from the Sweep panel's buttons, the palette, or with a sweep folder (or id) as argument. */
export const STOP_SWEEP_COMMAND = 'ladderLab.stopSweep';
export const RESUME_SWEEP_COMMAND = 'ladderLab.resumeSweep';

export interface CommandDeps {
  runs: RunManager;
  tree: RunsTreeProvider;
  log: Logger & { show(preserveFocus?: boolean): void };
  /** Ladder Lab: Estimate Memory and the last estimate per file (src/views/estimate.ts). */
  estimates: MemoryEstimates;
  /** The extension's own folder (Set Up Engine Environment installs the engine wheel it carries). */
  extensionPath: string;
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { runs, tree, log } = deps;
  const run = (uri?: vscode.Uri | vscode.Uri[]) => runComparison(deps, uri);
  return [
    vscode.commands.registerCommand('ladderLab.newExperiment', newExperiment),
    vscode.commands.registerCommand('ladderLab.runExperiment', run),
    vscode.commands.registerCommand('ladderLab.runComparison', run),
    vscode.commands.registerCommand('ladderLab.stopRun', (sessionId?: unknown) =>
      runs
        .stop(typeof sessionId === 'string' ? sessionId : undefined)
        .catch((e: Error) => void vscode.window.showErrorMessage(`Ladder Lab: ${e.message}`)),
    ),
    vscode.commands.registerCommand('ladderLab.resumeRun', (arg?: unknown) => resumeRun(deps, arg)),
    vscode.commands.registerCommand(STOP_SWEEP_COMMAND, (arg?: unknown) => stopSweep(deps, arg)),
    vscode.commands.registerCommand(RESUME_SWEEP_COMMAND, (arg?: unknown) => resumeSweep(deps, arg)),
    vscode.commands.registerCommand('ladderLab.openMonitor', (...args: unknown[]) =>
      showPanel(INTERNAL_SHOW_MONITOR, 'run monitor', args),
    ),
    vscode.commands.registerCommand('ladderLab.openResults', (arg?: RunRecord | RunRecord[] | string[]) => {
      // From a tree item: that run; from the results CodeLens: the file's latest runs; from the palette: nothing
      // (the panel then shows the latest comparison). The panel takes run ids.
      const ids =
        arg === undefined
          ? undefined
          : (Array.isArray(arg) ? arg : [arg]).map((r) => (typeof r === 'string' ? r : r.id));
      return showPanel(INTERNAL_SHOW_RESULTS, 'results view', ids ? [ids] : []);
    }),
    vscode.commands.registerCommand('ladderLab.refreshRuns', () => tree.refresh()),
    vscode.commands.registerCommand('ladderLab.selectPython', () => selectPython(log)),
    vscode.commands.registerCommand('ladderLab.setupEngine', () => setupEngineCommand(deps)),
    // From the palette (no file given) it asks for the GPU size first; from the CodeLens it uses the remembered one.
    vscode.commands.registerCommand(
      'ladderLab.estimateMemory',
      (uri?: vscode.Uri | string, options?: EstimateOptions) =>
        deps.estimates.estimate(uri, options ?? (uri ? {} : { askGpu: true })),
    ),
    ...registerRunNotifications(runs, log),
    ...registerRunsCommands(runs, tree),
  ];
}

async function showPanel(internal: string, what: string, args: unknown[]): Promise<unknown> {
  if ((await vscode.commands.getCommands(true)).includes(internal))
    return vscode.commands.executeCommand(internal, ...args);
  void vscode.window.showInformationMessage(`Ladder Lab: the ${what} is not available in this version yet.`);
  return undefined;
}

/**
 * Asks for a name (or takes `name`, from a caller or a test), writes the starter experiment as `<name>.ladder.json` into
 * the workspace folder (asking which when there are several) and opens it. An existing file is opened, never replaced.
 */
export async function newExperiment(name?: unknown): Promise<vscode.Uri | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 0) {
    void vscode.window.showErrorMessage(
      'Ladder Lab: open a folder first; the experiment file and its runs live in it.',
    );
    return undefined;
  }
  const folder =
    folders.length === 1
      ? folders[0]
      : await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Workspace folder for the new experiment' });
  if (!folder) return undefined;
  const exists = (fileName: string) => existsSync(path.join(folder.uri.fsPath, fileName));
  const typed =
    typeof name === 'string'
      ? name
      : await vscode.window.showInputBox({
          title: 'Ladder Lab: New Experiment',
          prompt: `Name of the experiment; it is saved as NAME${EXPERIMENT_SUFFIX} in ${folder.name}`,
          value: freeExperimentName(exists),
          validateInput: (value) => {
            const problem = experimentNameProblem(value);
            if (problem) return { message: problem, severity: vscode.InputBoxValidationSeverity.Error };
            const file = experimentFileName(value);
            // Info, not Error: Enter stays allowed and opens that file.
            if (exists(file))
              return { message: `${file} exists: Enter opens it.`, severity: vscode.InputBoxValidationSeverity.Info };
            return undefined;
          },
        });
  if (typed === undefined) return undefined; // cancelled
  const problem = experimentNameProblem(typed);
  if (problem) {
    void vscode.window.showErrorMessage(`Ladder Lab: ${problem}`);
    return undefined;
  }
  const uri = vscode.Uri.joinPath(folder.uri, experimentFileName(typed));
  try {
    // 'wx': the write fails rather than replace a file made since the name was checked.
    await writeFile(uri.fsPath, serializeExperiment(STARTER_EXPERIMENT), { encoding: 'utf8', flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      void vscode.window.showErrorMessage(`Ladder Lab: cannot write ${uri.fsPath}: ${(e as Error).message}`);
      return undefined;
    }
  }
  await vscode.window.showTextDocument(uri);
  return uri;
}

/** The experiment to run: the given one (CodeLens, menus), the active editor's, the only one, or the user's pick. */
export async function pickExperiment(arg?: vscode.Uri | vscode.Uri[]): Promise<vscode.Uri | undefined> {
  const given = Array.isArray(arg) ? arg[0] : arg;
  if (given instanceof vscode.Uri) return given;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.fsPath.endsWith('.ladder.json')) return active;
  const files = await vscode.workspace.findFiles('**/*.ladder.json', '**/node_modules/**', 200);
  if (files.length === 1) return files[0];
  if (files.length === 0) {
    void vscode.window
      .showInformationMessage('Ladder Lab: no *.ladder.json experiment in this workspace.', 'New Experiment')
      .then((c) => c && newExperiment());
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    files.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri), uri })),
    { placeHolder: 'Experiment to run' },
  );
  return picked?.uri;
}

export async function runComparison(deps: CommandDeps, arg?: vscode.Uri | vscode.Uri[]): Promise<Session | undefined> {
  const uri = await pickExperiment(arg);
  if (!uri) return undefined;
  // The engine reads the file from disk: save pending edits first so what runs is what is on screen.
  await vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString() && d.isDirty)?.save();
  try {
    const session = await deps.runs.startComparison(uri.fsPath);
    // A sweep's panel opens when its folder exists (sweep_started); the monitor follows one run at a time.
    if (session.kind !== 'sweep' && (await vscode.commands.getCommands(true)).includes(INTERNAL_SHOW_MONITOR)) {
      void vscode.commands.executeCommand(INTERNAL_SHOW_MONITOR, session.id);
    }
    return session;
  } catch (e) {
    const message = (e as Error).message;
    deps.log.error(message);
    // Not awaited: a notification with buttons stays until the user acts, and the command must return now.
    if (e instanceof EngineEnvironmentError) {
      void vscode.window
        .showErrorMessage(message, 'Set Up Engine Environment', 'Select Python Interpreter')
        .then((fix) => {
          if (fix === 'Set Up Engine Environment') void vscode.commands.executeCommand('ladderLab.setupEngine');
          if (fix === 'Select Python Interpreter') void vscode.commands.executeCommand('ladderLab.selectPython');
        });
    } else void vscode.window.showErrorMessage(`Ladder Lab: ${message}`);
    return undefined;
  }
}

/** The run to resume: the tree item's, the given id or folder, or the user's pick among the resumable runs. */
export async function resumeRun(deps: CommandDeps, arg?: unknown): Promise<Session | undefined> {
  let target = typeof arg === 'string' ? arg : isRunRecord(arg) ? arg.id : undefined;
  try {
    if (!target) {
      const candidates = (await deps.runs.listRuns()).filter((r) => r.status === 'interrupted');
      if (candidates.length === 0) {
        void vscode.window.showInformationMessage('Ladder Lab: no interrupted run to resume.');
        return undefined;
      }
      const among = candidates.map((r) => r.config ?? { method: r.method });
      const picked = await vscode.window.showQuickPick(
        candidates.map((r) => ({
          label: runName(r, among),
          description: r.id,
          detail: r.checkpoint ? 'continues from its checkpoint' : 'no checkpoint yet: starts again from the beginning',
          id: r.id,
        })),
        { placeHolder: 'Run to resume' },
      );
      target = picked?.id;
      if (!target) return undefined;
    }
    const session = await deps.runs.resume(target);
    if ((await vscode.commands.getCommands(true)).includes(INTERNAL_SHOW_MONITOR))
      void vscode.commands.executeCommand(INTERNAL_SHOW_MONITOR, session.id);
    return session;
  } catch (e) {
    const message = (e as Error).message;
    deps.log.error(message);
    void vscode.window.showErrorMessage(e instanceof EngineEnvironmentError ? message : `Ladder Lab: ${message}`);
    return undefined;
  }
}

/** Stops the sweep's engine (the given sweep's, else the running one): running trials checkpoint, the rest stay
 * queued for Resume Sweep. */
export async function stopSweep(deps: CommandDeps, arg?: unknown): Promise<void> {
  const sessions = deps.runs.sessions();
  const session =
    typeof arg === 'string'
      ? sessionOfSweep(sessions, path.basename(arg))
      : sessions.filter((s) => s.kind === 'sweep').find(isActive);
  if (!session || !isActive(session)) {
    void vscode.window.showInformationMessage('Ladder Lab: no sweep is running.');
    return;
  }
  await deps.runs.stop(session.id).catch((e: Error) => void vscode.window.showErrorMessage(`Ladder Lab: ${e.message}`));
}

/** Resumes a sweep (the given folder or id, else the user's pick among those with unfinished trials); its panel opens
 * when the engine has taken it up. */
export async function resumeSweep(deps: CommandDeps, arg?: unknown): Promise<Session | undefined> {
  let target = typeof arg === 'string' ? arg : undefined;
  try {
    if (!target) {
      const candidates = (await workspaceSweeps()).filter((s) => !sweepResumeRefusal(s));
      if (candidates.length === 0) {
        void vscode.window.showInformationMessage('Ladder Lab: no sweep with unfinished trials to resume.');
        return undefined;
      }
      const picked = await vscode.window.showQuickPick(
        candidates.map((s) => ({ label: s.id, description: countsText(s.counts), detail: s.dir, dir: s.dir })),
        { title: 'Resume Sweep', placeHolder: 'A sweep with unfinished trials (newest first)' },
      );
      target = picked?.dir;
      if (!target) return undefined;
    }
    return await deps.runs.resumeSweep(target);
  } catch (e) {
    const message = (e as Error).message;
    deps.log.error(message);
    void vscode.window.showErrorMessage(e instanceof EngineEnvironmentError ? message : `Ladder Lab: ${message}`);
    return undefined;
  }
}

function isRunRecord(v: unknown): v is RunRecord {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as RunRecord).id === 'string' &&
    typeof (v as RunRecord).dir === 'string'
  );
}

function registerRunNotifications(runs: RunManager, log: CommandDeps['log']): vscode.Disposable[] {
  const announced = new Set<string>();
  return [
    runs.onDidEvent(({ sessionId, event }) => {
      if (event.type !== 'error') return;
      const session = runs.sessions().find((s) => s.id === sessionId);
      const started = session?.events.filter((e) => e.type === 'run_started' && e.run_id === event.run_id).pop();
      const method = started?.type === 'run_started' ? started.method : undefined;
      void vscode.window.showErrorMessage(errorNotice(event, method), 'Open Run Monitor').then((c) => {
        if (c) void vscode.commands.executeCommand('ladderLab.openMonitor');
      });
    }),
    runs.onDidChangeSessions(() => {
      for (const s of runs.sessions()) {
        if (announced.has(s.id) || !['finished', 'failed', 'stopped', 'interrupted'].includes(s.state)) continue;
        announced.add(s.id);
        const rows = s.events.flatMap((e) => (e.type === 'run_finished' ? [e.summary] : []));
        const scores = rows.map((r) => `${methodLabel(r.method)} ${scoreText(r) ?? '?'}`).join(' · ');
        if (s.kind === 'sweep') {
          sweepNotice(s);
        } else if (s.state === 'finished') {
          void vscode.window
            .showInformationMessage(`Ladder Lab: comparison finished${scores ? `: ${scores}` : ''}.`, 'Open Results')
            .then((c) => {
              if (c) void vscode.commands.executeCommand('ladderLab.openResults');
            });
        } else if (s.state === 'interrupted') {
          void vscode.window
            .showWarningMessage(
              'Ladder Lab: the engine ended without finishing or saying why (it was killed, or crashed hard). Every event it wrote is kept; the run can be resumed from its last checkpoint.',
              'Resume',
            )
            .then((c) => {
              if (c) void vscode.commands.executeCommand('ladderLab.resumeRun');
            });
        } else if (s.state === 'failed' && !s.events.some((e) => e.type === 'error')) {
          // No error event: the engine died before it could say why (e.g. a missing package); stderr is in the output.
          void vscode.window
            .showErrorMessage('Ladder Lab: the engine stopped unexpectedly; see the Ladder Lab output.', 'Show Output')
            .then((c) => {
              if (c) log.show();
            });
        }
      }
    }),
  ];
}

/** How a sweep's engine ended, with the way on: its panel, or Resume Sweep. */
function sweepNotice(s: Session): void {
  // No folder: the engine refused the file before the sweep began, and its error notice said why.
  if (!s.sweepDir) return;
  const open = () => void vscode.commands.executeCommand('ladderLab.openSweep', s.sweepDir);
  if (s.state === 'finished')
    void vscode.window.showInformationMessage('Ladder Lab: sweep finished.', 'Open Sweep').then((c) => c && open());
  else if (s.state === 'stopped' || s.state === 'interrupted')
    void vscode.window
      .showInformationMessage(
        `Ladder Lab: sweep ${s.state}; finished trials are kept and Resume Sweep continues the rest.`,
        'Resume Sweep',
      )
      .then((c) => c && vscode.commands.executeCommand(RESUME_SWEEP_COMMAND, s.sweepDir));
  else if (s.state === 'failed')
    void vscode.window
      .showErrorMessage('Ladder Lab: the sweep ended with a failed trial or error; its panel says which.', 'Open Sweep')
      .then((c) => c && open());
}

async function selectPython(log: Logger): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  const config = vscode.workspace.getConfiguration('ladderLab', folder?.uri);
  const current = await findPython(folder);
  type Item = vscode.QuickPickItem & { value?: string; action?: 'browse' | 'clear' };
  const items: Item[] = [];
  const add = (value: string, description: string) => {
    if (!items.some((i) => i.value === value)) items.push({ label: value, description, value });
  };
  add(current.path, `current (${current.source.replace('-', ' ')})`);
  const venv = folder && venvPython(path.join(folder.uri.fsPath, '.venv'));
  if (venv && existsSync(venv)) add(venv, 'workspace .venv');
  add(process.platform === 'win32' ? 'python' : 'python3', 'on PATH');
  items.push(
    { label: '$(folder-opened) Browse…', action: 'browse' },
    { label: '$(discard) Clear the setting (choose automatically)', action: 'clear' },
  );
  const picked = await vscode.window.showQuickPick(items, {
    placeHolder: 'Python interpreter for the Ladder Lab engine',
  });
  if (!picked) return;
  let value = picked.value;
  if (picked.action === 'browse') {
    const chosen = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: 'Use this interpreter',
      defaultUri: folder?.uri,
    });
    value = chosen?.[0]?.fsPath;
    if (!value) return;
  }
  const target = folder ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update(PYTHON_SETTING, picked.action === 'clear' ? undefined : value, target);
  const report = await checkEnvironment((await findPython(folder)).path, { cwd: folder?.uri.fsPath });
  log.info(describeReport(report));
  if (report.ok) void vscode.window.showInformationMessage(`Ladder Lab: ${describeReport(report)}.`);
  else
    void vscode.window
      .showWarningMessage(`Ladder Lab: ${describeReport(report)}.`, 'Set Up Engine Environment')
      .then((c) => c && vscode.commands.executeCommand('ladderLab.setupEngine'));
}

async function setupEngineCommand(deps: CommandDeps): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder)
    return void vscode.window.showErrorMessage(
      'Ladder Lab: open a folder first; the engine environment goes into its .venv.',
    );
  const blocked = launchBlockedReason(vscode.workspace.isTrusted);
  if (blocked) return void vscode.window.showErrorMessage(blocked);
  await setUpEngineEnvironment(folder, deps.extensionPath, deps.log);
  engineChanged(); // the Estimate lens asks the (new) engine again
}
