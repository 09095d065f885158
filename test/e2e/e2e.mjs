// End-to-end UI test in a real VS Code (code-server) driven by playwright-core in Debian's Chromium.
// Started by test/run-e2e.sh, which provides code-server and these variables:
//   PORT, WORKSPACE (the test workspace folder), EXT_PATH (this repository: the extension, loaded unpacked),
//   DATA_DIR (absolute path of engine/tests/fixtures/glue-real/SST-2), ARTIFACTS (screenshot folder), CHROMIUM_HOME.
// Scenario: open the Ladder Lab sidebar; in the Experiment form pick the Hugging Face cache's model as the backbone
// and back; add LoRA to the methods, set r, batch size and the
// kept layers on the visual ladder (checking the file on disk follows, and that a change on disk reaches the form);
// run the comparison; watch loss and memory points arrive in the run monitor's charts; open the results panel and
// read both methods' rows. Screenshots at each stage.
import { appFrame, RUN_TIMEOUT_MS, scenario, sleep, tinySst2Experiment, waitFor, writeJson } from './lib.mjs';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const { WORKSPACE, DATA_DIR, log, shot, palette, run } = scenario('e2e', {
  label: 'E2E',
  vars: ['DATA_DIR'],
  failureShot: 'failure',
});
const EXPERIMENT = path.join(WORKSPACE, 'tiny.ladder.json');
const readExperiment = () => JSON.parse(readFileSync(EXPERIMENT, 'utf8'));

async function setText(frame, id, value) {
  const input = frame.locator(`#${id} input`);
  await input.fill(String(value));
  await input.press('Tab'); // commit: the textfield fires change on blur
}

/** The experiment starts as a single LST run on the real SST-2 data, tiny so it finishes in a minute on a CPU;
 * the test turns it into an LST vs LoRA comparison through the form. */
function writeExperiment() {
  writeJson(EXPERIMENT, tinySst2Experiment(DATA_DIR));
}

