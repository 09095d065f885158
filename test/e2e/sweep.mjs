// End-to-end: a sweep made in the Experiment form, run, followed, stopped and resumed, in a real VS Code.
// Started by test/run-e2e.sh with PORT, WORKSPACE, EXT_PATH, ARTIFACTS. The experiment: LST on the bert-tiny preset
// and the SST-2 sample packaged with the engine. In the form, "sweep" beside Reduction factor turns it into a list
// (4, 8; a refused value is marked and not written) and Seeds per grid point is set to 2: the file gets its sweep
// block and the form shows the engine's plan, 4 trials, each with its estimated peak. Run starts the sweep on the
// local backend (setting ladderLab.sweep.backend); the Sweep panel follows it; Stop after the first trial finishes,
// Resume to the end; the trade-off chart and Table 1 on screen. Screenshots into test-artifacts/e2e/.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { appFrame, scenario, sleep, waitFor, writeJson } from './lib.mjs';

const { WORKSPACE, log, shot, run } = scenario('sweep');
const NAME = 'sweep-form.ladder.json';
const EXPERIMENT = path.join(WORKSPACE, NAME);
const TRIALS = 4; // r in {4, 8} x 2 seeds

const sweepBlock = () => JSON.parse(readFileSync(EXPERIMENT, 'utf8')).sweep;

/** The workspace's settings with the sweep backend set to local (Ray is for loopback-only namespaces here). */
function useLocalBackend() {
  const file = path.join(WORKSPACE, '.vscode', 'settings.json');
  const settings = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  mkdirSync(path.dirname(file), { recursive: true });
  writeJson(file, { ...settings, 'ladderLab.sweep.backend': 'local' });
}

async function setText(frame, selector, value) {
  const input = frame.locator(`${selector} input`);
  await input.fill(String(value));
  await input.press('Tab'); // commit: the textfield fires change on blur
}

/** Opens the file in an editor (the form follows the active *.ladder.json): Quick Open, retried until the workbench
 * takes keys. */
async function openFile(page) {
  for (let attempt = 1; attempt <= 10; attempt++) {
    await page.locator('.monaco-workbench').click({ position: { x: 800, y: 5 } }); // keys to the workbench
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input').first();
    if (
      await input.waitFor({ timeout: 3000 }).then(
        () => true,
        () => false,
      )
    ) {
      await input.fill(NAME);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: NAME }).first().click();
      return;
    }
    log(`Quick Open did not open (attempt ${attempt})`);
    await sleep(1000);
  }
  throw new Error('Quick Open never opened');
}

/** The sweep backend set to local, and the experiment: LST on bert-tiny and the engine's SST-2 sample. */
function writeExperiment() {
  useLocalBackend();
  writeJson(EXPERIMENT, {
    backbone: 'preset:bert-tiny',
    task: 'sst2',
    data: 'sample',
    methods: ['lst'],
    max_train_examples: 32,
    max_eval_examples: 8,
    epochs: 2,
    batch_size: 8,
    max_length: 32,
    fisher_samples: 4,
    checkpoint_every: 2,
  });
}

