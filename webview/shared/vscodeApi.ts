// The webview side of the message channel: one acquireVsCodeApi() per page, typed posts, typed listeners.
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

/** Posts a message from one of the `…FromWebview` unions of protocol/messages.ts. */
export function post<M extends { type: string }>(message: M): void {
  vscode().postMessage(message);
}

/** Keeps a small state with VS Code, which hands it to the panel's serializer when a reloaded window restores it. */
export function saveState(state: unknown): void {
  vscode().setState(state);
}

/** Listens to host messages (only the host can post into a webview, so these are trusted). */
export function onMessage<M extends { type: string }>(handler: (message: M) => void): void {
  window.addEventListener('message', (e: MessageEvent) => {
    const data = e.data as unknown;
    if (typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string') handler(data as M);
  });
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
