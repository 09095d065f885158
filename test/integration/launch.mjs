// Starts the extension-host suite (out/test/integration/index.js) in a VS Code and reports its result file.
//   node test/integration/launch.mjs code-server   the workbench of an already running code-server (PORT), opened in
//                                                  Chromium by playwright-core with the extensionTestsPath payload
//   node test/integration/launch.mjs electron      a desktop VS Code via @vscode/test-electron (needs its download)
// Environment: EXT_PATH (repository), WORKSPACE, RESULT (the file the suite writes), PORT, CHROMIUM, TIMEOUT_S.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';

const { EXT_PATH, WORKSPACE, RESULT, PORT, CHROMIUM = '/usr/bin/chromium', BROWSER_HOME } = process.env;
const TIMEOUT_S = Number(process.env.TIMEOUT_S ?? 600); // the trusted suite trains real runs (~20 tests)
const TESTS_PATH = path.join(EXT_PATH, 'out/test/integration/index.js');
const mode = process.argv[2];

function readResult() {
  try {
    return JSON.parse(readFileSync(RESULT, 'utf8'));
  } catch {
    return undefined; // not written yet, or being written
  }
}

function report(result, why) {
  if (!result) {
    console.error(`no result from the suite (${why}); see the code-server log`);
    return 1;
  }
  for (const o of result.outcomes) {
    console.log(`${o.ok ? '  ok  ' : '  FAIL'} ${o.name} (${(o.ms / 1000).toFixed(1)} s)`);
    if (!o.ok) console.log(`       ${o.error.split('\n').join('\n       ')}`);
  }
  if (!result.done) console.log(`  ...  did not finish (${why}): stuck after the tests above`);
  console.log(`${result.passed} passed, ${result.failed} failed${result.done ? '' : ', suite incomplete'}`);
  return result.done && result.ok ? 0 : 1;
}

async function codeServer() {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    env: { ...process.env, XDG_CONFIG_HOME: BROWSER_HOME, XDG_CACHE_HOME: BROWSER_HOME, HOME: BROWSER_HOME },
  });
  try {
    const page = await browser.newPage();
    const remote = (p) => `vscode-remote://127.0.0.1:${PORT}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(EXT_PATH)],
      ['extensionTestsPath', remote(TESTS_PATH)],
    ];
    const url = `http://127.0.0.1:${PORT}/?folder=${encodeURIComponent(WORKSPACE)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    const t0 = Date.now();
    await page.goto(url);
    let result;
    while (!(result = readResult())?.done && Date.now() - t0 < TIMEOUT_S * 1000)
      await new Promise((r) => setTimeout(r, 500));
    console.log(
      `suite ${result?.done ? 'finished' : 'stopped waiting'} after ${((Date.now() - t0) / 1000).toFixed(1)} s (workbench load included)`,
    );
    return report(result, result?.done ? '' : `timeout ${TIMEOUT_S} s`);
  } finally {
    await browser.close();
  }
}

async function electron() {
  const { runTests } = await import('@vscode/test-electron');
  try {
    await runTests({
      extensionDevelopmentPath: EXT_PATH,
      extensionTestsPath: TESTS_PATH,
      launchArgs: [WORKSPACE, '--disable-extensions', '--disable-workspace-trust'],
      extensionTestsEnv: { LADDERLAB_TEST_RESULT: RESULT },
    });
  } catch (e) {
    console.error(`VS Code run failed: ${e?.message ?? e}`);
  }
  return report(readResult(), 'VS Code exited');
}

if (!EXT_PATH || !WORKSPACE || !RESULT) throw new Error('EXT_PATH, WORKSPACE and RESULT must be set');
if (!existsSync(TESTS_PATH)) throw new Error(`${TESTS_PATH} is missing: build it with node esbuild.mjs --integration`);
rmSync(RESULT, { force: true });
process.exitCode = await (mode === 'electron' ? electron() : codeServer());
