// Problems in open `*.ladder.json` files, as VS Code diagnostics on the offending key and value: everything the
// engine would refuse (the field checks of protocol/experiment.ts, and the rules that need the backbone's shape,
// protocol/backboneRules.ts) is marked where it is written, before anything is run. The same errors disable the
// form's Run and make the Run command refuse (src/runs/launchChecks.ts): one set of rules, three places shown.
import * as vscode from 'vscode';
import { experimentErrors, fieldOffsets, parseExperimentText, type FieldError } from '../../protocol/experiment';
import { backboneInfo } from './backboneInfo';
import { experimentPath } from './pathPolicy';

const SOURCE = 'Ladder Lab';

function isExperiment(doc: vscode.TextDocument): boolean {
  return doc.uri.scheme === 'file' && doc.uri.path.endsWith('.ladder.json');
}

export class ExperimentDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('ladderLab');
  private readonly disposables: vscode.Disposable[] = [this.collection];
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>();

  constructor() {
    this.disposables.push(
      vscode.workspace.onDidOpenTextDocument((doc) => this.schedule(doc, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document, 250)),
      // A backbone folder's config.json may have changed since: look again on save.
      vscode.workspace.onDidSaveTextDocument((doc) => this.schedule(doc, 0)),
      vscode.workspace.onDidCloseTextDocument((doc) => this.collection.delete(doc.uri)),
    );
    for (const doc of vscode.workspace.textDocuments) this.schedule(doc, 0);
  }

  private schedule(doc: vscode.TextDocument, delayMs: number): void {
    if (!isExperiment(doc)) return;
    const key = doc.uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.set(
      key,
      setTimeout(() => {
        this.pending.delete(key);
        void this.check(doc);
      }, delayMs),
    );
  }

  /** The diagnostics of one document (also awaited by tests through `refresh`). */
  async check(doc: vscode.TextDocument): Promise<void> {
    const version = doc.version;
    const text = doc.getText();
    const parsed = parseExperimentText(text);
    // A relative backbone folder is read from the file's folder, as the engine reads it (pathPolicy.ts).
    const info = await backboneInfo(parsed.values.backbone, (p) => experimentPath(p, doc.uri.fsPath));
    if (doc.isClosed || doc.version !== version) return; // a newer check follows
    const errors = experimentErrors(parsed, info.shape);
    this.collection.set(
      doc.uri,
      errors.map((e) => this.diagnostic(doc, text, e)),
    );
  }

  /** Re-checks every open experiment file now (e.g. after a backbone folder changed). */
  async refresh(): Promise<void> {
    await Promise.all(vscode.workspace.textDocuments.filter(isExperiment).map((doc) => this.check(doc)));
  }

  private diagnostic(doc: vscode.TextDocument, text: string, error: FieldError): vscode.Diagnostic {
    // On the field's key and value; a rule broken by a default (the field is not written) is marked on the
    // backbone that breaks it, else on the first line.
    const at = (error.field && fieldOffsets(text, error.field)) || fieldOffsets(text, 'backbone');
    const range = at
      ? new vscode.Range(doc.positionAt(at[0]), doc.positionAt(at[1]))
      : doc.lineAt(0).range.isEmpty
        ? new vscode.Range(0, 0, 0, 0)
        : doc.lineAt(0).range;
    const d = new vscode.Diagnostic(range, error.message, vscode.DiagnosticSeverity.Error);
    d.source = SOURCE;
    if (error.field) d.code = error.field;
    return d;
  }

  dispose(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
