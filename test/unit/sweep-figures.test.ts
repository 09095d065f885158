// The Sweep panel's charts over swept fields (src/sweeps/sweepFigures.ts) on two real sweeps' folders
// (test/unit/fixtures/sweep-figures: see its README): Figure 6's "layers dropped / frozen" axis shared by LST and
// LoRA, Figure 7's score vs r with one line per init. Expected numbers come from the trials' own summary.json.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MEMORY_AXIS, parseSweepMessage, SweepMessages } from '../../protocol/webviews/sweep';
import {
  backboneFolderLayers,
  chartExport,
  figureCsv,
  figureMarkdown,
  LAYERS_DROPPED,
} from '../../src/sweeps/sweepFigures';
import { buildSweepState } from '../../src/sweeps/sweepTable';
import { REPO_ROOT } from './jsonl';

const FIXTURES = path.join(REPO_ROOT, 'test/unit/fixtures/sweep-figures');

interface Trial {
  method: string;
  point: Record<string, unknown>;
  score: number;
}

/** A fixture sweep: its folder's two files and its trials' config.json + summary.json. */
function sweep(name: string) {
  const runs = path.join(FIXTURES, name);
  const [id] = readdirSync(path.join(runs, 'sweeps'));
  const file = (f: string) => readFileSync(path.join(runs, 'sweeps', id, f), 'utf8');
  const trials: Trial[] = readdirSync(runs)
    .filter((d) => d !== 'sweeps')
    .map((d) => {
      const read = (f: string): unknown => JSON.parse(readFileSync(path.join(runs, d, f), 'utf8'));
      const config = read('config.json') as { method: string; sweep: { point: Record<string, unknown> } };
      const summary = read('summary.json') as { metrics: { score: number } };
      return { method: config.method, point: config.sweep.point, score: summary.metrics.score };
    });
  return { id, state: buildSweepState(id, file('manifest.json'), file('results.json')), trials };
}

/** Mean and sample std (ddof=1) of the trials' scores at a point: what each chart point must show. */
function expected(trials: Trial[], method: string, point: Record<string, unknown>) {
  const scores = trials
    .filter((t) => t.method === method && JSON.stringify(t.point) === JSON.stringify(point))
    .map((t) => t.score);
  assert.ok(scores.length >= 2, `two seeds at ${method} ${JSON.stringify(point)}`);
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const std = Math.sqrt(scores.reduce((a, s) => a + (s - mean) ** 2, 0) / (scores.length - 1));
  return { mean, std };
}

test('Figure 6: one "layers dropped / frozen" axis, LST by side layers left out, LoRA by frozen layers', () => {
  const { state, trials } = sweep('figure6');
  assert.deepEqual(state.problems, []);
  assert.deepEqual(
    state.figures.map((f) => f.axis),
    [LAYERS_DROPPED],
    'keep_layers and freeze_layers make one axis, not two',
  );
  const [fig] = state.figures;
  assert.match(fig.title, /dropped.*frozen/);
  assert.deepEqual(
    fig.series.map((s) => [s.label, s.points.map((p) => p.x)]),
    [
      ['LST', [0, 1, 2]], // bert-tiny has 4 layers: keep_layers 0-3, 1-3, 2-3
      ['LoRA', [0, 1, 2]],
    ],
  );
  const kept = (n: number) => Array.from({ length: 4 - n }, (_, i) => i + n);
  for (const s of fig.series)
    for (const p of s.points) {
      const point = s.method === 'lst' ? { keep_layers: kept(p.x) } : { freeze_layers: p.x };
      const want = expected(trials, s.method, point);
      assert.ok(Math.abs(p.y - want.mean) < 1e-9, `${p.label}: ${p.y} vs ${want.mean}`);
      assert.ok(Math.abs(p.std - want.std) < 1e-9, `${p.label} std: ${p.std} vs ${want.std}`);
    }
  assert.ok(
    trials.some((t) => t.score !== trials[0].score),
    'the fixture has different scores, so a wrong mapping cannot pass by accident',
  );
  // Peak memory's chart is still there for the same sweep (the picker's first choice); LST's keep_layers lists are no
  // number to join along, so its line follows its memory.
  assert.equal(state.chart.length, 2);
  const lst = state.chart.find((s) => s.method === 'lst')!;
  assert.equal(lst.sizeField, null);
  assert.deepEqual(
    lst.points.map((p) => p.x),
    lst.points.map((p) => p.x).sort((a, b) => a - b),
  );
  assert.deepEqual(
    lst.points.map((p) => p.label),
    ['LST layers 2,3', 'LST layers 1,2,3', 'LST layers 0,1,2,3'],
  );
});

test('Figure 7: score vs r, one line per init; a choice field splits lines and is no axis', () => {
  const { state, trials } = sweep('figure7');
  assert.deepEqual(
    state.figures.map((f) => f.axis),
    ['r'],
  );
  const [fig] = state.figures;
  assert.deepEqual(
    fig.series.map((s) => [s.label, s.points.map((p) => p.x)]),
    [
      ['LST init random', [4, 8]],
      ['LST init magnitude', [4, 8]],
    ],
  );
  for (const s of fig.series) {
    const init = s.label.split(' ').pop();
    for (const p of s.points) {
      const want = expected(trials, 'lst', { init, r: p.x });
      assert.ok(Math.abs(p.y - want.mean) < 1e-9 && Math.abs(p.std - want.std) < 1e-9, p.label);
    }
  }
  const onFront = fig.series.flatMap((s) => s.points.filter((p) => p.onPareto).map((p) => p.label));
  assert.ok(onFront.length >= 1, 'the Pareto front of results.json rings its points on every axis');
});

