// The Sweep panel's pure side on a real sweep folder's files (test/unit/fixtures/sweep/: see its README): the live
// grid from manifest.json, Table 1 rows and the trade-off chart from results.json, the CSV / Markdown exports, the
// messages shown for a missing or corrupt folder, the folder listing of "Open Sweep", the PNG export's validator.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseSweepMessage, SweepMessages } from '../../protocol/webviews/sweep';
import { countsText, listSweepFolders } from '../../src/sweeps/sweepFolders';
import {
  buildChart,
  buildSweepState,
  buildTable,
  parseManifest,
  parseResults,
  sweepCsv,
  sweepMarkdown,
} from '../../src/sweeps/sweepTable';
import { REPO_ROOT } from './jsonl';

const DIR = path.join(REPO_ROOT, 'test/unit/fixtures/sweep');
const MANIFEST = readFileSync(path.join(DIR, 'manifest.json'), 'utf8');
const RESULTS = readFileSync(path.join(DIR, 'results.json'), 'utf8');
const MIB = 1024 * 1024;

interface RawResults {
  sweep_id: string;
  trials: { method: string; point: Record<string, number>; status: string; metrics: { score: number } | null }[];
  points: {
    method: string;
    point: Record<string, unknown>;
    mean: Record<string, number>;
    std: Record<string, number>;
    peak_bytes: number;
  }[];
  pareto: { method: string; point: Record<string, number> }[];
  glue_average?: unknown;
}
const raw = () => JSON.parse(RESULTS) as RawResults;

function results(text = RESULTS) {
  const r = parseResults(text, 'sst2');
  assert.equal(r.problem, undefined);
  assert.ok(r.value);
  return r.value;
}

test('the grid: one cell per grid point, its seeds in order, states counted from the manifest', () => {
  const state = buildSweepState('s1', MANIFEST, RESULTS);
  assert.deepEqual(state.problems, []);
  assert.deepEqual(
    state.grid.map((c) => [c.label, c.trials.map((t) => `${t.seed}:${t.status}`).join(' ')]),
    [
      ['LST r=4', '0:finished 1:finished'],
      ['LST r=8', '0:finished 1:finished'],
      ['LoRA rank 4', '0:finished 1:finished'],
      ['LoRA rank 8', '0:finished 1:finished'],
    ],
  );
  assert.deepEqual(state.counts, { queued: 0, running: 0, finished: 8, failed: 0, stopped: 0, early_stopped: 0 });
  // A live sweep: the manifest as it is mid-way (states change; the grid follows the file, nothing else).
  const live = JSON.parse(MANIFEST) as { trials: { status: string; run_id: string | null }[] };
  live.trials[3].status = 'running';
  live.trials.slice(4).forEach((t) => ((t.status = 'queued'), (t.run_id = null)));
  live.trials[2].status = 'failed';
  const mid = buildSweepState('s1', JSON.stringify(live), null);
  assert.deepEqual(mid.counts, { queued: 4, running: 1, finished: 2, failed: 1, stopped: 0, early_stopped: 0 });
  assert.equal(mid.grid[1].trials.map((t) => t.status).join(','), 'failed,running');
  assert.equal(mid.grid[3].trials[0].runId, null);
  assert.deepEqual(mid.table.rows, [], 'no results.json yet: an empty table, not an error');
  assert.deepEqual(mid.problems, []);
  assert.equal(countsText(mid.counts), '8 trials: 4 queued · 1 running · 2 finished · 1 failed');
});

