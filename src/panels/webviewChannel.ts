// The host end of one webview's typed channel: the ready handshake, parse -> handle, post. Usage (PanelShell does
// this for panels; a sidebar WebviewView does it itself):
//   const channel = new WebviewChannel<ExperimentChannel>(parseExperimentMessage, { onReady, onRequest });
//   channel.attach(view.webview); view.onDidChangeVisibility(() => view.visible || channel.hidden());
//   channel.post({ type: ExperimentMessages.state, state }); // a message of another webview does not compile
import type * as vscode from 'vscode';
import { isReadyMessage, type Channel, type RequestMessage } from '../../protocol/webviews/common';

export interface ChannelHandlers<C extends Channel> {
  /** The webview (re)loaded and said `…/ready`: send it everything it shows (it keeps nothing the host cannot replay). */
  onReady(): void | Promise<void>;
  /** Any other message, already validated. */
  onRequest(message: RequestMessage<C>): void | Promise<void>;
}

/**
 * Messages from the webview are untrusted: each goes through the webview's `parse…Message` validator and is ignored
 * unless it passes. Posts wait for the handshake: until the webview says `ready` (and again after it was hidden,
 * which tears it down) they are dropped, since the ready handler sends the whole state anyway.
 */
export class WebviewChannel<C extends Channel> implements vscode.Disposable {
  private webview: vscode.Webview | undefined;
  private listener: vscode.Disposable | undefined;
  private isReady = false;

  constructor(
    private readonly parse: (raw: unknown) => C['fromWebview'] | undefined,
    private readonly handlers: ChannelHandlers<C>,
  ) {}

  /** Listens to a (new) webview, which is not ready until it says so. */
  public attach(webview: vscode.Webview): void {
    this.listener?.dispose();
    this.webview = webview;
    this.isReady = false;
    this.listener = webview.onDidReceiveMessage((raw: unknown) => void this.receive(raw));
  }

  public get ready(): boolean {
    return this.isReady;
  }

  /** Every message from the webview comes through here (also the test seam of the panels and views). */
  public receive(raw: unknown): void | Promise<void> {
    const message = this.parse(raw);
    if (!message) return; // not one of ours, or malformed: ignore
    if (isReadyMessage<C>(message)) {
      this.isReady = true;
      return this.handlers.onReady();
    }
    return this.handlers.onRequest(message as RequestMessage<C>);
  }

  /** The webview was hidden (VS Code tears it down): the one shown next says `ready` again. */
  public hidden(): void {
    this.isReady = false;
  }

  /** Posts to a ready webview; false when it was dropped (not ready, or no webview). */
  public post(message: C['toWebview']): boolean {
    if (!this.isReady || !this.webview) return false;
    void this.webview.postMessage(message);
    return true;
  }

  public dispose(): void {
    this.listener?.dispose();
    this.listener = undefined;
    this.webview = undefined;
    this.isReady = false;
  }
}