run(
  async ({ page }) => {
    const activity = page.locator('.activitybar .action-item a[aria-label^="Ladder Lab"]').first();
    await waitFor('the Ladder Lab activity-bar entry', () => activity.isVisible(), 60_000, 500);
    await openFile(page);
    await activity.click();
    const form = await appFrame(page, 'experiment');
    await waitFor(
      `the form on ${NAME}`,
      async () =>
        (await form
          .locator('#open-file')
          .textContent()
          .catch(() => '')) === NAME,
      60_000,
      500,
    );

    // 1. "sweep" beside Reduction factor: the control becomes a list editor holding the field's value.
    await form.locator('#sweep-toggle-r').click();
    await form.locator('#sweep-r').waitFor({ state: 'visible', timeout: 10_000 });
    await waitFor('r swept over its value', () => JSON.stringify(sweepBlock()) === '{"per_method":{"lst":{"r":[8]}}}');
    // A value r refuses is marked beside the list, and the file keeps what it had.
    await setText(form, '#sweep-r', '4, 100');
    await waitFor('the refused value marked', async () => (await form.locator('#sweep-r[invalid]').count()) === 1);
    const said = await form.locator('#status').textContent();
    log(`refused: ${said}`);
    if (!/100: must be at most 64/.test(said)) throw new Error(`the form does not say what to fix: "${said}"`);
    if (JSON.stringify(sweepBlock()) !== '{"per_method":{"lst":{"r":[8]}}}')
      throw new Error('a refused list was written');
    await setText(form, '#sweep-r', '4, 8');
    await setText(form, '#sweep-seeds', 2);
    await waitFor(
      'the sweep block in the file',
      () => JSON.stringify(sweepBlock()) === '{"per_method":{"lst":{"r":[4,8]}},"seeds":[42,43]}',
    );
    log(`file: ${JSON.stringify(sweepBlock())}`);
    await form.locator('#sweep-r').scrollIntoViewIfNeeded();
    await sleep(300);
    await shot(page, '9-sweep-form-r-list');

    // 2. Before launch: the engine's count, and each grid point's estimated peak memory.
    const section = form.locator('#sweep-section');
    await waitFor(
      'the planned trial count',
      async () => (await section.getAttribute('data-trials')) === String(TRIALS),
    );
    await waitFor(
      'the memory estimate of each grid point',
      async () => {
        const peaks = await form.locator('#sweep-trials tbody td.peak').allTextContents();
        return peaks.length === 2 && peaks.every((p) => /MiB$/.test(p));
      },
      120_000,
      1000,
    );
    log(`plan: ${await form.locator('#sweep-count').textContent()}`);
    for (const row of await form.locator('#sweep-trials tbody tr').allTextContents()) log(`  ${row}`);
    log(`time: ${await form.locator('#sweep-time').textContent()}`);
    const runButton = form.locator('#run');
    if ((await runButton.textContent())?.trim() !== `Run sweep (${TRIALS} trials)`)
      throw new Error(`the Run button reads "${await runButton.textContent()}"`);
    await section.scrollIntoViewIfNeeded();
    await sleep(500);
    await shot(page, '10-sweep-form-plan');

    // 3. Run: the sweep starts on the local backend and the Sweep panel follows it.
    await runButton.click();
    const panel = await appFrame(page, 'sweep', 90_000);
    const finished = () => panel.locator('#trial-grid [data-state="finished"]').count();
    await waitFor('the first trial to finish', async () => (await finished()) >= 1, 120_000, 500);
    log(`progress: ${await panel.locator('#sweep-progress').textContent()}`);
    await shot(page, '11-sweep-panel-running');

    // 4. Stop: running trials checkpoint, the rest stay queued; Resume is offered.
    await panel.locator('#stop-sweep').click();
    const resume = panel.locator('#resume-sweep');
    await waitFor(
      'Resume once the sweep stopped',
      async () => (await resume.isVisible()) && !(await resume.getAttribute('disabled')),
      60_000,
      500,
    );
    const afterStop = await finished();
    log(`stopped with ${afterStop} of ${TRIALS} trials finished`);
    if (afterStop >= TRIALS) throw new Error('the sweep ended before Stop took effect: nothing left to resume');
    await shot(page, '12-sweep-panel-stopped');

    // 5. Resume to the end: every trial finished, Table 1 and the trade-off chart drawn.
    await resume.click();
    await waitFor('every trial to finish', async () => (await finished()) === TRIALS, 180_000, 1000);
    await waitFor(
      'Table 1 with both grid points',
      async () => (await panel.locator('#sweep-table').getAttribute('data-rows')) === '2',
    );
    const rows = await panel.locator('#sweep-table tbody tr').allTextContents();
    for (const row of rows) log(`  table: ${row}`);
    const points = Number(await panel.locator('#tradeoff-chart').getAttribute('data-points'));
    log(`trade-off chart: ${points} points`);
    if (points !== 2) throw new Error(`the trade-off chart has ${points} points, expected one per grid point`);
    await panel.locator('#tradeoff-chart').scrollIntoViewIfNeeded();
    await sleep(800);
    await shot(page, '13-sweep-tradeoff-chart');
    await panel.locator('#sweep-table').scrollIntoViewIfNeeded();
    await sleep(500);
    await shot(page, '14-sweep-table-1');
    // The form times the next sweep from the trials just run (same method and backbone).
    const time = await waitFor('the form to time the sweep from the finished trials', async () => {
      const text = await form.locator('#sweep-time').textContent();
      return /^Estimated total time \d/.test(text ?? '') && text;
    });
    log(`form: ${time}`);
    return `a ${TRIALS}-trial sweep made in the form, stopped after ${afterStop}, resumed to the end`;
  },
  { prepare: writeExperiment },
);
