// End-to-end: the paper's figures from a sweep, and a sweep as one result, in the real workbench. Two real sweeps
// (test/unit/fixtures/sweep-figures: made by `ladderlab sweep` on preset:bert-tiny) are put into the workspace's runs
// folder. Open Sweep on the Figure-6-shaped one: its chart starts on peak memory, and the x-axis picker switches it to
// "layers dropped / frozen" with one LST and one LoRA line; on the Figure-7-shaped one, to r with a line per init.
// Open Results: one Sweeps row per sweep, no trial in the runs table. Screenshots into test-artifacts/e2e/.
// Started by test/run-e2e.sh (E2E_SCRIPTS=sweep-figures.mjs) with PORT, WORKSPACE, EXT_PATH, ARTIFACTS.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { appFrame, scenario, sleep, waitFor } from './lib.mjs';

const { WORKSPACE, EXT_PATH, log, shot, palette, run } = scenario('sweep-figures');
const RUNS_DIR = path.join(WORKSPACE, '.ladderlab', 'runs'); // the ladderLab.runsDir default
const FIXTURES = path.join(EXT_PATH, 'test/unit/fixtures/sweep-figures');

/** Copies a fixture runs folder's trials and sweep into the workspace's; returns the sweep id and adds the trials'
 * run ids to `trials`. */
function place(name, trials) {
  const from = path.join(FIXTURES, name);
  for (const entry of readdirSync(from)) {
    cpSync(path.join(from, entry), path.join(RUNS_DIR, entry), { recursive: true });
    if (entry !== 'sweeps') trials.push(entry);
  }
  return readdirSync(path.join(from, 'sweeps'))[0];
}

/** The runs of `ids` that the Results run picker offers. */
async function pickable(results, ids) {
  const found = await results.locator('#run-picker vscode-checkbox').evaluateAll((b) => b.map((x) => x.dataset.runId));
  return found.filter((id) => ids.includes(id));
}

/** The rows of a Results table that belong to `ids` (the scenarios before this one leave their own runs and sweeps
 * in the shared workspace). */
async function rowsOf(results, table, attribute, ids) {
  const found = await results
    .locator(`${table} tbody tr`)
    .evaluateAll((t, a) => t.map((r) => r.getAttribute(a)), attribute);
  return found.filter((id) => ids.includes(id));
}

async function openSweep(page, id) {
  await palette(page, 'Ladder Lab: Open Sweep');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: id }).first();
  await row.waitFor({ timeout: 30_000 });
  await row.click();
  const frame = await waitFor(
    `the sweep panel of ${id}`,
    async () => {
      const f = await appFrame(page, 'sweep');
      return (await f.locator('h1').textContent())?.includes(id) ? f : undefined;
    },
    60_000,
    500,
  );
  const chart = frame.locator('#tradeoff-chart');
  await waitFor('chart points', async () => Number(await chart.getAttribute('data-points')) > 0, 60_000, 500);
  return { frame, chart };
}

/** Picks an x axis and returns the lines drawn. */
async function pickAxis(frame, chart, axis) {
  await frame.locator('#chart-axis').selectOption(axis);
  await waitFor(`the ${axis} axis`, async () => (await chart.getAttribute('data-axis')) === axis, 10_000, 200);
  return JSON.parse((await chart.getAttribute('data-lines')) ?? '[]');
}

/** Both fixture sweeps in the workspace's runs folder; returns their ids and their trials' run ids. */
function placeBoth() {
  mkdirSync(RUNS_DIR, { recursive: true });
  const trials = [];
  const fig6 = place('figure6', trials);
  const fig7 = place('figure7', trials);
  return { trials, fig6, fig7 };
}

run(
  async ({ page, trials, fig6, fig7 }) => {
    let { frame, chart } = await openSweep(page, fig6);
    const axes = await frame.locator('#chart-axis option').evaluateAll((o) => o.map((x) => x.value));
    log(`figure 6 axes: ${axes.join(', ')}`);
    if (axes.join() !== 'peak_memory,layers_dropped') throw new Error(`axes ${axes.join()}`);
    await frame.locator('#tradeoff-chart').scrollIntoViewIfNeeded();
    await sleep(500);
    await shot(page, 'sweep-figure5-memory-axis');
    const lines6 = await pickAxis(frame, chart, 'layers_dropped');
    log(`figure 6 lines: ${lines6.join(', ')}`);
    if (lines6.join() !== 'LST,LoRA') throw new Error(`figure 6 lines ${lines6.join()}`);
    await sleep(500);
    await shot(page, 'sweep-figure6-layers-dropped');

    ({ frame, chart } = await openSweep(page, fig7));
    const lines7 = await pickAxis(frame, chart, 'r');
    log(`figure 7 lines: ${lines7.join(', ')}`);
    if (lines7.length !== 2 || !lines7.every((l) => l.startsWith('LST init '))) throw new Error(`lines ${lines7}`);
    await frame.locator('#tradeoff-chart').scrollIntoViewIfNeeded();
    await sleep(500);
    await shot(page, 'sweep-figure7-init-by-r');

    await palette(page, 'Ladder Lab: Open Results');
    const results = await appFrame(page, 'results');
    await waitFor(
      'a Sweeps row for each of the two sweeps',
      async () => (await rowsOf(results, '#sweeps-table', 'data-sweep-id', [fig6, fig7])).length === 2,
      60_000,
      500,
    );
    const rows = await results.locator('#sweeps-table tbody tr').evaluateAll((t) => t.map((r) => r.textContent));
    log(`sweeps rows: ${rows.join(' / ')}`);
    // Trials are neither rows of the runs table nor runs to pick from until the box is ticked.
    const trialRows = (await rowsOf(results, '#results-table', 'data-run-id', trials)).length;
    const trialChoices = (await pickable(results, trials)).length;
    if (trialRows + trialChoices !== 0)
      throw new Error(`${trialRows} rows, ${trialChoices} choices of trials: they should be in their sweep's row`);
    await sleep(500);
    await shot(page, 'results-sweeps-one-row-each');
    // Ticked, the trials are runs again; the row's button opens the sweep's own panel.
    await results.locator('#show-trials').click();
    await waitFor(
      'every trial among the runs to pick',
      async () => (await pickable(results, trials)).length === trials.length,
      30_000,
      500,
    );
    await results.locator(`#sweeps-table vscode-button[data-sweep-id="${fig6}"]`).click();
    await waitFor(
      'the Sweep panel opened from Results',
      async () => ((await (await appFrame(page, 'sweep')).locator('h1').textContent()) ?? '').includes(fig6),
      30_000,
      500,
    );
    return 'figure axes picked, one Results row per sweep, trials on demand, Open Sweep from Results';
  },
  { prepare: placeBoth },
);
