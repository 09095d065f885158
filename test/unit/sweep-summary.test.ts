// A sweep as one result (src/sweeps/sweepSummary.ts) on two real runs folders (test/unit/fixtures/sweep-figures):
// the trial run folders read back by the run store name their sweep, the sweep's best point and Pareto front come
// from its results.json and agree with the trials' own summary.json, the CodeLens text, and the Runs tree's sweep node.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { methodName } from '../../protocol/runLabel';
import { readRuns } from '../../src/runs/runStore';
import { groupRuns, isRunGroup, type RunGroup } from '../../src/runs/runText';
import {
  lastSweepOfFile,
  placeSweeps,
  readSweepSummaries,
  summarizeSweep,
  SWEEP_NODE,
  sweepOf,
  sweepResultText,
} from '../../src/sweeps/sweepSummary';
import { REPO_ROOT } from './jsonl';

const FIXTURES = path.join(REPO_ROOT, 'test/unit/fixtures/sweep-figures');

/** The best grid point by the trials' own scores: highest mean over seeds, ties to the least peak memory. */
function bestFromTrials(runs: Awaited<ReturnType<typeof readRuns>>) {
  const points = new Map<string, { method: string; scores: number[]; peak: number }>();
  for (const r of runs) {
    const key = JSON.stringify([r.method, (r.config!.sweep as { point: unknown }).point]);
    const p = points.get(key) ?? { method: r.method, scores: [], peak: 0 };
    p.scores.push(r.summary!.metrics.score);
    p.peak = r.summary!.memory.accounted_bytes ?? 0;
    points.set(key, p);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ranked = [...points.values()]
    .map((p) => ({ ...p, mean: mean(p.scores) }))
    .sort((a, b) => b.mean - a.mean || a.peak - b.peak);
  return ranked[0];
}

for (const name of ['figure6', 'figure7']) {
  test(`${name}: the trials name their sweep; one summary with the best point and the Pareto front`, async () => {
    const runs = await readRuns(path.join(FIXTURES, name));
    assert.ok(runs.length >= 8 && runs.every((r) => r.status === 'finished'));
    const ids = new Set(runs.map((r) => sweepOf(r.config)?.sweepId));
    assert.equal(ids.size, 1, 'every trial names the one sweep');
    const [summary, ...more] = await readSweepSummaries(runs);
    assert.equal(more.length, 0);
    assert.equal(summary.sweepId, [...ids][0]);
    assert.equal(summary.problem, null);
    assert.equal(summary.trials, runs.length);
    assert.equal(summary.finished, runs.length);
    const want = bestFromTrials(runs);
    assert.ok(summary.best);
    assert.equal(summary.best.method, want.method);
    assert.ok(Math.abs(summary.best.score - want.mean) < 1e-9, `${summary.best.score} vs ${want.mean}`);
    assert.equal(summary.best.n, 2);
    const results = JSON.parse(
      readFileSync(path.join(FIXTURES, name, 'sweeps', summary.sweepId, 'results.json'), 'utf8'),
    ) as { pareto: unknown[] };
    assert.equal(summary.paretoSize, results.pareto.length);
    assert.equal(
      sweepResultText(summary),
      `sweep ${runs.length} trials · best ${summary.best.label} ${want.mean.toFixed(1)} · Pareto: ${results.pareto.length} point${results.pareto.length === 1 ? '' : 's'}`,
    );
    assert.ok(summary.best.label.startsWith(methodName(want.method)));
  });
}

test('the lens finds the last sweep of its experiment file, and says so while one runs', () => {
  const dir = path.join(FIXTURES, 'figure7', 'sweeps');
  const id = '20261201-100959-026f';
  const manifest = JSON.parse(readFileSync(path.join(dir, id, 'manifest.json'), 'utf8')) as {
    experiment_file: string;
    trials: { status: string }[];
  };
  const file = path.join(FIXTURES, 'figure7.ladder.json');
  manifest.experiment_file = file; // the engine writes the absolute path (the fixture keeps a relative one)
  const results = readFileSync(path.join(dir, id, 'results.json'), 'utf8');
  const done = summarizeSweep(path.join(dir, id), JSON.stringify(manifest), results);
  assert.equal(lastSweepOfFile([done], file), done);
  assert.equal(lastSweepOfFile([done], path.join(FIXTURES, 'figure6.ladder.json')), undefined);
  // Mid-way: 3 of 8 finished, no results.json yet.
  manifest.trials.forEach((t, i) => (t.status = i < 3 ? 'finished' : i === 3 ? 'running' : 'queued'));
  const live = summarizeSweep(path.join(dir, id), JSON.stringify(manifest), null);
  assert.equal(sweepResultText(live), 'sweep 8 trials (3 finished) · no results yet');
  const broken = summarizeSweep(path.join(dir, id), '{', null);
  assert.match(broken.problem ?? '', /manifest\.json is not valid JSON/);
  assert.equal(sweepResultText(broken), 'sweep 0 trials · results unreadable');
});

test('the Runs tree: a sweep is one node holding its trials in trial order, not loose runs', async () => {
  const runs = [
    ...(await readRuns(path.join(FIXTURES, 'figure6'))),
    ...(await readRuns(path.join(FIXTURES, 'figure7'))),
  ];
  const trials = runs.filter((r) => sweepOf(r.config));
  assert.equal(trials.length, runs.length);
  const groups: RunGroup[] = groupRuns(
    runs.filter((r) => !sweepOf(r.config)),
    (f) => f,
  );
  assert.equal(groups.length, 0, 'trials are not grouped as plain runs');
  const summaries = await readSweepSummaries(trials);
  placeSweeps(groups, summaries, trials);
  assert.deepEqual(
    groups.map((g) => [g.level, g.title, g.children.length]),
    [
      ['sweep', 'Sweep 20261201-100959-026f', 8], // newest sweep first
      ['sweep', 'Sweep 20261201-100852-2378', 12],
    ],
  );
  const fig6 = groups[1];
  assert.ok(fig6.id.startsWith(SWEEP_NODE) && fig6.id.endsWith(path.join('sweeps', '20261201-100852-2378')));
  assert.equal(fig6.description, sweepResultText(summaries[1]));
  const order = fig6.children.map((c) => (isRunGroup(c) ? 'group' : sweepOf(c.config)!.trialId));
  assert.deepEqual(order, [...order].sort());
  assert.equal(order[0], 't0000');
  // Under its experiment file's node when the tree has one (a plain run of the same file), before its comparisons.
  const fileNode: RunGroup = {
    kind: 'group',
    level: 'file',
    id: `file:${path.join(FIXTURES, 'figure7.ladder.json')}`,
    title: 'figure7.ladder.json',
    description: '',
    children: [],
  };
  const withFile = [fileNode];
  const f7 = summaries.map((s) => (s.sweepId.endsWith('026f') ? { ...s, experimentFile: fileNode.id.slice(5) } : s));
  placeSweeps(withFile, f7, trials);
  assert.deepEqual(
    withFile.map((g) => [g.title, g.children.map((c) => (isRunGroup(c) ? c.title : c.id))]),
    [
      ['figure7.ladder.json', ['Sweep 20261201-100959-026f']],
      ['Sweep 20261201-100852-2378', fig6.children.map((c) => (isRunGroup(c) ? c.title : c.id))],
    ],
  );
});

test('a sweep over GLUE tasks: the best point is the one with the best GLUE average (no std: it is an average)', () => {
  const dir = path.join(FIXTURES, 'figure7', 'sweeps', '20261201-100959-026f');
  const manifest = readFileSync(path.join(dir, 'manifest.json'), 'utf8');
  const results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as {
    points: { method: string; point: Record<string, unknown> }[];
    glue_average?: unknown;
  };
  // The GLUE average ranks the points the other way round from their sst2 score.
  results.glue_average = results.points.map((p, i) => ({ method: p.method, point: p.point, score: 60 + i }));
  const last = results.points[results.points.length - 1];
  const s = summarizeSweep(dir, manifest, JSON.stringify(results));
  assert.equal(s.best?.score, 60 + results.points.length - 1);
  assert.equal(s.best?.std, null);
  assert.equal(s.best?.label, `LST r=${String(last.point.r)} · init ${String(last.point.init)}`);
});
