// What every e2e scenario needs: the runner's variables, logging, polling, the palette, screenshots, and a Chromium
// page that records page errors and CSP violations. Scenarios (e2e.mjs, try-model.mjs) import from here.
import { chromium } from 'playwright-core';
import * as path from 'node:path';

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run test/run-e2e.sh`);
  return v;
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A logger whose lines carry the scenario's name and the seconds since it started. */
export function makeLog(scenario) {
  const t0 = Date.now();
  return (m) => console.log(`[${scenario} ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
}

export async function waitFor(what, fn, timeoutMs = 30_000, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (${last.message})` : ''}`);
    await sleep(everyMs);
  }
}

/** The frame holding one of our webview apps (webviews nest: iframe.webview > iframe#active-frame > our page). */
export async function appFrame(page, app, timeoutMs = 60_000) {
  return waitFor(
    `the ${app} webview`,
    async () => {
      for (const frame of page.frames()) {
        if (
          await frame
            .locator(`#app[data-app="${app}"]`)
            .count()
            .catch(() => 0)
        )
          return frame;
      }
      return undefined;
    },
    timeoutMs,
    500,
  );
}

/** Runs a command from the palette, retrying until the extension has registered it. */
export async function runCommand(page, title, log) {
  for (let attempt = 1; attempt <= 20; attempt++) {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input').first();
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    if (
      await row.waitFor({ timeout: 3000 }).then(
        () => true,
        () => false,
      )
    ) {
      await row.click();
      return;
    }
    log(`"${title}" not in the palette yet (attempt ${attempt})`);
    await page.keyboard.press('Escape');
    await sleep(1500);
  }
  throw new Error(`command "${title}" never appeared in the palette`);
}

export async function shot(page, artifacts, name, log) {
  const file = path.join(artifacts, `${name}.png`);
  await page.mouse.move(900, 990); // no hover tooltips in the picture
  await page.screenshot({ path: file });
  log(`screenshot ${path.relative(process.cwd(), file)}`);
}

/** Chromium with the flags the recipe needs; `problems` collects page errors and CSP violations. */
export async function openBrowser(workspace) {
  const home = process.env.CHROMIUM_HOME || workspace;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    env: { ...process.env, XDG_CONFIG_HOME: path.join(home, 'config'), XDG_CACHE_HOME: path.join(home, 'cache') },
  });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(text))
      problems.push(`CSP: ${text.slice(0, 300)}`);
  });
  return { browser, page, problems };
}

/** Opens the workbench on the test workspace with this repository loaded as the development extension. */
export async function openWorkbench(page, { port, workspace, extPath }, log) {
  const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${extPath}`]]);
  await page.goto(
    `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`,
  );
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  await page.locator('.statusbar').waitFor({ timeout: 60_000 });
  log('workbench up');
}
