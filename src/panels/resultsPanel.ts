// The results panel: compares finished runs (the latest comparison by default, or the runs the user picks) in a
// table and an accuracy-vs-memory scatter, and exports the table to CSV or Markdown. Everything it shows is read
// back from the run folders through RunManagerApi.listRuns(), so it survives reloads and follows new runs.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isSafeId, type RequestMessage } from '../../protocol/webviews/common';
import {
  parseResultsMessage,
  ResultsMessages,
  type ResultsChannel,
  type ResultsState,
} from '../../protocol/webviews/results';
import { readInferenceFigures } from '../inference/benchmark';
import type { RunRecord } from '../runs/types';
import type { PanelDeps } from './monitorPanel';
import { PanelShell, PanelSlot, registerSingletonPanel, saveExport } from './panelShell';
import { buildTable, configOf, latestComparison, toChoice, toCsv, toMarkdown, type FinishedRun } from './resultsTable';
import { readSweepSummaries, summaryRow, sweepOf, type SweepSummary } from '../sweeps/sweepSummary';

export const SHOW_RESULTS_COMMAND = 'ladderLab.internal.showResults';

const slot = new PanelSlot<ResultsPanel>('ladderLab.results');

export class ResultsPanel extends PanelShell<ResultsChannel> {
  public static get currentPanel(): ResultsPanel | undefined {
    return slot.current;
  }

  /** Test seam: the last state posted to the webview. */
  public get lastState(): ResultsState | undefined {
    return this.last?.state;
  }

  private selected: string[] | null = null; // null = the latest comparison
  private showTrials = false; // sweeps' trials as runs of the table too (default: one row per sweep)
  private sweeps: SweepSummary[] = [];
  private configs = new Map<string, Record<string, unknown> | null>(); // run id -> config.json (runs never change)
  private last: { runs: FinishedRun[]; state: ResultsState } | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;

  public static register(extensionUri: vscode.Uri, deps: PanelDeps): vscode.Disposable {
    return registerSingletonPanel({
      slot,
      command: SHOW_RESULTS_COMMAND,
      // Optional argument: the run ids to compare (e.g. from the runs tree); default the latest comparison.
      show: (runIds?: unknown) => ResultsPanel.createOrShow(extensionUri, deps, runIds),
      restore: (panel) => new ResultsPanel(panel, extensionUri, deps),
    });
  }

  public static createOrShow(extensionUri: vscode.Uri, deps: PanelDeps, runIds?: unknown): ResultsPanel {
    const ids = Array.isArray(runIds) && runIds.length > 0 && runIds.every(isSafeId) ? runIds : undefined;
    const current = slot.current;
    if (current) {
      current.reveal();
      if (ids) current.select(ids);
      else void current.refresh();
      return current;
    }
    const created = slot.create(
      extensionUri,
      'Ladder Lab: Results',
      { viewColumn: vscode.ViewColumn.Active },
      (panel) => new ResultsPanel(panel, extensionUri, deps),
    );
    if (ids) created.selected = ids;
    return created;
  }

  private constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly deps: PanelDeps,
  ) {
    super(panel, extensionUri, { app: 'results', title: 'Results', parse: parseResultsMessage });
    deps.runManager.onDidChangeRuns(() => void this.refresh(), null, this.disposables);
  }

  private select(ids: string[]): void {
    this.selected = ids;
    void this.refresh();
  }

  protected override onReady(): Promise<void> {
    return this.refresh();
  }

  protected override async onRequest(msg: RequestMessage<ResultsChannel>): Promise<void> {
    switch (msg.type) {
      case ResultsMessages.select:
        this.select(msg.runIds);
        break;
      case ResultsMessages.selectLatest:
        this.selected = null;
        await this.refresh();
        break;
      case ResultsMessages.exportCsv:
        await this.export('csv');
        break;
      case ResultsMessages.exportMarkdown:
        await this.export('md');
        break;
      case ResultsMessages.tryModel:
        await vscode.commands.executeCommand('ladderLab.tryModel');
        break;
      case ResultsMessages.openSweep: {
        const sweep = this.sweeps.find((s) => s.sweepId === msg.sweepId);
        if (sweep) await vscode.commands.executeCommand('ladderLab.openSweep', sweep.dir);
        break;
      }
      case ResultsMessages.showTrials:
        this.showTrials = msg.show;
        await this.refresh();
        break;
    }
  }

  private async readConfig(record: RunRecord): Promise<Record<string, unknown> | null> {
    if (this.configs.has(record.id)) return this.configs.get(record.id)!;
    let config: Record<string, unknown> | null = null;
    try {
      const parsed = JSON.parse(await readFile(path.join(record.dir, 'config.json'), 'utf8')) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        config = parsed as Record<string, unknown>;
    } catch {
      // no config.json: the run still shows, without a task, and stands alone in "latest comparison"
    }
    this.configs.set(record.id, config);
    return config;
  }

  /** Re-reads the run store and posts the new state; calls during a refresh coalesce into one more. */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          await this.computeAndPost();
        } catch (e) {
          void vscode.window.showErrorMessage(
            `Ladder Lab: could not read the runs: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
      } while (this.refreshAgain && !this.isDisposed);
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async computeAndPost(): Promise<void> {
    const records = await this.deps.runManager.listRuns();
    const runs: FinishedRun[] = [];
    this.sweeps = await readSweepSummaries(records);
    for (const r of records) {
      if (r.status !== 'finished' || !r.summary) continue;
      // A sweep's trials are its row in the sweeps table, unless the user asked to see them as runs.
      if (!this.showTrials && sweepOf(r.config)) continue;
      runs.push({
        id: r.id,
        method: r.method,
        startedAt: r.startedAt ?? null,
        summary: r.summary,
        config: r.config ?? (await this.readConfig(r)),
        inference: await readInferenceFigures(r.dir),
        userLabel: r.userLabel,
        timing: r.timing,
      });
    }
    const latest = latestComparison(runs);
    const known = new Set(runs.map((r) => r.id));
    const ids = (this.selected ?? latest).filter((id) => known.has(id));
    const byId = new Map(runs.map((r) => [r.id, r]));
    const chosen = ids.map((id) => byId.get(id)!);
    const every = runs.map(configOf);
    const choices = runs.map((r) => toChoice(r, every));
    const state: ResultsState = {
      choices,
      selected: ids,
      latest,
      table: buildTable(chosen),
      sweeps: this.sweeps.map(summaryRow),
      showTrials: this.showTrials,
    };
    this.last = { runs: chosen, state };
    this.post({ type: ResultsMessages.state, state });
  }

  private async export(kind: 'csv' | 'md'): Promise<void> {
    if (!this.last) await this.refresh();
    const table = this.last?.state.table;
    if (!table || table.rows.length === 0) {
      void vscode.window.showInformationMessage('Ladder Lab: no runs selected to export.');
      return;
    }
    await saveExport(
      kind === 'csv'
        ? { name: 'ladderlab-results.csv', filters: { CSV: ['csv'] }, data: toCsv(table) }
        : { name: 'ladderlab-results.md', filters: { Markdown: ['md'] }, data: toMarkdown(table) },
      true,
    );
  }
}
