// The Sweep panel on a real sweep: the engine runs `ladderlab sweep` into the workspace's runs folder (as a user does
// from a terminal: the extension does not launch sweeps yet), "Ladder Lab: Open Sweep" opens its folder, and the
// state the panel posts to its webview (through the same typed channel as the other panels) follows the folder:
// the trials' grid while it runs, then Table 1 rows and chart points that agree with the trials' own summary.json.
import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import type { EngineEvent } from '../../protocol/events';
import { SweepMessages, type SweepState } from '../../protocol/webviews/sweep';
import { DEFAULT_RUNS_DIR } from '../../src/runs/runsDir';
import { api, repoRoot, workspaceDir } from './context';
import { test, waitFor } from './harness';
import { childProcess } from './processSpy';

const MIB = 1024 * 1024;

test('Open Sweep shows a real sweep: the live grid, then Table 1 and the trade-off chart from its results', async () => {
  const { panels } = await api();
  const python = vscode.workspace.getConfiguration('ladderLab').get<string>('pythonPath');
  assert.ok(python, 'the test workspace names the engine in ladderLab.pythonPath');
  const file = path.join(workspaceDir(), 'sweep.ladder.json');
  writeFileSync(
    file,
    JSON.stringify({
      backbone: 'preset:bert-tiny',
      task: 'sst2',
      data: path.join(repoRoot(), 'engine/tests/fixtures/glue-real/SST-2'),
      methods: ['lst'],
      epochs: 1,
      max_train_examples: 16,
      max_eval_examples: 8,
      max_length: 32,
      sweep: { per_method: { lst: { r: [4, 8] } }, seeds: [0, 1] },
    }),
  );
  const runsDir = path.join(workspaceDir(), DEFAULT_RUNS_DIR);
  const engine = childProcess.spawn(
    python,
    [
      '-m',
      'ladderlab.cli',
      'sweep',
      '--config',
      file,
      '--backend',
      'local',
      '--runs-dir',
      runsDir,
      '--format',
      'events',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const events: EngineEvent[] = [];
  let stderr = '';
  engine.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  readline.createInterface({ input: engine.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as EngineEvent);
    } catch {
      // a non-JSON line (a library's print): not an event
    }
  });
  const exited = new Promise<number | null>((resolve) => engine.on('exit', resolve));
  try {
    const started = await waitFor(
      `sweep_started (stderr: ${stderr})`,
      () => events.find((e): e is Extract<EngineEvent, { type: 'sweep_started' }> => e.type === 'sweep_started'),
      60_000,
    );
    await vscode.commands.executeCommand('ladderLab.openSweep', started.sweep_dir);
    const panel = await waitFor('the sweep panel', () => panels.sweep(), 10_000);
    assert.equal(panel.sweep.id, started.sweep_id);
    await panel.receive({ type: SweepMessages.ready }); // as its webview says on load (again, if it already did)
    const states: SweepState[] = [];
    const seen = () => {
      const s = panel.lastState;
      if (s && s !== states[states.length - 1]) states.push(s);
      return s;
    };
    // The grid while the sweep runs: trials not yet finished, read from the manifest the engine keeps rewriting.
    await waitFor(
      'a state with every trial listed, not all finished',
      () => {
        const s = seen();
        return s && s.grid.length === 2 && s.counts.finished < 4;
      },
      30_000,
    );
    const finished = await waitFor(
      'every trial finished and the results shown (the watcher saw results.json)',
      () => {
        const s = seen();
        return s && s.counts.finished === 4 && s.table.rows.length === 2 ? s : undefined;
      },
      120_000,
    );
    assert.equal(await exited, 0, `the sweep exited non-zero: ${stderr}`);
    assert.deepEqual(finished.problems, []);
    assert.ok(states.length >= 2, 'the panel followed the folder: more than one state posted');
    assert.deepEqual(
      finished.grid.map((c) => [c.label, c.trials.map((t) => t.status)]),
      [
        ['LST r=4', ['finished', 'finished']],
        ['LST r=8', ['finished', 'finished']],
      ],
    );

    // Table 1 rows and chart points against the trials' own run folders, not against results.json.
    const manifest = JSON.parse(readFileSync(path.join(started.sweep_dir, 'manifest.json'), 'utf8')) as {
      trials: { point: { r: number }; run_id: string }[];
    };
    const summaries = manifest.trials.map((t) => ({
      r: t.point.r,
      summary: JSON.parse(readFileSync(path.join(runsDir, t.run_id, 'summary.json'), 'utf8')) as {
        metrics: { score: number };
        memory: { accounted_bytes: number; train_peak_bytes: number | null };
      },
    }));
    assert.deepEqual(finished.table.tasks, ['sst2']);
    const [series] = finished.chart;
    assert.equal(finished.chart.length, 1);
    assert.equal(series.sizeField, 'r');
    finished.table.rows.forEach((row, i) => {
      const r = [4, 8][i];
      const seeds = summaries.filter((s) => s.r === r).map((s) => s.summary);
      const scores = seeds.map((s) => s.metrics.score);
      const mean = (scores[0] + scores[1]) / 2;
      const std = Math.abs(scores[0] - scores[1]) / Math.SQRT2; // the sample std of two values
      const peak = seeds.map((s) => s.memory.train_peak_bytes ?? s.memory.accounted_bytes);
      assert.equal(row.label, `LST r=${r}`);
      assert.ok(Math.abs(row.scores[0]!.mean - mean) < 1e-6, `${row.label}: mean ${row.scores[0]!.mean} vs ${mean}`);
      assert.ok(Math.abs(row.scores[0]!.std - std) < 1e-6, `${row.label}: std ${row.scores[0]!.std} vs ${std}`);
      assert.equal(row.n, 2);
      assert.ok(Math.abs(row.peakBytes! - (peak[0] + peak[1]) / 2) <= 1, `${row.label}: peak`);
      const point = series.points[i];
      assert.equal(point.label, row.label, 'the chart joins the points in order of r');
      assert.equal(point.x, row.peakBytes! / MIB);
      assert.equal(point.y, row.scores[0]!.mean);
      assert.equal(point.std, row.scores[0]!.std);
    });
    assert.ok(
      finished.table.rows.some((r) => r.onPareto) && series.points.some((p) => p.onPareto),
      'the Pareto front is marked',
    );

    // A damaged results.json: the panel says so (and how to rewrite it) and keeps the grid.
    writeFileSync(path.join(started.sweep_dir, 'results.json'), '{"points": [');
    const damaged = await waitFor('the corrupt results.json message', () => {
      const s = panel.lastState;
      return s?.problems.some((p) => p.includes('results.json is not valid JSON')) ? s : undefined;
    });
    assert.match(damaged.problems.join('\n'), /ladderlab sweep report/);
    assert.equal(damaged.grid.length, 2);
  } finally {
    if (engine.exitCode === null) engine.kill();
    panels.sweep()?.dispose();
  }
}, 180_000);
