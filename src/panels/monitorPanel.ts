// The run monitor panel: one instance, shown beside the editor. It shows one session at a time (the active one,
// else the most recent), follows a new session when one starts, and replays the session's events whenever the
// webview says `ready` (first load, shown again after being hidden, restored after a window reload).
import * as vscode from 'vscode';
import type { EngineEvent } from '../../protocol/events';
import { isSafeId, type RequestMessage } from '../../protocol/webviews/common';
import {
  MonitorMessages,
  parseMonitorMessage,
  type MonitorChannel,
  type MonitorSessionInfo,
  type MonitorToWebview,
} from '../../protocol/webviews/monitor';
import type { GpuMonitor } from '../engine/gpuMonitor';
import { resumableRunOf } from '../runs/sessionState';
import type { RunManagerApi, Session } from '../runs/types';
import { lastComparisonFromDisk } from './diskReplay';
import { stepTimesByMethod } from './monitorHints';
import { PanelShell, PanelSlot, registerSingletonPanel } from './panelShell';

export const SHOW_MONITOR_COMMAND = 'ladderLab.internal.showMonitor';

export interface PanelDeps {
  runManager: RunManagerApi;
  gpu: GpuMonitor;
}

function info(s: Session): MonitorSessionInfo {
  const out: MonitorSessionInfo = {
    id: s.id,
    state: s.state,
    methods: [...s.methods],
    experimentPath: vscode.workspace.asRelativePath(s.experimentPath),
  };
  const resumable = resumableRunOf(s);
  if (resumable) out.resumableRunId = resumable;
  return out;
}

const slot = new PanelSlot<MonitorPanel>('ladderLab.monitor');

export class MonitorPanel extends PanelShell<MonitorChannel> {
  public static get currentPanel(): MonitorPanel | undefined {
    return slot.current;
  }

  private sessionId: string | undefined;
  /** What the shown session may resume (the only run id a `monitor/resume` message is honoured for). */
  private resumableRunId: string | undefined;
  /** Test seam: a short record of what was posted to the webview (type, session, event type and step). */
  public readonly posted: { type: string; sessionId?: string; eventType?: string; step?: number }[] = [];

  public static register(extensionUri: vscode.Uri, deps: PanelDeps): vscode.Disposable {
    return registerSingletonPanel({
      slot,
      command: SHOW_MONITOR_COMMAND,
      // Optional argument {runIds}: show those finished runs from their folders (the Runs view's Reopen Curves).
      show: (arg?: unknown) => MonitorPanel.createOrShow(extensionUri, deps, pinnedRunIds(arg)),
      restore: (panel) => new MonitorPanel(panel, extensionUri, deps),
    });
  }

  public static createOrShow(extensionUri: vscode.Uri, deps: PanelDeps, runIds?: string[]): MonitorPanel {
    if (slot.current) {
      slot.current.reveal(true);
      if (runIds) slot.current.pin(runIds);
      return slot.current;
    }
    const viewColumn = vscode.window.activeTextEditor ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active;
    const created = slot.create(
      extensionUri,
      'Ladder Lab: Run Monitor',
      { viewColumn, preserveFocus: true },
      (panel) => new MonitorPanel(panel, extensionUri, deps),
    );
    if (runIds) created.pin(runIds);
    return created;
  }

  /** Runs the user asked to see again, shown from their folders until a session not known now starts. */
  private pinned: { runIds: string[]; knownSessions: Set<string> } | undefined;

  private pin(runIds: string[]): void {
    this.pinned = { runIds, knownSessions: new Set(this.deps.runManager.sessions().map((s) => s.id)) };
    this.sessionId = undefined;
    this.sendState();
  }

  /** Still pinned? A new session (a comparison started since) unpins: the monitor follows live runs. */
  private isPinned(): boolean {
    const active = this.deps.runManager.activeSession();
    if (this.pinned && active && !this.pinned.knownSessions.has(active.id)) this.pinned = undefined;
    return this.pinned !== undefined;
  }

