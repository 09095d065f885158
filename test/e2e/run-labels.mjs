// End-to-end: two LST variants (r=4 and r=8) that the Results table and scatter tell apart.
// Started by test/run-e2e.sh (E2E_SCRIPTS=run-labels.mjs, or after the other scenarios) with PORT, WORKSPACE, EXT_PATH,
// DATA_DIR, ARTIFACTS, PYTHON. The two runs are made by the real engine from a terminal (`ladderlab run`, as a user
// or a cluster job would), into the workspace's runs folder; VS Code shows them from their folders. Then, in the
// real workbench: Open Results, choose both runs in the picker, and check that the rows, the setting column and the
// scatter's points carry the labels "LST r=4" and "LST r=8". Screenshot into test-artifacts/e2e/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { appFrame, scenario, sleep, tinySst2Experiment, waitFor, writeJson } from './lib.mjs';

const { WORKSPACE, DATA_DIR, PYTHON, log, shot, palette, run } = scenario('run-labels', {
  vars: ['DATA_DIR', 'PYTHON'],
});
const RUNS_DIR = path.join(WORKSPACE, '.ladderlab', 'runs'); // the ladderLab.runsDir default
const EXPERIMENT = path.join(WORKSPACE, 'variants.ladder.json');

/** One real LST run at this r; returns its folder name. */
function train(r) {
  const before = new Set(readdirSync(RUNS_DIR, { withFileTypes: true }).map((d) => d.name));
  const args = ['-m', 'ladderlab.cli', 'run', '--config', EXPERIMENT, '--r', String(r), '--runs-dir', RUNS_DIR];
  execFileSync(PYTHON, [...args, '--format', 'events'], { cwd: WORKSPACE, stdio: ['ignore', 'ignore', 'inherit'] });
  const made = readdirSync(RUNS_DIR).filter((n) => !before.has(n) && !n.startsWith('.'));
  if (made.length !== 1) throw new Error(`expected one new run folder for r=${r}, found ${made.join(', ')}`);
  log(`trained LST r=${r}: ${made[0]}`);
  return made[0];
}

/** The experiment file and its two runs, r=4 and r=8; returns { ids: { 4: run id, 8: run id } }. */
function trainBoth() {
  mkdirSync(RUNS_DIR, { recursive: true });
  writeJson(EXPERIMENT, { ...tinySst2Experiment(DATA_DIR), batch_size: 8 });
  return { ids: { 4: train(4), 8: train(8) } };
}

run(
  async ({ page, ids }) => {
    await palette(page, 'Ladder Lab: Open Results');
    const results = await appFrame(page, 'results');
    // Each run is its own comparison (two invocations): pick both in the run picker.
    await results.locator('#picker-details summary').click();
    for (const id of Object.values(ids)) {
      const box = results.locator(`#run-picker vscode-checkbox[data-run-id="${id}"]`);
      await box.waitFor({ timeout: 60_000 });
      if (!(await box.evaluate((b) => b.checked))) await box.click();
      await sleep(300);
    }
    const label = (id) => results.locator(`#results-table tbody tr[data-run-id="${id}"]`).getAttribute('data-label');
    await waitFor(
      'both variants in the table',
      async () => (await results.locator('#results-table tbody tr').count()) >= 2 && (await label(ids[8])) !== null,
      60_000,
      500,
    );
    const labels = { 4: await label(ids[4]), 8: await label(ids[8]) };
    log(`row labels: ${JSON.stringify(labels)}`);
    if (labels[4] !== 'LST r=4' || labels[8] !== 'LST r=8')
      throw new Error(`rows not told apart: ${JSON.stringify(labels)}`);
    const header = await results.locator('#results-table thead th').allTextContents();
    const rCol = header.indexOf('Reduction factor');
    if (rCol < 0) throw new Error(`no column for the differing setting r: ${header.join(' | ')}`);
    for (const r of [4, 8]) {
      const cells = await results.locator(`#results-table tbody tr[data-run-id="${ids[r]}"] td`).allTextContents();
      log(`r=${r}: ${cells.join(' | ')}`);
      if (cells[rCol] !== String(r)) throw new Error(`the r column says ${cells[rCol]} for the r=${r} run`);
    }
    const points = JSON.parse((await results.locator('#scatter-chart').getAttribute('data-point-labels')) ?? '[]');
    log(`scatter points: ${points.join(', ')}`);
    if (!points.includes('LST r=4') || !points.includes('LST r=8')) throw new Error('the scatter does not name both');
    const notes = await results.locator('#results-notes li').allTextContents();
    log(`noise notes: ${notes.join(' / ') || '(none)'}`);
    await sleep(800);
    await shot(page, '8-results-two-lst-variants');
    return 'two LST variants told apart in the table, the r column and the scatter';
  },
  { prepare: trainBoth },
);
