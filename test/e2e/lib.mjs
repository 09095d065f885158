// What every e2e scenario needs: the runner's variables, logging, polling, the palette, screenshots, a Chromium
// page that records page errors and CSP violations, and `scenario`, the shell each test/e2e/*.mjs runs in.
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run test/run-e2e.sh`);
  return v;
};

/** How long a training run in the workbench may take before a scenario gives up on it. */
export const RUN_TIMEOUT_MS = Number(process.env.E2E_RUN_TIMEOUT_MS || 8 * 60_000);

/** A JSON file as VS Code and the Experiment form write one: two-space indent, a final newline. */
export const writeJson = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

/** A single LST run on real SST-2 sentences (`data`: engine/tests/fixtures/glue-real/SST-2, the runner's DATA_DIR),
 * tiny so it trains in a minute on a CPU. */
export const tinySst2Experiment = (data) => ({
  backbone: 'default',
  task: 'sst2',
  data,
  methods: ['lst'],
  max_train_examples: 16,
  max_eval_examples: 8,
  epochs: 1,
  max_length: 32,
  fisher_samples: 4,
});

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

/** Runs a command from the palette, retrying until the extension has registered it; with `item`, the command asks
 * in a quick pick (Try Model: which run) and the row showing `item` is picked. */
export async function runCommand(page, title, log, item) {
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
      if (item) await pickItem(page, item);
      return;
    }
    log(`"${title}" not in the palette yet (attempt ${attempt})`);
    await page.keyboard.press('Escape');
    await sleep(1500);
  }
  throw new Error(`command "${title}" never appeared in the palette`);
}

async function pickItem(page, item) {
  const input = page.locator('.quick-input-widget input').first();
  await input.waitFor({ timeout: 30_000 });
  await input.fill(item);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: item }).first();
  await row.waitFor({ timeout: 30_000 });
  await row.click();
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

/** Opens the workbench on the test workspace with this repository loaded as the development extension, or, without
 * extPath, with only the extensions installed in code-server (first-hour.mjs's packaged VSIX). */
export async function openWorkbench(page, { port, workspace, extPath }, log) {
  let url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`;
  if (extPath) {
    const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${extPath}`]]);
    url += `&payload=${encodeURIComponent(payload)}`;
  }
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  await page.locator('.statusbar').waitFor({ timeout: 60_000 });
  log(extPath ? 'workbench up' : 'workbench up (the VSIX installed, nothing loaded from the repository)');
}

/**
 * The shell of a scenario. Reads the runner's variables (PORT, WORKSPACE, ARTIFACTS; EXT_PATH unless `installed`;
 * the names in `vars`) and returns them with the scenario's log, shot and palette, and `run(body, { prepare })`:
 * prepare (files, CLI runs; its result is handed to the body) runs before Chromium opens the workbench; after the
 * body, page errors and CSP violations fail the scenario. A failure is photographed (`failureShot`), its page
 * problems printed, and the browser closed either way. The last line says PASS or FAIL and the exit status follows:
 * `${label} PASS: <what the body returned>` / `${label} FAIL: <stack>`; without a label, `PASS: …` / `[name] FAIL:`.
 */
export function scenario(
  name,
  { label = '', vars = [], installed = false, shotPrefix = '', failureShot = `${name}-failure` } = {},
) {
  const values = Object.fromEntries(
    ['PORT', 'WORKSPACE', 'ARTIFACTS', ...(installed ? [] : ['EXT_PATH']), ...vars].map((v) => [v, env(v)]),
  );
  const { PORT, WORKSPACE, ARTIFACTS, EXT_PATH } = values;
  const log = makeLog(name);
  const takeShot = (page, file) => shot(page, ARTIFACTS, file, log);

  async function main(body, prepare) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const prepared = prepare ? await prepare() : {};
    const { browser, page, problems } = await openBrowser(WORKSPACE);
    const listed = () => `page problems:\n  ${problems.slice(0, 10).join('\n  ')}`;
    try {
      await openWorkbench(page, { port: PORT, workspace: WORKSPACE, extPath: EXT_PATH }, log);
      const detail = await body({ page, problems, ...prepared });
      if (problems.length) throw new Error(listed());
      log(`${label ? `${label} ` : ''}PASS${detail ? `: ${detail}` : ''}`);
    } catch (e) {
      await takeShot(page, failureShot).catch(() => {});
      if (problems.length) console.error(listed());
      throw e;
    } finally {
      await browser.close();
    }
  }

  return {
    ...values,
    log,
    shot: (page, file) => takeShot(page, `${shotPrefix}${file}`),
    palette: (page, title, item) => runCommand(page, title, log, item),
    run: (body, { prepare } = {}) =>
      main(body, prepare).then(
        () => process.exit(0),
        (e) => {
          console.error(`${label || `[${name}]`} FAIL: ${e.stack ?? e}`);
          process.exit(1);
        },
      ),
  };
}