  private constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly deps: PanelDeps,
  ) {
    super(panel, extensionUri, { app: 'monitor', title: 'Run Monitor', parse: parseMonitorMessage });
    deps.runManager.onDidEvent(({ sessionId, event }) => this.onEvent(sessionId, event), null, this.disposables);
    deps.runManager.onDidChangeSessions(() => this.onSessionsChanged(), null, this.disposables);
    // Showing run folders (no live session): follow them as they change (e.g. a comparison run from a terminal).
    deps.runManager.onDidChangeRuns(
      () => {
        if (this.sessionId === undefined) this.sendState();
      },
      null,
      this.disposables,
    );
    deps.gpu.onDidSample((sample) => this.post({ type: MonitorMessages.gpu, sample }), null, this.disposables);
  }

  /** The session to show: the active one, else the one shown so far, else the most recent. */
  private pickSession(): Session | undefined {
    const rm = this.deps.runManager;
    const sessions = rm.sessions();
    return rm.activeSession() ?? sessions.find((s) => s.id === this.sessionId) ?? sessions[sessions.length - 1];
  }

  protected override onReady(): void {
    this.sendState();
  }

  /** Sends the whole state of the session to show. */
  private sendState(): void {
    const session = this.isPinned() ? undefined : this.pickSession();
    this.sessionId = session?.id;
    if (!session) {
      void this.sendStateFromDisk();
      return;
    }
    const shown = this.info(session);
    this.resumableRunId = shown.resumableRunId;
    if (this.stepS?.sessionId !== session.id) void this.sendStepTimes(session);
    this.post({
      type: MonitorMessages.state,
      session: shown,
      events: [...session.events],
      gpu: this.deps.gpu.samples(),
    });
  }

  /** No session in memory (a window reload, runs from a terminal): replay the latest comparison's run folders. */
  private async sendStateFromDisk(): Promise<void> {
    let replay: Awaited<ReturnType<typeof lastComparisonFromDisk>>;
    try {
      replay = await lastComparisonFromDisk(await this.deps.runManager.listRuns(), this.pinned?.runIds);
    } catch {
      replay = undefined;
    }
    if (this.sessionId !== undefined) return; // a live session started meanwhile and was sent
    this.resumableRunId = replay?.session.resumableRunId;
    this.post({ type: MonitorMessages.state, session: replay?.session ?? null, events: replay?.events ?? [], gpu: [] });
  }

  protected override onRequest(msg: RequestMessage<MonitorChannel>): void {
    switch (msg.type) {
      case MonitorMessages.stop:
        if (msg.sessionId !== this.sessionId) return;
        this.deps.runManager.stop(msg.sessionId).catch((e: unknown) => {
          void vscode.window.showErrorMessage(
            `Ladder Lab: could not stop the run: ${e instanceof Error ? e.message : String(e)}`,
          );
        });
        break;
      case MonitorMessages.resume:
        // Only the run this panel offered: a webview cannot make the host resume (= run) anything else.
        if (msg.runId !== this.resumableRunId) return;
        this.resumableRunId = undefined;
        this.deps.runManager.resume(msg.runId).catch((e: unknown) => {
          void vscode.window.showErrorMessage(
            `Ladder Lab: could not resume the run: ${e instanceof Error ? e.message : String(e)}`,
          );
        });
        break;
    }
  }

  private onEvent(sessionId: string, event: EngineEvent): void {
    if (sessionId !== this.sessionId) {
      // A session we are not showing: switch to it if it is the active one (a new comparison started).
      const active = this.deps.runManager.activeSession();
      if (active?.id !== sessionId || this.isPinned()) return;
      this.sendState();
      // The run manager may fire before it appends the event to the session: make sure it is not lost.
      if (!active.events.includes(event)) this.post({ type: MonitorMessages.event, sessionId, event });
      return;
    }
    this.post({ type: MonitorMessages.event, sessionId, event });
  }

  private onSessionsChanged(): void {
    if (this.isPinned()) return;
    const session = this.pickSession();
    if (!session) return;
    if (session.id !== this.sessionId) this.sendState();
    else {
      const shown = this.info(session);
      this.resumableRunId = shown.resumableRunId;
      this.post({ type: MonitorMessages.session, session: shown });
    }
  }

  /** The session's methods' step times in their earlier runs of its experiment (for the ETA of those to come). */
  private stepS: { sessionId: string; stepS: Record<string, number> } | undefined;

  private info(session: Session): MonitorSessionInfo {
    const shown = info(session);
    const stepS = this.stepS?.sessionId === session.id ? this.stepS.stepS : {};
    return Object.keys(stepS).length ? { ...shown, stepS } : shown;
  }

  private async sendStepTimes(session: Session): Promise<void> {
    this.stepS = { sessionId: session.id, stepS: {} };
    let runs: Awaited<ReturnType<RunManagerApi['listRuns']>>;
    try {
      runs = await this.deps.runManager.listRuns();
    } catch {
      return; // the ETA then assumes the current pace for methods to come
    }
    const stepS = stepTimesByMethod(runs, session.experimentPath, session.methods);
    if (session.id !== this.sessionId || Object.keys(stepS).length === 0) return;
    this.stepS = { sessionId: session.id, stepS };
    this.post({ type: MonitorMessages.session, session: this.info(session) });
  }

  protected override post(message: MonitorToWebview): boolean {
    if (!super.post(message)) return false;
    const sessionId =
      message.type === MonitorMessages.state
        ? message.session?.id
        : message.type === MonitorMessages.gpu
          ? undefined
          : 'sessionId' in message
            ? message.sessionId
            : message.session.id;
    const event = message.type === MonitorMessages.event ? message.event : undefined;
    this.posted.push({
      type: message.type,
      sessionId,
      eventType: event?.type,
      step: event?.type === 'train_step' ? event.step : undefined,
    });
    if (this.posted.length > 500) this.posted.splice(0, 100);
    return true;
  }
}

function pinnedRunIds(arg: unknown): string[] | undefined {
  const ids = typeof arg === 'object' && arg !== null ? (arg as { runIds?: unknown }).runIds : undefined;
  return Array.isArray(ids) && ids.length > 0 && ids.every(isSafeId) ? ids : undefined;
}
