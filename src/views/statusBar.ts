// Status bar item shown while a comparison runs: method, step and memory; a click opens the monitor.
import * as vscode from 'vscode';
import type { RunManagerApi } from '../runs/types';
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
        if (event.type === 'train_step' || event.type === 'run_started') this.update();
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
    this.item.text = stopping
      ? '$(sync~spin) Ladder Lab: stopping…'
      : (statusBarText(session.events) ?? '$(sync~spin) Ladder Lab: loading the engine…');
    this.item.tooltip = `Ladder Lab: ${session.methods.join(', ')} from ${session.experimentPath} — click to open the monitor`;
    this.item.show();
    this.visible = true;
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.item.dispose();
  }
}
