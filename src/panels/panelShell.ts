// One shell for every Ladder Lab panel, after VS Code's webview samples: the panel's options, icon and HTML/CSP,
// its typed channel (the ready handshake, untrusted messages parsed before they are handled, posts typed by the
// webview's channel) and its disposal. A panel class adds only its own logic: what it shows when its webview is
// ready and how it answers the webview's requests. A singleton panel (one at a time) also gets its slot, and one
// registration of its command and of the serializer that restores it after a window reload.
import * as vscode from 'vscode';
import type { Channel, RequestMessage } from '../../protocol/webviews/common';
import { WebviewChannel } from './webviewChannel';
import { renderWebviewHtml, webviewOptions, type WebviewApp } from './webviewHtml';

/** What a panel's webview is: its app bundle (dist/webview/<app>.js), page title and the validator of its messages. */
export interface PanelPage<C extends Channel> {
  app: WebviewApp;
  title: string;
  parse(raw: unknown): C['fromWebview'] | undefined;
}

export abstract class PanelShell<C extends Channel> implements vscode.Disposable {
  /** Disposed with the panel (listeners the panel class adds go here too). */
  protected readonly disposables: vscode.Disposable[] = [];
  private readonly channel: WebviewChannel<C>;
  private readonly disposeEmitter = new vscode.EventEmitter<void>();
  public readonly onDidDispose = this.disposeEmitter.event;
  private disposed = false;

  protected constructor(
    protected readonly panel: vscode.WebviewPanel,
    protected readonly extensionUri: vscode.Uri,
    page: PanelPage<C>,
  ) {
    panel.webview.options = webviewOptions(extensionUri);
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'ladder.svg');
    panel.webview.html = renderWebviewHtml(panel.webview, extensionUri, page.app, page.title);
    this.channel = new WebviewChannel<C>((raw) => page.parse(raw), {
      onReady: () => this.onReady(),
      onRequest: (message) => this.onRequest(message),
    });
    this.channel.attach(panel.webview);
    this.disposables.push(this.channel, this.disposeEmitter);
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.onDidChangeViewState(
      () => {
        if (!panel.visible) this.channel.hidden();
      },
      null,
      this.disposables,
    );
  }

  /** The webview (re)loaded: send it everything it shows. */
  protected abstract onReady(): void | Promise<void>;
  /** A validated message from the webview other than `ready`. */
  protected abstract onRequest(message: RequestMessage<C>): void | Promise<void>;

  /** Every message from the webview comes through here (also the test seam): untrusted until validated. */
  public receive(raw: unknown): void | Promise<void> {
    return this.channel.receive(raw);
  }

  /** Posts to the webview once it is ready; false when dropped (its ready handler sends the whole state anyway). */
  protected post(message: C['toWebview']): boolean {
    return !this.disposed && this.channel.post(message);
  }

  /** An export or a refresh may finish after the panel closed. */
  protected get isDisposed(): boolean {
    return this.disposed;
  }

  public reveal(preserveFocus = false): void {
    this.panel.reveal(undefined, preserveFocus);
  }

  public dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.disposeEmitter.fire();
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}

type Closable = vscode.Disposable & { readonly onDidDispose: vscode.Event<void>; reveal(): void };

/** The one panel of a kind: `current` while it is open; a new one replaces (closes) the one before. */
export class PanelSlot<P extends Closable> {
  private panel: P | undefined;

  constructor(public readonly viewType: string) {}

  public get current(): P | undefined {
    return this.panel;
  }

  /** Closes the current panel, then opens a new webview panel of this kind, wrapped by `make` in its class. */
  public create(
    extensionUri: vscode.Uri,
    title: string,
    show: { viewColumn: vscode.ViewColumn; preserveFocus?: boolean },
    make: (panel: vscode.WebviewPanel) => P,
  ): P {
    this.panel?.dispose();
    return this.hold(make(vscode.window.createWebviewPanel(this.viewType, title, show, webviewOptions(extensionUri))));
  }

  /** The panel of one thing (a run, a sweep): the current one, revealed, if `shows` says it shows it, else a new one
   * in the active column in its place. */
  public showFor(
    extensionUri: vscode.Uri,
    title: string,
    shows: (current: P) => boolean,
    make: (panel: vscode.WebviewPanel) => P,
  ): P {
    const current = this.panel;
    if (current && shows(current)) {
      current.reveal();
      return current;
    }
    return this.create(extensionUri, title, { viewColumn: vscode.ViewColumn.Active }, make);
  }

  /** Makes `panel` the current one (e.g. a panel VS Code restored); the one before, if any, is closed. */
  public hold(panel: P): P {
    if (this.panel !== panel) this.panel?.dispose();
    this.panel = panel;
    panel.onDidDispose(() => {
      if (this.panel === panel) this.panel = undefined;
    });
    return panel;
  }
}

export interface SingletonPanel<P extends Closable> {
  slot: PanelSlot<P>;
  /** The command that shows the panel; its arguments come from other commands or the palette, so check them. */
  command: string;
  show(...args: unknown[]): unknown;
  /** The panel VS Code restores after a window reload, with its webview's saved state (untrusted input like any
   * webview message); undefined closes it. */
  restore(panel: vscode.WebviewPanel, state: unknown): P | undefined | Promise<P | undefined>;
}

/** Registers a singleton panel's command and serializer. */
export function registerSingletonPanel<P extends Closable>(kind: SingletonPanel<P>): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand(kind.command, (...args: unknown[]) => kind.show(...args)),
    vscode.window.registerWebviewPanelSerializer(kind.slot.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const restored = await kind.restore(panel, state);
        if (restored) kind.slot.hold(restored);
        else panel.dispose();
      },
    }),
  );
}

/** A file a panel exports (a table as CSV or Markdown, a chart as PNG). */
export interface ExportFile {
  name: string; // proposed in the workspace folder
  filters: Record<string, string[]>; // the save dialog's, e.g. { CSV: ['csv'] }; its first name labels the button
  data: string | Uint8Array;
}

/** Asks where to save an export (in the workspace folder by default), writes it and says where; a text file can be
 * opened from the notice. Resolves when done, or at once when the user cancels. */
export async function saveExport(file: ExportFile, offerOpen = false): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const target = await vscode.window.showSaveDialog({
    defaultUri: folder ? vscode.Uri.joinPath(folder, file.name) : undefined,
    filters: file.filters,
    saveLabel: `Export ${Object.keys(file.filters)[0]}`,
  });
  if (!target) return;
  const data = typeof file.data === 'string' ? new TextEncoder().encode(file.data) : file.data;
  await vscode.workspace.fs.writeFile(target, data);
  const wrote = `Ladder Lab: wrote ${vscode.workspace.asRelativePath(target)}`;
  if (!offerOpen) return void vscode.window.showInformationMessage(wrote);
  if (await vscode.window.showInformationMessage(wrote, 'Open')) await vscode.window.showTextDocument(target);
}
