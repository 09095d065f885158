// CodeLens and hover on *.ladder.json: run it, estimate memory (if the engine can), and the latest results.
import * as vscode from 'vscode';
import { METHODS, parseExperimentText } from '../../protocol/experiment';
import type { StoredRun } from '../runs/runStore';
import type { RunManagerApi } from '../runs/types';
import {
  ESTIMATE_LENS_TITLE,
  latestResults,
  resultsHoverMarkdown,
  resultsLensTitle,
  RUN_LENS_TITLE,
} from './codeLensText';

export const LADDER_SELECTOR: vscode.DocumentSelector = [{ pattern: '**/*.ladder.json' }];

export class ExperimentLensProvider implements vscode.CodeLensProvider, vscode.HoverProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];
  private runsCache: Promise<StoredRun[]> | undefined;
  private estimateAsked = false;
  private hasEstimateLens = false;

  /** `hasEstimate`: whether the engine has an `estimate` subcommand (asked once per window); the lens needs it. */
  constructor(
    private readonly runs: RunManagerApi,
    private readonly hasEstimate: () => Promise<boolean>,
  ) {
    this.subscriptions = [
      runs.onDidChangeRuns(() => {
        this.runsCache = undefined;
        this.changed.fire();
      }),
      this.changed,
    ];
  }

  private listRuns(): Promise<StoredRun[]> {
    this.runsCache ??= this.runs.listRuns() as Promise<StoredRun[]>;
    return this.runsCache;
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const top = new vscode.Range(0, 0, 0, 0);
    const lenses = [
      new vscode.CodeLens(top, { title: RUN_LENS_TITLE, command: 'ladderLab.runComparison', arguments: [doc.uri] }),
    ];
    if (!this.estimateAsked) {
      // Asked once, without holding up the other lenses: the lens appears when the engine's answer arrives.
      this.estimateAsked = true;
      void this.hasEstimate().then((yes) => {
        this.hasEstimateLens = yes;
        if (yes) this.changed.fire();
      });
    }
    if (this.hasEstimateLens) {
      lenses.push(
        new vscode.CodeLens(top, {
          title: ESTIMATE_LENS_TITLE,
          command: 'ladderLab.estimateMemory',
          arguments: [doc.uri],
        }),
      );
    }
    const { raw } = parseExperimentText(doc.getText());
    if (raw) {
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

  /** The full numbers, when hovering "methods" or a method name (not everywhere: JSON hovers matter too). */
  async provideHover(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover | undefined> {
    const range = doc.getWordRangeAtPosition(pos, /[a-z_]+/);
    const word = range && doc.getText(range);
    if (!word || (word !== 'methods' && !(METHODS as readonly string[]).includes(word))) return undefined;
    const { raw } = parseExperimentText(doc.getText());
    if (!raw) return undefined;
    const md = resultsHoverMarkdown(latestResults(raw, await this.listRuns()));
    return md ? new vscode.Hover(new vscode.MarkdownString(md), range) : undefined;
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}
