// Status bar item shown while a comparison runs: method, step and memory; a click opens the monitor. While a sweep
// runs: its trials done and the running trial's step; a click opens its panel.
import * as vscode from 'vscode';
import type { RunManagerApi } from '../runs/types';
import { sweepProgress, sweepProgressText } from '../sweeps/sweepProgress';
import { statusBarText } from './format';

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('ladderLab.run', vscode.StatusBarAlignment.Left, 50);
  private readonly subscriptions: vscode.Disposable[];
  private visible = false;

  constructor(private readonly runs: RunManagerApi) {
    this.item.name = 'Ladder Lab run';
    this.item.command = 'ladderLab.openMonitor';
    this.subscriptions = [
      runs.onDidChangeSessions(() => this.update()),
      runs.onDidEvent(({ event }) => {
        // Steps arrive several times a second on a GPU; only the events that change the text matter.
        if (['train_step', 'run_started', 'sweep_started', 'sweep_trial'].includes(event.type)) this.update();
      }),
    ];
    this.update();
  }

  /** The text shown now ('' when hidden); for tests. */
  get text(): string {
    return this.visible ? this.item.text : '';
  }

  private update(): void {
    const session = this.runs.activeSession();
    if (!session) {
      this.item.hide();
      this.visible = false;
      return;
    }
    const stopping = session.state === 'stopping';
    const sweep = session.kind === 'sweep';
    this.item.text = stopping
      ? '$(sync~spin) Ladder Lab: stopping…'
      : sweep
        ? `$(sync~spin) Ladder Lab: ${sweepProgressText(sweepProgress(session.events, Date.now() / 1000))}`
        : (statusBarText(session.events) ?? '$(sync~spin) Ladder Lab: loading the engine…');
    this.item.command = sweep
      ? { title: 'Open Sweep', command: 'ladderLab.openSweep', arguments: session.sweepDir ? [session.sweepDir] : [] }
      : 'ladderLab.openMonitor';
    this.item.tooltip = `Ladder Lab: ${sweep ? 'the sweep of ' : ''}${session.methods.join(', ')} from ${session.experimentPath} — click to open the ${sweep ? 'sweep' : 'monitor'}`;
    this.item.show();
    this.visible = true;
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.item.dispose();
  }
}