test('Table 1 rows: per method + point the score mean and std over the trials the manifest lists, n, peak, Pareto', () => {
  const r = raw();
  const table = buildTable(results());
  assert.deepEqual(table.tasks, ['sst2']);
  assert.equal(table.hasGlueAverage, false);
  assert.deepEqual(
    table.rows.map((x) => x.label),
    ['LST r=4', 'LST r=8', 'LoRA rank 4', 'LoRA rank 8'],
  );
  // Rows come in the file's point order; each is checked against the trials it aggregates, not against results.json.
  table.rows.forEach((row, i) => {
    const p = r.points[i];
    assert.equal(row.method, p.method);
    const seeds = r.trials.filter(
      (t) => t.method === row.method && JSON.stringify(t.point) === JSON.stringify(p.point),
    );
    const scores = seeds.map((t) => t.metrics!.score);
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    const std = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / (scores.length - 1));
    assert.ok(Math.abs(row.scores[0]!.mean - mean) < 1e-9, `${row.label} mean`);
    assert.ok(Math.abs(row.scores[0]!.std - std) < 1e-9, `${row.label} std`);
    assert.equal(row.n, 2);
    assert.equal(row.trials, 2);
    assert.equal(row.peakBytes, p.peak_bytes);
  });
  const front = table.rows.filter((x) => x.onPareto).map((x) => x.label);
  const index = (m: string, point: object) =>
    r.points.findIndex((q) => q.method === m && JSON.stringify(q.point) === JSON.stringify(point));
  assert.deepEqual(
    front,
    r.pareto.map((p) => table.rows[index(p.method, p.point)].label),
  );
  assert.ok(front.length >= 1);
});

test('several tasks: one column per task, the GLUE average column, the std kept per task', () => {
  const r = raw();
  // The same points on a second task with other scores, as a sweep whose grid varies `task` writes them.
  const mrpc = r.points.map((p) => ({
    ...p,
    point: { ...p.point, task: 'mrpc' },
    mean: { score: 70 },
    std: { score: 2.5 },
  }));
  r.points = [...r.points.map((p) => ({ ...p, point: { ...p.point, task: 'sst2' } })), ...mrpc];
  r.glue_average = r.points
    .slice(0, 4)
    .map((p) => ({ method: p.method, point: { ...p.point, task: undefined }, tasks: ['mrpc', 'sst2'], score: 60 }));
  const table = buildTable(results(JSON.stringify(r)));
  assert.deepEqual(table.tasks, ['sst2', 'mrpc']);
  assert.equal(table.hasGlueAverage, true);
  assert.equal(table.rows.length, 4, 'one row per method + point, the tasks as columns');
  assert.deepEqual(table.rows[0].scores[1], { mean: 70, std: 2.5 });
  assert.equal(table.rows[0].glueAverage, 60);
  const md = sweepMarkdown(table, 'sid');
  assert.match(md, /\| method \| sst2 \| mrpc \| GLUE avg \| n seeds \| peak memory \(MiB\) \|/);
  assert.match(md, /\| LST r=4 \| 50\.0 ± 0\.0 \| 70\.0 ± 2\.5 \| 60\.0 \| 2\/2 \| \d+\.\d \|/);
  assert.equal(
    sweepCsv(table).split('\n')[0],
    'method,label,sst2_mean,sst2_std,mrpc_mean,mrpc_std,glue_average,n,trials,peak_train_memory_mib,pareto',
  );
});

test('the trade-off chart: a line per method in order of its swept size, MiB on x, std as the error bar, front marked', () => {
  const r = raw();
  // Reversed in the file: the chart still joins the points by r / lora_rank, not by file order.
  r.points.reverse();
  r.points[0].std = { score: 1.5 };
  const chart = buildChart(results(JSON.stringify(r)));
  assert.deepEqual(
    chart.map((s) => [s.method, s.sizeField, s.points.map((p) => p.label)]),
    [
      ['lora', 'lora_rank', ['LoRA rank 4', 'LoRA rank 8']],
      ['lst', 'r', ['LST r=4', 'LST r=8']],
    ],
  );
  const lora8 = chart[0].points[1];
  assert.equal(lora8.x, r.points[0].peak_bytes / MIB);
  assert.equal(lora8.y, r.points[0].mean.score);
  assert.equal(lora8.std, 1.5);
  const onFront = chart.flatMap((s) => s.points.filter((p) => p.onPareto).map((p) => p.label));
  assert.equal(onFront.length, r.pareto.length);
});

