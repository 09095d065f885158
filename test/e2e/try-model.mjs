// End-to-end test of the Try-model panel in a real VS Code (code-server) driven by playwright-core in Chromium.
// Started by test/run-e2e.sh after e2e.mjs, with the same variables plus PYTHON (the engine's interpreter).
// Scenario: a finished LoRA run on real SST-2 (the one e2e.mjs trained, or a tiny one trained here); "Ladder Lab:
// Try Model" from the palette; the panel offers to export; Export runs `ladderlab export` and the inference
// measurement; a typed sentence gets a prediction with class probabilities and latency; the results table shows
// the inference columns; a window reload reopens the panel on the same run; a corrupt model.onnx, then a missing
// one, gives a clear error in the panel.
import { appFrame, scenario, sleep, waitFor } from './lib.mjs';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const { WORKSPACE, DATA_DIR, PYTHON, log, shot, palette, run } = scenario('try-model', {
  label: 'TRY-MODEL E2E',
  vars: ['DATA_DIR', 'PYTHON'],
  failureShot: 'try-failure',
});
const RUNS_DIR = path.join(WORKSPACE, '.ladderlab', 'runs');
const SENTENCE = 'a warm , funny and quietly moving film that stays with you';

/** The newest finished LoRA run folder; trains a tiny one (16 SST-2 examples) when there is none. */
function finishedLoraRun() {
  const find = () =>
    (existsSync(RUNS_DIR) ? readdirSync(RUNS_DIR) : [])
      .filter(
        (d) =>
          d.includes('-lora-') &&
          existsSync(path.join(RUNS_DIR, d, 'summary.json')) &&
          existsSync(path.join(RUNS_DIR, d, 'trainable.safetensors')),
      )
      .sort()
      .reverse()[0];
  if (!find()) {
    log('no finished LoRA run in the workspace: training a tiny one');
    const done = spawnSync(
      PYTHON,
      [
        '-m',
        'ladderlab.cli',
        'run',
        '--method',
        'lora',
        '--task',
        'sst2',
        '--data',
        DATA_DIR,
        '--max-train-examples',
        '16',
        '--max-eval-examples',
        '8',
        '--epochs',
        '1',
        '--max-length',
        '32',
        '--batch-size',
        '4',
        '--runs-dir',
        RUNS_DIR,
        '--format',
        'text',
      ],
      { cwd: WORKSPACE, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    if (done.status !== 0) throw new Error(`training failed: ${done.stderr}`);
  }
  return path.join(RUNS_DIR, find());
}

/** The run to try, without the export and measurement a previous test left. */
function freshRun() {
  const runDir = finishedLoraRun();
  const runId = path.basename(runDir);
  rmSync(path.join(runDir, 'export'), { recursive: true, force: true });
  rmSync(path.join(runDir, 'inference.json'), { force: true });
  log(`run ${runId}`);
  return { runDir, runId };
}

run(
  async ({ page, runDir, runId }) => {
    // 1. Try Model from the palette: pick the run in the quick pick.
    await palette(page, 'Ladder Lab: Try Model', runId);
    const panel = await appFrame(page, 'try');
    await panel.locator('#app[data-status="needs-export"]').waitFor({ timeout: 60_000 });
    log(`panel: ${await panel.locator('#status').textContent()}`);
    await shot(page, 'try-0-needs-export');

    // 2. Export: ladderlab export, load in onnxruntime-node, measure in a child process.
    await panel.locator('#export').click();
    await waitFor(
      'the export, the model loaded and measured',
      async () => {
        const status = await panel.locator('#app').getAttribute('data-status');
        if (status === 'error')
          throw Object.assign(new Error(await panel.locator('#error').textContent()), { fatal: true });
        return status === 'ready' && (await panel.locator('#inference').getAttribute('data-measured')) === 'true';
      },
      180_000,
      1000,
    ).catch((e) => {
      if (e.fatal) throw new Error(`export failed in the panel: ${e.message}`);
      throw e;
    });
    for (const f of ['model.onnx', 'manifest.json', 'tokenizer.json']) {
      if (!existsSync(path.join(runDir, 'export', f))) throw new Error(`export/${f} missing after Export`);
    }
    if (!existsSync(path.join(runDir, 'inference.json'))) throw new Error('inference.json not written');
    log(`ready: ${await panel.locator('#inference').textContent()}`);

    // 3. A typed sentence gets a prediction with both class probabilities and a latency.
    await panel.locator('#text-a textarea').fill(SENTENCE);
    await panel.locator('#predict').click();
    const label = await waitFor('a prediction', () => panel.locator('#prediction').getAttribute('data-label'), 30_000);
    if (!['negative', 'positive'].includes(label)) throw new Error(`unexpected label ${label}`);
    const probs = await panel.locator('#probabilities tr').allTextContents();
    if (probs.length !== 2) throw new Error(`expected 2 class probabilities, got ${probs.length}`);
    const latency = await panel.locator('#latency').textContent();
    if (!/\d+\.\d\d ms/.test(latency)) throw new Error(`no latency shown: ${latency}`);
    log(`prediction: ${label} | ${probs.join(' | ')} | ${latency}`);
    await sleep(300);
    await shot(page, 'try-1-prediction');

    // 3b. Reload the window: the serializer reopens the panel on the same run and the model loads again.
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await page.locator('.tabs-container .tab', { hasText: 'Try Model' }).waitFor({ timeout: 60_000 });
    const revived = await appFrame(page, 'try', 90_000);
    await revived.locator('#app[data-status="ready"]').waitFor({ timeout: 60_000 });
    const revivedStatus = await revived.locator('#status').textContent();
    if (!revivedStatus.includes(runId)) throw new Error(`the restored panel shows another run: ${revivedStatus}`);
    log(`after reload: ${revivedStatus}`);

    // 4. The results table shows the measured inference figures beside the training peak.
    await palette(page, 'Ladder Lab: Open Results');
    const results = await appFrame(page, 'results');
    await waitFor(
      'inference columns in the results table',
      async () => (await results.locator('#results-table thead th').allTextContents()).includes('Inference latency'),
      60_000,
      500,
    );
    const header = await results.locator('#results-table thead th').allTextContents();
    const row = await results.locator(`#results-table tbody tr[data-run-id="${runId}"] td`).allTextContents();
    log(`results: ${header.join(' | ')}\n  ${row.join(' | ')}`);
    if (!row.length || !/ ms$/.test(row[header.indexOf('Inference latency')]))
      throw new Error('the run has no inference latency in the results');
    await shot(page, 'try-2-results');
    // The results panel offers Try Model too: its button opens the same run picker.
    await results.locator('#try-model').click();
    await page.locator('.quick-input-list .monaco-list-row', { hasText: runId }).first().waitFor({ timeout: 30_000 });
    await page.keyboard.press('Escape');

    // 5. A corrupt model.onnx, then a missing one: a clear error in the panel.
    await page.locator('.tabs-container .tab', { hasText: 'Try Model' }).click();
    const panel2 = await appFrame(page, 'try');
    writeFileSync(path.join(runDir, 'export', 'model.onnx'), 'this is not an ONNX graph');
    await panel2.locator('#reload').click();
    await panel2.locator('#app[data-status="error"]').waitFor({ timeout: 30_000 });
    const corrupt = await panel2.locator('#error').textContent();
    if (!/model\.onnx: it is damaged or not an ONNX model.*Export the run again/.test(corrupt))
      throw new Error(`unclear error: ${corrupt}`);
    log(`corrupt: ${corrupt}`);
    await shot(page, 'try-3-corrupt-onnx');
    rmSync(path.join(runDir, 'export', 'model.onnx'));
    await panel2.locator('#reload').click();
    await waitFor(
      'the missing-file error',
      async () => /model\.onnx not found/.test(await panel2.locator('#error').textContent()),
      30_000,
    );
    log(`missing: ${await panel2.locator('#error').textContent()}`);
  },
  { prepare: freshRun },
);
