// The Sweep panel on real sweeps. First one run from a terminal (`ladderlab sweep` into the workspace's runs folder):
// "Ladder Lab: Open Sweep" opens its folder, and the state the panel posts to its webview (through the same typed
// channel as the other panels) follows the folder: the trials' grid while it runs, then Table 1 rows and chart points
// that agree with the trials' own summary.json. Then one the extension drives: Run launches it, the panel follows the
// engine's progress, Stop and Resume Sweep take it to the end.
import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import type { EngineEvent } from '../../protocol/events';
import { SweepMessages, type SweepLive, type SweepState } from '../../protocol/webviews/sweep';
import type { SweepPanel } from '../../src/panels/sweepPanel';
import { RunManager } from '../../src/runs/runManager';
import { DEFAULT_RUNS_DIR } from '../../src/runs/runsDir';
import { sessionOfSweep } from '../../src/runs/sessionState';
import { listSweepFolders } from '../../src/sweeps/sweepFolders';
import { sweepProgress } from '../../src/sweeps/sweepProgress';
import type { Session } from '../../src/runs/types';
import { api, repoRoot, workspaceDir } from './context';
import { test, waitFor } from './harness';
import { childProcess } from './processSpy';

const MIB = 1024 * 1024;

/** A sweep file's values apart from its sweep block: bert-tiny LST on 16 real SST-2 rows, 1 epoch (seconds a trial). */
function tinySweep(): Record<string, unknown> {
  return {
    backbone: 'preset:bert-tiny',
    task: 'sst2',
    data: path.join(repoRoot(), 'engine/tests/fixtures/glue-real/SST-2'),
    methods: ['lst'],
    epochs: 1,
    max_train_examples: 16,
    max_eval_examples: 8,
    max_length: 32,
  };
}