test('CSV and Markdown of the real table', () => {
  const r = raw();
  const table = buildTable(results());
  const csv = sweepCsv(table).trimEnd().split('\n');
  assert.equal(csv[0], 'method,label,sst2_mean,sst2_std,n,trials,peak_train_memory_mib,pareto');
  assert.equal(csv.length, 5);
  const lst4 = csv[1].split(',');
  assert.deepEqual(lst4.slice(0, 2), ['lst', 'LST r=4']);
  assert.equal(Number(lst4[6]), r.points[0].peak_bytes / MIB);
  const md = sweepMarkdown(table, r.sweep_id);
  assert.match(md, new RegExp(`^# Ladder Lab sweep ${r.sweep_id}\n`));
  assert.equal(md.split('\n').filter((l) => l.startsWith('| L')).length, 4);
  assert.match(md, /★/, 'the Pareto front is marked');
});

test('a missing or corrupt folder says what is wrong instead of showing nothing', () => {
  assert.match(buildSweepState('s', null, null).problems.join(), /manifest\.json is missing/);
  assert.match(buildSweepState('s', '{"trials": [', null).problems.join(), /manifest\.json is not valid JSON/);
  assert.match(buildSweepState('s', '{"grid": {}}', null).problems.join(), /no "trials" list/);
  assert.match(
    buildSweepState(
      's',
      '{"trials": [{"trial_id": "t0", "method": "lst", "point": {}, "status": "lost"}]}',
      null,
    ).problems.join(),
    /t0 has an unknown status "lost"/,
  );
  const corrupt = buildSweepState('s', MANIFEST, RESULTS.slice(0, 100));
  assert.match(corrupt.problems.join(), /results\.json is not valid JSON.*ladderlab sweep report/);
  assert.equal(corrupt.grid.length, 4, 'the grid still shows from the manifest');
  assert.equal(parseManifest('[]').problem !== undefined, true);
});

test("Open Sweep lists a runs folder's sweeps newest first with their counts; a broken one still lists", async () => {
  const runs = mkdtempSync(path.join(tmpdir(), 'll-sweeps-'));
  try {
    assert.deepEqual(await listSweepFolders(runs), [], 'no sweeps folder: no sweeps');
    for (const [id, manifest] of [
      ['20261201-064247-8ffb', MANIFEST],
      ['20261202-090000-aaaa', '{'],
      ['20261130-120000-bbbb', MANIFEST],
    ]) {
      mkdirSync(path.join(runs, 'sweeps', id), { recursive: true });
      writeFileSync(path.join(runs, 'sweeps', id, 'manifest.json'), manifest);
    }
    const found = await listSweepFolders(runs);
    assert.deepEqual(
      found.map((s) => s.id),
      ['20261202-090000-aaaa', '20261201-064247-8ffb', '20261130-120000-bbbb'],
    );
    assert.equal(found[0].counts, null);
    assert.equal(countsText(found[0].counts), 'manifest.json missing or unreadable');
    assert.equal(countsText(found[1].counts), '8 trials: 8 finished');
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
});

test("the sweep webview's messages: only a PNG data URL of base64 is an export; anything else is ignored", () => {
  assert.deepEqual(parseSweepMessage({ type: SweepMessages.ready }), { type: SweepMessages.ready });
  const png = { type: SweepMessages.exportPng, dataUrl: 'data:image/png;base64,iVBORw0KGgo=' };
  assert.deepEqual(parseSweepMessage(png), png);
  assert.equal(parseSweepMessage({ ...png, dataUrl: 'data:text/html;base64,PGI+' }), undefined);
  assert.equal(parseSweepMessage({ ...png, dataUrl: 'data:image/png;base64,<script>' }), undefined);
  assert.equal(parseSweepMessage({ type: SweepMessages.exportPng }), undefined);
  assert.equal(parseSweepMessage({ type: SweepMessages.state }), undefined, 'host -> webview only');
  assert.equal(parseSweepMessage({ type: 'results/exportCsv' }), undefined);
});
