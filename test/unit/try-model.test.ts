// The Try-model panel's pieces that run without VS Code: its message validator, the inference measurement in a
// child process (onnxruntime-node on the parity fixture's real exports, see onnx-parity.test.ts), inference.json,
// and the inference columns of the results table.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { RunFinishedEvent } from '../../protocol/events';
import { MAX_TRY_TEXT, parseTryMessage, TryMessages } from '../../protocol/webviews/try';
import { measureInChild, readInferenceFigures, writeInferenceFigures } from '../../src/inference/benchmark';
import { median } from '../../src/inference/measure';
import { buildTable, toCsv, type FinishedRun } from '../../src/panels/resultsTable';
import { checkJsonlFile, REPO_ROOT } from './jsonl';

const FIXTURE = path.join(REPO_ROOT, 'test-artifacts', 'onnx-parity');
const CHILD = path.resolve(__dirname, '..', 'inferenceBenchmark.js');
const MIB = 1024 * 1024;

test('try messages: known shapes pass as fresh objects, anything else is dropped', () => {
  assert.deepEqual(parseTryMessage({ type: TryMessages.ready }), { type: TryMessages.ready });
  assert.deepEqual(parseTryMessage({ type: TryMessages.predict, textA: 'good film', textB: null, extra: 1 }), {
    type: TryMessages.predict,
    textA: 'good film',
    textB: null,
  });
  assert.deepEqual(parseTryMessage({ type: TryMessages.predict, textA: 'a', textB: 'b' }), {
    type: TryMessages.predict,
    textA: 'a',
    textB: 'b',
  });
  for (const bad of [
    { type: TryMessages.predict, textA: '', textB: null },
    { type: TryMessages.predict, textA: 'x'.repeat(MAX_TRY_TEXT + 1), textB: null },
    { type: TryMessages.predict, textA: 'a' },
    { type: TryMessages.predict, textA: 'a', textB: 3 },
    { type: TryMessages.state, state: {} }, // host -> webview only
    { type: 'try/unknown' },
    'try/ready',
    null,
    [],
  ])
    assert.equal(parseTryMessage(bad), undefined, JSON.stringify(bad)?.slice(0, 80));
});

test('median of odd and even counts', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

for (const method of ['lst', 'lora']) {
  test(`${method}: latency and memory measured by onnxruntime-node in a child process`, async () => {
    assert.ok(
      existsSync(path.join(FIXTURE, method, 'model.onnx')),
      `parity fixture missing under ${FIXTURE}: run the engine tests first (scripts/test does)`,
    );
    assert.ok(existsSync(CHILD), `${CHILD} missing: build with node esbuild.mjs --tests`);
    const f = await measureInChild(CHILD, path.join(FIXTURE, method), 20);
    console.log(
      `${method}: median ${f.latency_ms_median} ms (${f.input_tokens} tokens, ${f.runs} runs), session ${(f.session_bytes / MIB).toFixed(1)} MiB, peak RSS +${(f.peak_rss_delta_bytes / MIB).toFixed(1)} MiB`,
    );
    assert.equal(f.runs, 20);
    assert.ok(f.latency_ms_median > 0 && f.latency_ms_median < 5000);
    assert.ok(f.input_tokens > 10 && f.input_tokens < 64);
    // The graph holds MiniLM's ~87 MiB of fp32 weights: the session must take at least that much.
    assert.ok(f.session_bytes > 60 * MIB, `session ${f.session_bytes}`);
    assert.ok(f.peak_rss_delta_bytes >= f.session_bytes);
    const dir = mkdtempSync(path.join(tmpdir(), 'ladderlab-run-'));
    try {
      await writeInferenceFigures(dir, f);
      assert.deepEqual(await readInferenceFigures(dir), {
        ...f,
        measured_at: (JSON.parse(readFileSync(path.join(dir, 'inference.json'), 'utf8')) as { measured_at: string })
          .measured_at,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a measurement of a missing export fails with the reason', async () => {
  await assert.rejects(measureInChild(CHILD, path.join(tmpdir(), 'no-such-export-dir')), /manifest\.json not found/);
});

test('results table: inference columns beside the training peak once a run is measured', () => {
  const events = checkJsonlFile(path.join(REPO_ROOT, 'engine/tests/fixtures/events/compare-lst-lora.jsonl')).events;
  const runs: FinishedRun[] = events
    .filter((e): e is RunFinishedEvent => e.type === 'run_finished')
    .map((e) => ({
      id: e.run_id,
      method: e.summary.method,
      startedAt: null,
      summary: e.summary,
      config: { task: 'sst2' },
    }));
  assert.ok(!buildTable(runs).columns.includes('Inference latency'));
  runs[0].inference = {
    latency_ms_median: 4.25,
    runs: 30,
    input_tokens: 20,
    session_bytes: 100 * MIB,
    peak_rss_delta_bytes: 120 * MIB,
    threads: 0,
    onnxruntime: '1.30.0',
  };
  const t = buildTable(runs);
  assert.deepEqual(t.columns.slice(3, 6), ['Peak train memory', 'Inference latency', 'Inference memory']);
  assert.deepEqual(t.cells[0].slice(4, 6), ['4.25 ms', '120.0 MiB']);
  assert.deepEqual(t.cells[1].slice(4, 6), ['—', '—']);
  const csv = toCsv(t).trim().split('\r\n');
  assert.ok(csv[0].endsWith(',inference_latency_ms,inference_peak_rss_mib'));
  assert.ok(csv[1].endsWith(',4.25,120'));
});