test('Open Sweep shows a real sweep: the live grid, then Table 1 and the trade-off chart from its results', async () => {
  const { panels } = await api();
  const python = vscode.workspace.getConfiguration('ladderLab').get<string>('pythonPath');
  assert.ok(python, 'the test workspace names the engine in ladderLab.pythonPath');
  const file = path.join(workspaceDir(), 'sweep.ladder.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...tinySweep(),
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
    ).catch((e: Error) => {
      // what the panel last showed says whether the watcher or the files are at fault
      const s = panel.lastState;
      const shown = { counts: s?.counts, rows: s?.table.rows.length, problems: s?.problems, states: states.length };
      throw new Error(`${e.message}; the panel last showed ${JSON.stringify(shown)}`);
    });
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

test('Run on a sweep file launches the sweep: the panel follows its progress, Stop after the first trial, Resume to the end', async () => {
  const { panels, runs } = await api();
  const config = vscode.workspace.getConfiguration('ladderLab.sweep');
  // The local backend, whatever "auto" becomes: Ray may only run in a loopback-only network namespace.
  await config.update('backend', 'local', vscode.ConfigurationTarget.Workspace);
  const file = path.join(workspaceDir(), 'launched-sweep.ladder.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...tinySweep(),
      batch_size: 2, // 8 steps a trial: a stop sent at a later trial's first step lands inside it
      sweep: { per_method: { lst: { r: [4, 8] } }, seeds: [0, 1] },
    }),
  );
  const lives: SweepLive[] = [];
  const live = (panel: SweepPanel) => {
    const l = panel.lastLive;
    if (l && l !== lives[lives.length - 1]) lives.push(l);
    return l;
  };
  try {
    const first = await vscode.commands.executeCommand<Session | undefined>(
      'ladderLab.runExperiment',
      vscode.Uri.file(file),
    );
    assert.ok(first, 'Run started an engine');
    assert.equal(first.kind, 'sweep');
    // The panel opens on the sweep once its folder exists.
    const panel = await waitFor('the sweep panel on the launched sweep', () => {
      const p = panels.sweep();
      return p && first.sweepDir && p.sweep.id === path.basename(first.sweepDir) ? p : undefined;
    });
    await panel.receive({ type: SweepMessages.ready });
    const running = await waitFor('progress of the whole sweep', () => {
      const l = live(panel);
      return l?.engine === 'running' && l.progress?.running?.totalSteps ? l : undefined;
    });
    assert.equal(running.progress!.total, 4);
    assert.equal(running.progress!.etaS, null, 'no ETA before a trial has finished');
    assert.equal(running.resumeBlocked, 'the sweep is running');

    // A window reload: a new RunManager (the next window's) attaches to the running engine from its session folder,
    // knows it for a sweep and which, and reads the same progress from the replayed output (what its panel shows).
    const nextWindow = new RunManager({ log: { info: () => {}, warn: () => {}, error: () => {} } });
    try {
      await nextWindow.ready;
      const attached = sessionOfSweep(nextWindow.sessions(), path.basename(first.sweepDir!));
      assert.ok(attached, 'the next window attached to the sweep');
      assert.deepEqual([attached.id, attached.kind, attached.attached], [first.id, 'sweep', true]);
      assert.equal(attached.sweepDir, first.sweepDir);
      assert.equal(sweepProgress(attached.events, Date.now() / 1000)?.total, 4);
    } finally {
      nextWindow.dispose(); // lets go of the engine, as a window that closes does
    }

    // Stop from the panel's button once the first trial has finished (the ETA is known by then) and a later one is
    // training: stopping right after a trial ends would land between trials, where there is nothing to checkpoint.
    const afterFirst = await waitFor(
      'the first trial finished and the next one training',
      () => {
        const l = live(panel);
        const p = l?.progress;
        return p && p.done >= 1 && p.running && p.running.step >= 1 ? l : undefined;
      },
      60_000,
    );
    assert.ok(afterFirst.progress!.etaS !== null && afterFirst.progress!.etaS > 0, 'an ETA after the first trial');
    await panel.receive({ type: SweepMessages.stop });
    const stopped = await runs.whenDone(first.id);
    assert.equal(stopped.state, 'stopped');
    const manifestAfterStop = readManifest(first.sweepDir!);
    const finishedBefore = manifestAfterStop.filter((t) => t.status === 'finished').length;
    assert.ok(finishedBefore >= 1 && finishedBefore < 4, `${finishedBefore} trials finished before the stop`);
    // Nothing lost: the trial the stop reached is 'stopped' (checkpointed); the rest stay queued. Should the running
    // trial still have finished before the stop reached it, the stop lands between trials and none is 'stopped'.
    const unfinished = manifestAfterStop.filter((t) => t.status !== 'finished').map((t) => t.status);
    assert.ok(
      unfinished.every((s) => s === 'stopped' || s === 'queued') &&
        unfinished.filter((s) => s === 'stopped').length <= 1,
      `after the stop, unfinished trials are stopped or queued: ${unfinished.join(', ')}`,
    );
    const stoppedTrial = manifestAfterStop.find((t) => t.status === 'stopped');
    if (!stoppedTrial) console.log('        note: the stop landed between trials');
    await waitFor(`Resume offered for the ${4 - finishedBefore} unfinished trials`, () => {
      const l = live(panel);
      return l && !l.engine && l.resumeBlocked === null && l.unfinished === 4 - finishedBefore;
    });

    // Resume through the command, as the palette does; the panel follows the new engine.
    const second = await vscode.commands.executeCommand<Session | undefined>('ladderLab.resumeSweep', first.sweepDir);
    assert.ok(second, 'Resume Sweep started an engine');
    assert.equal(second.sweepDir, first.sweepDir);
    await waitFor('the resumed sweep followed', () => live(panel)?.engine === 'running');
    const ended = await runs.whenDone(second.id);
    assert.equal(ended.state, 'finished');
    const manifest = readManifest(first.sweepDir!);
    assert.deepEqual(
      manifest.map((t) => t.status),
      ['finished', 'finished', 'finished', 'finished'],
    );
    // A trial is never run twice: finished ones kept their run folder, the stopped one continued in its own.
    for (const t of manifestAfterStop.filter((x) => x.status === 'finished' || x.status === 'stopped'))
      assert.equal(manifest.find((m) => m.trial_id === t.trial_id)!.run_id, t.run_id);
    const results = JSON.parse(readFileSync(path.join(first.sweepDir!, 'results.json'), 'utf8')) as {
      points: { point: { r: number }; n: number; mean: { score: number } }[];
    };
    // The engine writes the manifest (every trial finished) before it rewrites results.json, so a refresh in between
    // shows 4 finished beside the results from the stop (one seed for a point); the rewrite brings a refresh of its own.
    const state = await waitFor('the panel shows every trial finished and the results', () => {
      const s = panel.lastState;
      return s && s.counts.finished === 4 && s.table.rows.length === 2 && s.table.rows.every((r) => r.n === 2)
        ? s
        : undefined;
    });
    state.table.rows.forEach((row, i) => {
      const point = results.points.find((p) => `LST r=${p.point.r}` === row.label);
      assert.ok(point, `results.json has the panel's row ${row.label} (${i})`);
      assert.equal(point.n, 2);
      assert.equal(row.n, 2);
      assert.ok(Math.abs(row.scores[0]!.mean - point.mean.score) < 1e-9, `${row.label}: mean`);
    });
    const done = await waitFor('Resume no longer offered', () => {
      const l = live(panel);
      return l && !l.engine && l.unfinished === 0 ? l : undefined;
    });
    assert.match(done.resumeBlocked ?? '', /no unfinished trial/);
    assert.ok(
      lives.some((l) => l.progress?.running?.step),
      'step progress of the running trial was posted',
    );
  } finally {
    await runs.stop().catch(() => undefined);
    await config.update('backend', undefined, vscode.ConfigurationTarget.Workspace);
    panels.sweep()?.dispose();
  }
}, 90_000);

