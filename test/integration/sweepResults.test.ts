// A sweep as one result in the real VS Code: a real sweep's runs folder (test/unit/fixtures/sweep-figures/figure7,
// made by `ladderlab sweep`: 8 trial run folders and the sweep folder) put into the workspace's runs folder. The Results
// panel posts one Sweeps row for it (best point and Pareto front, checked against the trials' summary.json) and no
// trial among its runs until "Show the sweeps' trials" is ticked; the experiment file's CodeLens and the Runs tree say
// the same sweep in one line and one node.
import * as assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ResultsMessages } from '../../protocol/webviews/results';
import { SHOW_RESULTS_COMMAND } from '../../src/panels';
import { DEFAULT_RUNS_DIR } from '../../src/runs/runsDir';
import { isRunGroup } from '../../src/runs/runText';
import { api, repoRoot, workspaceDir } from './context';
import { test, waitFor } from './harness';

test('Results, the CodeLens and the Runs tree show a real sweep as one result, not its 8 trials', async () => {
  const { panels, runs, runsTree } = await api();
  const fixture = path.join(repoRoot(), 'test/unit/fixtures/sweep-figures/figure7');
  const runsDir = path.join(workspaceDir(), DEFAULT_RUNS_DIR);
  const [sweepId] = readdirSync(path.join(fixture, 'sweeps'));
  const trialIds = readdirSync(fixture).filter((d) => d !== 'sweeps');
  const sweepDir = path.join(runsDir, 'sweeps', sweepId);
  const file = path.join(workspaceDir(), 'figure7.ladder.json');
  try {
    cpSync(path.join(repoRoot(), 'test/unit/fixtures/sweep-figures/figure7.ladder.json'), file);
    for (const id of trialIds) cpSync(path.join(fixture, id), path.join(runsDir, id), { recursive: true });
    cpSync(path.join(fixture, 'sweeps', sweepId), sweepDir, { recursive: true });
    // The engine records the experiment file's absolute path (the fixture keeps it relative to its folder).
    const manifestFile = path.join(sweepDir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, experiment_file: file }));
    await waitFor(
      'the trials in the run store',
      async () => {
        const ids = new Set((await runs.listRuns()).map((r) => r.id));
        return trialIds.every((id) => ids.has(id));
      },
      10_000,
    );

    // The best point by the trials' own scores: mean over the two seeds, ties to less memory.
    const trials = trialIds.map((id) => {
      const read = (f: string): unknown => JSON.parse(readFileSync(path.join(fixture, id, f), 'utf8'));
      const config = read('config.json') as { sweep: { point: Record<string, unknown> } };
      const summary = read('summary.json') as { metrics: { score: number }; memory: { accounted_bytes: number } };
      return { point: JSON.stringify(config.sweep.point), score: summary.metrics.score, peak: summary.memory };
    });
    const points = [...new Set(trials.map((t) => t.point))].map((p) => {
      const at = trials.filter((t) => t.point === p);
      return { mean: at.reduce((a, t) => a + t.score, 0) / at.length, peak: at[0].peak.accounted_bytes };
    });
    const best = points.sort((a, b) => b.mean - a.mean || a.peak - b.peak)[0];

    await vscode.commands.executeCommand(SHOW_RESULTS_COMMAND);
    const panel = await waitFor('the results panel', () => panels.results(), 10_000);
    await panel.receive({ type: ResultsMessages.ready });
    const state = await waitFor(
      'a Sweeps row for the sweep',
      () => (panel.lastState?.sweeps.some((s) => s.sweepId === sweepId) ? panel.lastState : undefined),
      10_000,
    );
    const rows = state.sweeps.filter((s) => s.sweepId === sweepId);
    assert.equal(rows.length, 1, 'one row for the sweep');
    const [row] = rows;
    assert.equal(row.trials, 8);
    assert.equal(row.finished, 8);
    assert.equal(row.problem, null);
    assert.ok(row.best && Math.abs(row.best.score - best.mean) < 1e-9, `best ${row.best?.score} vs ${best.mean}`);
    assert.equal(row.best.peakBytes, best.peak);
    const results = JSON.parse(readFileSync(path.join(sweepDir, 'results.json'), 'utf8')) as { pareto: unknown[] };
    assert.equal(row.paretoSize, results.pareto.length);
    const trialSet = new Set(trialIds);
    assert.ok(!state.choices.some((c) => trialSet.has(c.id)), 'no trial among the runs to choose');
    assert.ok(!state.table.rows.some((r) => trialSet.has(r.runId)), 'no trial row in the runs table');

    // Ticked: the trials are runs again (to compare one by one); unticked: one row again.
    await panel.receive({ type: ResultsMessages.showTrials, show: true });
    const shown = await waitFor('the trials among the choices', () =>
      panel.lastState?.showTrials && trialIds.every((id) => panel.lastState!.choices.some((c) => c.id === id))
        ? panel.lastState
        : undefined,
    );
    assert.equal(shown.sweeps.filter((s) => s.sweepId === sweepId).length, 1);
    await panel.receive({ type: ResultsMessages.showTrials, show: false });
    assert.ok(!panel.lastState!.choices.some((c) => trialSet.has(c.id)));

    // The CodeLens of the file the sweep came from: one line for the whole sweep.
    const uri = vscode.Uri.file(file);
    await vscode.workspace.openTextDocument(uri);
    const want = `$(graph) sweep 8 trials · best ${row.best.label} ${best.mean.toFixed(1)} · Pareto: ${row.paretoSize} point${row.paretoSize === 1 ? '' : 's'}`;
    const lens = await waitFor(
      `the sweep CodeLens "${want}"`,
      async () => {
        const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10);
        return l.find((x) => x.command?.title === want);
      },
      10_000,
    );
    assert.equal(lens.command?.command, 'ladderLab.openSweep');
    assert.deepEqual(lens.command?.arguments, [sweepDir]);

    // The Runs tree: one sweep node holding the 8 trials.
    const top = await runsTree.getChildren();
    const node = top.find((n) => isRunGroup(n) && n.level === 'sweep' && n.id.endsWith(sweepId));
    assert.ok(node && isRunGroup(node), 'a sweep node at the top of the Runs tree');
    assert.deepEqual(node.children.map((c) => c.id).sort(), [...trialIds].sort());
    const item = runsTree.getTreeItem(node);
    assert.equal(item.description, want.replace('$(graph) ', ''));
    assert.deepEqual(item.command?.arguments, [sweepDir], 'a click opens the Sweep panel on its folder');
    const loose = top.filter((n) => !isRunGroup(n) && trialSet.has(n.id));
    assert.deepEqual(loose, [], 'no trial outside its sweep node');
  } finally {
    for (const id of trialIds) rmSync(path.join(runsDir, id), { recursive: true, force: true });
    rmSync(sweepDir, { recursive: true, force: true });
    rmSync(file, { force: true });
  }
}, 60_000);