run(
  async ({ page }) => {
    // 1. The sidebar: the Ladder Lab activity-bar entry appears once the extension's contributions are read.
    const activity = page.locator('.activitybar .action-item a[aria-label^="Ladder Lab"]').first();
    await waitFor('the Ladder Lab activity-bar entry', () => activity.isVisible(), 60_000, 500);
    await activity.click();
    const form = await appFrame(page, 'experiment');
    await form.locator('#app[data-ready="true"]').waitFor({ timeout: 60_000 });
    const fileName = await form.locator('#open-file').textContent();
    log(`experiment form ready, editing ${fileName}`);
    if (fileName !== 'tiny.ladder.json') throw new Error(`the form edits ${fileName}, expected tiny.ladder.json`);
    if ((await form.locator('#ladder').getAttribute('data-layers')) !== '6')
      throw new Error("the ladder should show MiniLM's 6 layers");
    await shot(page, '0-experiment-form-top');

    // 1b. The backbone picker lists the model in the user's Hugging Face cache (run-e2e.sh lays one out under
    // HF_HOME, as huggingface_hub does), with its architecture and size; picking it writes its hub id, and the built-in
    // model can be picked back.
    const pick = async (text) => {
      await form.locator('#backbone-kind').click();
      await form.locator('#backbone-kind li.option', { hasText: text }).first().click();
    };
    const cached = form.locator('#backbone-kind vscode-option[data-cached]');
    await waitFor('the cached model in the backbone picker', async () => (await cached.count()) > 0, 90_000, 1000);
    const cachedLabel = (await cached.first().textContent()) ?? '';
    log(`backbone picker lists: ${cachedLabel}`);
    if (!/^sentence-transformers\/all-MiniLM-L6-v2 \(bert, [\d.]+ MiB, cache\)$/.test(cachedLabel))
      throw new Error(`unexpected cache entry in the picker: ${cachedLabel}`);
    await pick('all-MiniLM-L6-v2 (bert');
    await waitFor(
      'the hub id in the file',
      () => readExperiment().backbone === 'sentence-transformers/all-MiniLM-L6-v2',
      15_000,
    );
    await waitFor('the backbone info read from the cached snapshot', async () =>
      /^sentence-transformers\/all-MiniLM-L6-v2: bert, 6 layers, .*\(Hugging Face cache\)$/.test(
        (await form.locator('#backbone-info').textContent()) ?? '',
      ),
    );
    await shot(page, '0b-backbone-from-cache');
    await pick('(built in)');
    await waitFor('the built-in backbone in the file again', () => readExperiment().backbone === 'default', 15_000);

    // 2. Edit the form: methods, r, batch size, kept layers. Each change lands in the file.
    await form.locator('#method-lora').click();
    await waitFor('methods in the file', () => JSON.stringify(readExperiment().methods) === '["lst","lora"]');
    await setText(form, 'r', 4);
    await waitFor('r = 4 in the file', () => readExperiment().r === 4);
    await setText(form, 'batch_size', 4);
    await waitFor('batch_size = 4 in the file', () => readExperiment().batch_size === 4);
    for (const layer of [0, 2, 4]) await form.locator(`#ladder button[data-layer="${layer}"]`).click(); // drop 1st, 3rd, 5th
    await waitFor(
      'keep_layers [1,3,5] in the file',
      () => JSON.stringify(readExperiment().keep_layers) === '[1,3,5]',
      15_000,
    );
    await waitFor(
      'the ladder to show layers 1,3,5 kept',
      async () => (await form.locator('#ladder').getAttribute('data-kept')) === '1,3,5',
    );
    const rHint = await form.locator('#r-hint').textContent();
    log(`file now: ${JSON.stringify(readExperiment())}; r hint: ${rHint}`);
    if ((await form.locator('#ladder button[data-layer="0"] .bb').textContent()) !== 'layer 0')
      throw new Error('the ladder numbers layers from 0, as keep_layers does');

    // 2b. An r that does not fit MiniLM (384/64 = 6 wide, 12 heads): the error beside r, Run disabled; fixed, both go.
    await setText(form, 'r', 64);
    await waitFor('r = 64 in the file', () => readExperiment().r === 64);
    await waitFor('the r error beside the field', async () =>
      /not divisible by 12 heads/.test((await form.locator('#r-error:visible').textContent({ timeout: 1000 })) ?? ''),
    );
    if ((await form.locator('#run').getAttribute('disabled')) === null) throw new Error('Run should be disabled');
    if ((await form.locator('#r input').inputValue()) !== '64') throw new Error("the form should show the file's r");
    await shot(page, '1a-experiment-form-bad-r');
    await setText(form, 'r', 4);
    await waitFor('r = 4 again', () => readExperiment().r === 4);
    await waitFor(
      'the r error gone, Run enabled',
      async () =>
        (await form.locator('#r-error').isHidden()) && (await form.locator('#run').getAttribute('disabled')) === null,
    );

    // 3. The other way round: a change made on disk shows in the form.
    writeJson(EXPERIMENT, { ...readExperiment(), seed: 7 });
    await waitFor(
      'seed 7 from disk in the form',
      async () => (await form.locator('#seed').evaluate((e) => e.value)) === '7',
      20_000,
    );
    log('disk -> form sync ok');
    if (await form.locator('#warnings').isVisible())
      throw new Error(`unexpected warnings: ${await form.locator('#warnings').textContent()}`);
    await shot(page, '1-experiment-form');

    // 4. Run the comparison: the monitor opens and fills.
    await form.locator('#run').click();
    const monitor = await appFrame(page, 'monitor');
    log('monitor open');
    const points = async (id) => Number(await monitor.locator(`#${id}`).getAttribute('data-points')) || 0;
    await waitFor('the first loss points', async () => (await points('loss-chart')) >= 2, RUN_TIMEOUT_MS, 1000);
    log(
      `running: ${await monitor.locator('#run-line').textContent()} | ${await monitor.locator('#phase').textContent()} | ${await monitor.locator('#eta').textContent()}`,
    );
    await shot(page, '2-monitor-running');
    await waitFor(
      'the comparison to finish',
      async () => {
        const state = await monitor.locator('#session-state').getAttribute('data-state');
        if (state === 'failed' || state === 'stopped') {
          const msgs = await monitor.locator('#messages').textContent();
          throw Object.assign(new Error(`the session ${state}: ${msgs}`), { fatal: true });
        }
        return state === 'finished';
      },
      RUN_TIMEOUT_MS,
      1000,
    );
    const loss = await points('loss-chart');
    const memory = await points('memory-chart');
    const lossSeries = await monitor.locator('#loss-chart').getAttribute('aria-label');
    const memorySeries = await monitor.locator('#memory-chart').getAttribute('aria-label');
    log(`finished: loss chart ${loss} points (${lossSeries}); memory chart ${memory} points (${memorySeries})`);
    // 16 examples / batch 4 = 4 steps per method, 2 methods.
    if (loss < 8) throw new Error(`expected at least 8 loss points (4 steps x 2 methods), got ${loss}`);
    if (memory < 8) throw new Error(`expected at least 8 memory points, got ${memory}`);
    if (!/lst/.test(lossSeries) || !/lora/.test(lossSeries))
      throw new Error(`loss chart lacks a method: ${lossSeries}`);
    if (!/saved for backward|CUDA/.test(memorySeries)) throw new Error(`memory chart is unlabelled: ${memorySeries}`);
    const fraction = await monitor.locator('#progress').getAttribute('data-fraction');
    if (fraction !== '1.000') throw new Error(`progress should be complete, is ${fraction}`);
    await sleep(500);
    await shot(page, '3-monitor-finished');

    // 5. Results: both methods' rows from the run folders.
    await palette(page, 'Ladder Lab: Open Results');
    const results = await appFrame(page, 'results');
    await waitFor(
      'both rows in the results table',
      async () =>
        (await results.locator('#results-table tbody tr[data-method="lst"]').count()) === 1 &&
        (await results.locator('#results-table tbody tr[data-method="lora"]').count()) === 1,
      60_000,
      500,
    );
    const header = await results.locator('#results-table thead th').allTextContents();
    const rows = {};
    for (const m of ['lst', 'lora'])
      rows[m] = await results.locator(`#results-table tbody tr[data-method="${m}"] td`).allTextContents();
    log(`results header: ${header.join(' | ')}`);
    for (const m of ['lst', 'lora']) log(`results ${m}: ${rows[m].join(' | ')}`);
    const scatter = Number(await results.locator('#scatter-chart').getAttribute('data-points'));
    if (scatter !== 2) throw new Error(`the scatter should show 2 runs, shows ${scatter}`);
    const scoreAt = header.indexOf('Test score');
    for (const m of ['lst', 'lora']) {
      const score = Number(rows[m][scoreAt]);
      if (!(score >= 0 && score <= 100)) throw new Error(`${m}: score cell ${rows[m][scoreAt]} is not a 0-100 number`);
    }
    // Rows named by run label: the method and its identity settings (r and the kept layers, 0-based as in the file).
    if (rows.lst[0] !== 'LST r=4 · layers 1,3,5') throw new Error(`LST row label: ${rows.lst[0]}`);
    await sleep(500);
    await shot(page, '4-results');

    // Export CSV through VS Code's save dialog (in code-server a quick-input path box): accept the default name.
    await results.locator('#export-csv').click();
    const saveInput = page.locator('.quick-input-widget input').first();
    await saveInput.waitFor({ timeout: 15_000 });
    await waitFor(
      'the suggested file name',
      async () => /ladderlab-results\.csv$/.test(await saveInput.inputValue()),
      10_000,
    );
    await saveInput.press('Enter');
    const csvFile = path.join(WORKSPACE, 'ladderlab-results.csv');
    const csv = await waitFor(
      'the exported CSV',
      () => {
        try {
          return readFileSync(csvFile, 'utf8');
        } catch {
          return undefined;
        }
      },
      15_000,
    );
    const csvLines = csv.trim().split(/\r?\n/);
    if (!csvLines[0].startsWith('method,label,run_id,task,') || csvLines.length !== 3) {
      throw new Error(`unexpected CSV:\n${csv}`);
    }
    log(`exported ${path.basename(csvFile)}: ${csvLines.length - 1} rows`);

    // 6. Dark theme: the charts re-read VS Code's colours when the theme changes.
    const settingsFile = path.join(WORKSPACE, '.vscode', 'settings.json');
    writeJson(settingsFile, {
      ...JSON.parse(readFileSync(settingsFile, 'utf8')),
      'workbench.colorTheme': 'Default Dark Modern',
    });
    await waitFor(
      'the dark theme in the results webview',
      async () => /vscode-dark/.test(await results.locator('body').getAttribute('class')),
      30_000,
      500,
    );
    await sleep(800);
    await shot(page, '5-results-dark');
    await page.locator('.tabs-container .tab', { hasText: 'Run Monitor' }).click();
    const monitorDark = await appFrame(page, 'monitor');
    await waitFor(
      'the replayed monitor in the dark theme',
      async () =>
        /vscode-dark/.test(await monitorDark.locator('body').getAttribute('class')) &&
        Number(await monitorDark.locator('#loss-chart').getAttribute('data-points')) === loss,
      30_000,
      500,
    );
    await sleep(500);
    await shot(page, '6-monitor-dark');
    log('dark theme: results and the (replayed) monitor redrawn');

    // 7. Reload the window: the serializer restores the monitor, which (no session in memory any more) replays the
    // comparison from its run folders.
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    const tab = (title) => page.locator('.tabs-container .tab', { hasText: title });
    await tab('Results').waitFor({ timeout: 60_000 });
    await tab('Results').click();
    const restoredResults = await appFrame(page, 'results', 90_000);
    await waitFor(
      'the restored results table',
      async () => (await restoredResults.locator('#results-table tbody tr').count()) === 2,
      60_000,
      500,
    );
    await tab('Run Monitor').click();
    const restored = await appFrame(page, 'monitor', 90_000);
    await waitFor(
      'the monitor restored from the run folders',
      async () =>
        Number(await restored.locator('#loss-chart').getAttribute('data-points')) === loss &&
        /replayed from disk/.test(await restored.locator('#session-line').textContent()),
      60_000,
      500,
    );
    await sleep(500);
    await shot(page, '7-monitor-after-reload');
    log(`after reload: results restored (2 rows); monitor: ${await restored.locator('#session-line').textContent()}`);
  },
  { prepare: writeExperiment },
);