function readManifest(sweepDir: string): { trial_id: string; status: string; run_id: string | null }[] {
  return (
    JSON.parse(readFileSync(path.join(sweepDir, 'manifest.json'), 'utf8')) as {
      trials: { trial_id: string; status: string; run_id: string | null }[];
    }
  ).trials;
}

test('Run on a file whose sweep grid the engine refuses: the session fails with its message naming the field, no sweep folder', async () => {
  const { runs, panels } = await api();
  const runsDir = path.join(workspaceDir(), DEFAULT_RUNS_DIR);
  const before = (await listSweepFolders(runsDir)).length;
  const panelBefore = panels.sweep();
  const file = path.join(workspaceDir(), 'refused-sweep.ladder.json');
  writeFileSync(
    file,
    JSON.stringify({ backbone: 'preset:bert-tiny', task: 'sst2', methods: ['lst'], sweep: { grid: { rr: [4, 8] } } }),
  );
  // The default backend: the engine takes `--backend auto` (an argument it did not know would end in its usage
  // message, not in the bad_input event below).
  assert.equal(vscode.workspace.getConfiguration('ladderLab.sweep').get('backend'), 'auto');
  const session = await vscode.commands.executeCommand<Session | undefined>(
    'ladderLab.runExperiment',
    vscode.Uri.file(file),
  );
  assert.ok(session, 'the file itself is fine: the engine starts and checks the grid');
  assert.equal(session.kind, 'sweep');
  const ended = await runs.whenDone(session.id);
  assert.equal(ended.state, 'failed');
  const error = ended.events.find((e) => e.type === 'error');
  assert.ok(error?.type === 'error', 'the engine said why');
  assert.equal(error.kind, 'bad_input');
  assert.match(error.message, /sweep\.grid\.rr: unknown field 'rr'/);
  assert.match(error.hint ?? '', /known fields: .*\br\b/);
  assert.equal(ended.sweepDir, undefined);
  assert.equal((await listSweepFolders(runsDir)).length, before, 'nothing was created');
  assert.equal(panels.sweep(), panelBefore, 'no sweep panel opened');
}, 30_000);