test('a chart as CSV (one row per point) and Markdown (a column per x value, mean ± std)', () => {
  const { id, state } = sweep('figure7');
  const [fig] = state.figures;
  const csv = figureCsv(fig, 'r').trim().split('\n');
  assert.equal(csv[0], 'line,method,point,r,score_mean,score_std,pareto');
  assert.equal(csv.length, 1 + 4);
  const first = fig.series[0].points[0];
  assert.ok(csv[1].startsWith(`LST init random,lst,${first.label},4,${first.y},${first.std},`), csv[1]);
  const md = figureMarkdown(fig, id, String);
  assert.match(md, /score vs Reduction factor \(r\)/);
  assert.match(md, /\| line \| 4 \| 8 \|/);
  const row = md.split('\n').find((l) => l.startsWith('| LST init magnitude'))!;
  const p = fig.series[1].points[1];
  assert.ok(row.includes(`${p.y.toFixed(1)} ± ${p.std.toFixed(1)}`), row);
});

test('no results yet: no charts; a sweep over one numeric value offers no axis for it', () => {
  const { state } = sweep('figure7');
  const empty = buildSweepState('x', null, null);
  assert.deepEqual(empty.figures, []);
  assert.ok(state.figures.every((f) => f.series.every((s) => s.points.length > 1)));
});

test('each chart of the panel exports: peak memory (x in MiB, a row per point) and the swept fields; no other axis', () => {
  const { id, state } = sweep('figure6');
  const csv = chartExport(state, MEMORY_AXIS, 'csv')!.trim().split('\n');
  assert.equal(csv[0], 'line,method,point,peak_train_memory_mib,score_mean,score_std,pareto');
  const points = state.chart.flatMap((s) => s.points);
  assert.equal(csv.length, 1 + points.length);
  assert.ok(csv.slice(1).every((line, i) => line.includes(`,${points[i].x},`)));
  const md = chartExport(state, MEMORY_AXIS, 'md')!;
  assert.match(md, new RegExp(`# Ladder Lab sweep ${id}: score vs peak training memory`));
  assert.equal(md.split('\n').filter((l) => l.startsWith('| LST') || l.startsWith('| LoRA')).length, points.length);
  const layers = chartExport(state, LAYERS_DROPPED, 'md')!;
  assert.match(layers, /\| line \| 0 \| 1 \| 2 \|/);
  assert.equal(chartExport(state, 'r', 'csv'), null, 'figure 6 sweeps no r');
});

test('the chart export message: an axis name and csv or md, nothing else', () => {
  const ok = { type: SweepMessages.exportChart, axis: LAYERS_DROPPED, kind: 'md' };
  assert.deepEqual(parseSweepMessage(ok), ok);
  for (const bad of [
    { ...ok, kind: 'png' },
    { ...ok, axis: '../x' },
    { ...ok, axis: 3 },
    { type: SweepMessages.exportChart, kind: 'csv' },
  ])
    assert.equal(parseSweepMessage(bad), undefined, JSON.stringify(bad));
});

test('a checkpoint folder backbone: its config.json gives the layer count LST drops side layers from', async () => {
  const { state } = sweep('figure6');
  const dir = path.join(FIXTURES, 'figure6', 'sweeps', readdirSync(path.join(FIXTURES, 'figure6', 'sweeps'))[0]);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
    experiment_file: string;
    values: Record<string, unknown>;
  };
  const home = mkdtempSync(path.join(tmpdir(), 'll-backbone-'));
  try {
    // A 6-layer BERT folder named relative to the experiment file, as a user writes it.
    mkdirSync(path.join(home, 'models', 'bert6'), { recursive: true });
    writeFileSync(
      path.join(home, 'models', 'bert6', 'config.json'),
      JSON.stringify({ model_type: 'bert', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 6 }),
    );
    manifest.experiment_file = path.join(home, 'fig6.ladder.json');
    manifest.values.backbone = 'models/bert6';
    const text = JSON.stringify(manifest);
    assert.equal(await backboneFolderLayers(text), 6);
    const results = readFileSync(path.join(dir, 'results.json'), 'utf8');
    const [fig] = buildSweepState('x', text, results, await backboneFolderLayers(text)).figures;
    assert.deepEqual(
      fig.series.find((s) => s.method === 'lst')!.points.map((p) => p.x),
      [2, 3, 4],
    );
    assert.deepEqual(
      fig.series.find((s) => s.method === 'lora')!.points.map((p) => p.x),
      [0, 1, 2],
    );
    // Not readable: no count (the panel then guesses from keep_layers, as for the fixture's 0-3 here).
    manifest.values.backbone = 'models/missing';
    assert.equal(await backboneFolderLayers(JSON.stringify(manifest)), null);
    assert.equal(await backboneFolderLayers('{'), null);
    const guessed = buildSweepState('x', JSON.stringify(manifest), results).figures[0];
    assert.deepEqual(
      guessed.series[0].points.map((p) => p.x),
      [0, 1, 2],
    );
    assert.deepEqual(
      state.figures[0].series[0].points.map((p) => p.x),
      [0, 1, 2],
    ); // preset:bert-tiny: 4 layers
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
