// CodeLens and hover on *.ladder.json: run it, estimate memory (if the engine can; the last estimate stays in the
// lens and the hover), and the latest results.
import * as vscode from 'vscode';
import { METHODS, parseExperimentText, SWEEP_KEY } from '../../protocol/experiment';
import { lastSweepOfFile, readSweepSummaries, sweepResultText, type SweepSummary } from '../sweeps/sweepSummary';
import type { StoredRun } from '../runs/runStore';
import type { RunManagerApi } from '../runs/types';
import {
  ESTIMATE_LENS_TITLE,
  latestResults,
  resultsHoverMarkdown,
  resultsLensTitle,
  RUN_LENS_TITLE,
} from './codeLensText';
import { ESTIMATE_COMMAND, type MemoryEstimates } from './estimate';
import type { EstimateProbe } from './estimateProbe';
import { estimateHoverMarkdown, estimateLensTitle, estimateTooltip } from './estimateText';

/** Words of an experiment file whose hover shows the estimate: it is about the methods and the batch. */
const ESTIMATE_WORDS = new Set(['methods', 'max_length', 'batch_size', 'max_train_examples', 'precision']);

export const LADDER_SELECTOR: vscode.DocumentSelector = [{ pattern: '**/*.ladder.json' }];

export class ExperimentLensProvider implements vscode.CodeLensProvider, vscode.HoverProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];
  private runsCache: Promise<StoredRun[]> | undefined;
  private sweepsCache: Promise<SweepSummary[]> | undefined;

  /** `probe`: whether the selected engine has an `estimate` subcommand (the lens needs it); `estimates`: the last
   * estimate per file. */
  constructor(
    private readonly runs: RunManagerApi,
    private readonly probe: EstimateProbe,
    private readonly estimates: MemoryEstimates,
  ) {
    this.subscriptions = [
      runs.onDidChangeRuns(() => {
        this.runsCache = undefined;
        this.sweepsCache = undefined;
        this.changed.fire();
      }),
      probe.onDidChange(() => this.changed.fire()),
      estimates.onDidChange(() => this.changed.fire()),
      this.changed,
    ];
  }

  private listRuns(): Promise<StoredRun[]> {
    this.runsCache ??= this.runs.listRuns();
    return this.runsCache;
  }

  private listSweeps(): Promise<SweepSummary[]> {
    this.sweepsCache ??= this.listRuns().then(readSweepSummaries);
    return this.sweepsCache;
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const top = new vscode.Range(0, 0, 0, 0);
    const lenses = [
      new vscode.CodeLens(top, { title: RUN_LENS_TITLE, command: 'ladderLab.runComparison', arguments: [doc.uri] }),
    ];
    // The probe answers later (it runs Python) without holding up the other lenses; its answer refreshes them.
    const stored = this.estimates.get(doc.uri);
    if (this.probe.hasEstimate() || stored) {
      const stale = !!stored && this.estimates.isStale(stored, doc.getText());
      lenses.push(
        new vscode.CodeLens(top, {
          title: stored ? `$(dashboard) ${estimateLensTitle(stored.result, stale)}` : ESTIMATE_LENS_TITLE,
          tooltip: stored ? estimateTooltip(stored.result) : 'Predict each method’s training peak memory',
          command: ESTIMATE_COMMAND,
          arguments: [doc.uri],
        }),
      );
    }
    const { raw } = parseExperimentText(doc.getText());
    // A file with a sweep block: its last sweep as one result (best point, Pareto front), not its trials one by one.
    const sweep = raw && SWEEP_KEY in raw ? lastSweepOfFile(await this.listSweeps(), doc.uri.fsPath) : undefined;
    if (sweep)
      lenses.push(
        new vscode.CodeLens(top, {
          title: `$(graph) ${sweepResultText(sweep)}`,
          tooltip: `Sweep ${sweep.sweepId}: open its trials, table and charts`,
          command: 'ladderLab.openSweep',
          arguments: [sweep.dir],
        }),
      );
    else if (raw && !(SWEEP_KEY in raw)) {
      const results = latestResults(raw, await this.listRuns());
      const title = resultsLensTitle(results);
      const runs = results.flatMap((r) => (r.run ? [r.run] : []));
      if (title)
        lenses.push(
          new vscode.CodeLens(top, {
            title,
            tooltip: 'Latest result of each method: open the results',
            command: 'ladderLab.openResults',
            arguments: [runs],
          }),
        );
    }
    return lenses;
  }

  /** The full numbers, when hovering "methods", a method name, or (the estimate) a batch setting; not everywhere:
   * JSON hovers matter too. */
  async provideHover(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover | undefined> {
    const range = doc.getWordRangeAtPosition(pos, /[a-z_]+/);
    const word = range && doc.getText(range);
    if (!word) return undefined;
    const isMethod = word === 'methods' || (METHODS as readonly string[]).includes(word);
    const parts: vscode.MarkdownString[] = [];
    if (isMethod) {
      const { raw } = parseExperimentText(doc.getText());
      const md = raw && resultsHoverMarkdown(latestResults(raw, await this.listRuns()));
      if (md) parts.push(new vscode.MarkdownString(md));
    }
    const stored = this.estimates.get(doc.uri);
    if (stored && (isMethod || ESTIMATE_WORDS.has(word))) {
      const again = encodeURIComponent(JSON.stringify([doc.uri.toString(), { askGpu: true }]));
      const md = new vscode.MarkdownString(
        estimateHoverMarkdown(stored.result, {
          gpuGiB: stored.gpuGiB,
          at: stored.at,
          stale: this.estimates.isStale(stored, doc.getText()),
          changeGpuLink: `command:${ESTIMATE_COMMAND}?${again}`,
        }),
      );
      md.isTrusted = { enabledCommands: [ESTIMATE_COMMAND] }; // the "Set the GPU size…" link, nothing else
      parts.push(md);
    }
    return parts.length ? new vscode.Hover(parts, range) : undefined;
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}
