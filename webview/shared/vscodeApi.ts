// The webview side of the message channel: one acquireVsCodeApi() per page, and connect<C>() typed by the page's
// channel (protocol/webviews/), so a page can only post its own webview's messages and reads the host's as typed:
//   const channel = connect<MonitorChannel>();
//   channel.onMessage((msg) => ...);            // msg: MonitorToWebview
//   channel.post({ type: MonitorMessages.ready }); // only a MonitorFromWebview compiles
import type { Channel } from '../../protocol/webviews/common';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

let api: VsCodeApi | undefined;
function vscode(): VsCodeApi {
  return (api ??= acquireVsCodeApi());
}

export interface WebviewEnd<C extends Channel> {
  /** Sends a message to the host (which validates it: see the parse…Message functions). */
  post(message: C['fromWebview']): void;
  /** Listens to host messages (only the host can post into a webview, so these are trusted). */
  onMessage(handler: (message: C['toWebview']) => void): void;
}

export function connect<C extends Channel>(): WebviewEnd<C> {
  return {
    post: (message) => vscode().postMessage(message),
    onMessage: (handler) =>
      window.addEventListener('message', (e: MessageEvent) => {
        const data = e.data as unknown;
        if (typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string') {
          handler(data as C['toWebview']);
        }
      }),
  };
}

/** Keeps a small state with VS Code, which hands it to the panel's serializer when a reloaded window restores it. */
export function saveState(state: unknown): void {
  vscode().setState(state);
}

/** Runs `fn` whenever the VS Code colour theme changes (the body's vscode-light/dark/high-contrast class). */
export function onThemeChange(fn: () => void): void {
  new MutationObserver(fn).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [k, v] of Object.entries(props.attrs ?? {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}
