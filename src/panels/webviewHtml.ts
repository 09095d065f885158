// The HTML shell shared by every Ladder Lab webview: a strict nonce CSP, the app's bundle from dist/webview/ and
// the shared stylesheet. The app builds its DOM itself (no inline scripts or style attributes).
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export type WebviewApp = 'monitor' | 'results' | 'experiment' | 'try' | 'sweep';

/** Webviews may load only what the extension ships in dist/ and media/. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function nonce(): string {
  return randomBytes(16).toString('base64');
}

export function contentSecurityPolicy(cspSource: string, scriptNonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${scriptNonce}'`,
    `style-src ${cspSource}`,
    `img-src ${cspSource}`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function renderWebviewHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  app: WebviewApp,
  title: string,
): string {
  const n = nonce();
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${app}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', 'webview.css'));
  const bodyClass = app === 'experiment' ? 'sidebar' : 'panel';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(webview.cspSource, n)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>${title}</title>
</head>
<body class="${bodyClass}">
<div id="app" data-app="${app}"></div>
<script type="module" nonce="${n}" src="${script.toString()}"></script>
</body>
</html>`;
}
