// Whether the selected engine has an `estimate` subcommand (the Estimate lens needs it), asked again whenever the
// engine may have changed: the ladderLab.pythonPath setting, the Python extension's interpreter, workspace trust,
// or `engineChanged()` (called after Set Up Engine Environment succeeds). No window reload needed.
import * as vscode from 'vscode';
import { engineSubcommands } from '../engine/environment';
import { findPython, PYTHON_SETTING } from '../engine/python';

const changedEngine = new vscode.EventEmitter<void>();

/** Tell the extension the engine environment changed (e.g. setup installed it): the estimate lens re-probes. */
export function engineChanged(): void {
  changedEngine.fire();
}

/** The Python extension's event, the part we use; it may be absent or older. */
interface PythonEnvironmentEvents {
  environments?: { onDidChangeActiveEnvironmentPath?: vscode.Event<unknown> };
}

export class EstimateProbe implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<boolean>();
  /** Fires with the new answer when it changes. */
  readonly onDidChange = this.changed.event;
  private answer = false;
  private asked = false;
  private generation = 0;
  private pythonEventsHooked = false;
  private readonly subscriptions: vscode.Disposable[];

  constructor() {
    this.subscriptions = [
      this.changed,
      changedEngine.event(() => void this.probe()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`ladderLab.${PYTHON_SETTING}`)) void this.probe();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.probe()),
    ];
  }

  /** The latest answer; the first call starts the first probe (the lens appears when it answers yes). */
  hasEstimate(): boolean {
    if (!this.asked) void this.probe();
    return this.answer;
  }

  /** Ask the engine again; a newer probe's answer wins over an older one still running. */
  probe(): Promise<boolean> {
    this.asked = true;
    const generation = ++this.generation;
    return this.ask().then((yes) => {
      if (generation === this.generation && yes !== this.answer) {
        this.answer = yes;
        this.changed.fire(yes);
      }
      return yes;
    });
  }

  private async ask(): Promise<boolean> {
    if (!vscode.workspace.isTrusted) return false; // asking the engine means running the workspace's Python
    const folder = vscode.workspace.workspaceFolders?.[0];
    const python = (await findPython(folder)).path;
    this.hookPythonExtension(); // findPython activated it, if it is installed
    return (await engineSubcommands(python, folder?.uri.fsPath)).includes('estimate');
  }

  private hookPythonExtension(): void {
    if (this.pythonEventsHooked) return;
    const ext = vscode.extensions.getExtension<PythonEnvironmentEvents>('ms-python.python');
    const event = ext?.isActive ? ext.exports?.environments?.onDidChangeActiveEnvironmentPath : undefined;
    if (!event) return;
    this.pythonEventsHooked = true;
    this.subscriptions.push(event(() => void this.probe()));
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}
