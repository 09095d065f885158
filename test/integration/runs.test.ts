// Real engine runs from the extension host: a tiny comparison to the end, a stopped run, the guard for
// untrusted workspaces. The engine is the repository's .venv (ladderLab.pythonPath in the workspace settings).
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineEvent } from '../../protocol/events';
import { engineSubcommands } from '../../src/engine/environment';
import { findPython } from '../../src/engine/python';
import { launchBlockedReason } from '../../src/runs/launchChecks';
import { RunManager } from '../../src/runs/runManager';
import type { Session } from '../../src/runs/types';
import { api, packageJson, repoRoot, waitForState, writeExperiment } from './context';
import { test, waitFor } from './harness';
import { spyOnProcesses } from './processSpy';

let finishedRunId: string | undefined;

test('Run Comparison on a tiny experiment finishes, and its run shows in listRuns, the tree, CodeLens and hover', async () => {
  const { runs, runsTree, statusBar } = await api();
  const uri = writeExperiment('tiny.ladder.json', { methods: ['lst'] });
  const seen: EngineEvent[] = [];
  const statusTexts = new Set<string>();
  const sub = runs.onDidEvent(({ event }) => {
    seen.push(event);
    if (event.type === 'train_step') statusTexts.add(statusBar.text);
  });
  try {
    const session = await vscode.commands.executeCommand<Session>('ladderLab.runComparison', uri);
    assert.ok(session, 'the command did not start a session (see the Ladder Lab output)');
    assert.deepEqual(session.methods, ['lst']);
    assert.equal(runs.activeSession()?.id, session.id);
    await waitForState(session, ['finished', 'failed', 'stopped'], 120_000);
    assert.equal(
      session.state,
      'finished',
      `engine ended ${session.state}; events: ${session.events.map((e) => e.type).join(',')}`,
    );
    // Session.events keeps everything for replay, in order, the same events onDidEvent delivered.
    assert.deepEqual(session.events, seen);
    const types = session.events.map((e) => e.type);
    assert.equal(types[0], 'run_started');
    assert.ok(types.includes('train_step') && types.includes('evaluation'));
    assert.equal(types[types.length - 1], 'run_finished');
    assert.ok(
      [...statusTexts].some((t) => /^\$\(sync~spin\) LST step \d+\/\d+ · [\d.]+ MiB$/.test(t)),
      `status bar: ${[...statusTexts].join(' | ')}`,
    );
    assert.equal(statusBar.text, '', 'the status bar item hides after the run');

    const started = session.events[0] as Extract<EngineEvent, { type: 'run_started' }>;
    finishedRunId = started.run_id;
    const record = (await runs.listRuns()).find((r) => r.id === started.run_id);
    assert.ok(record, 'the run is not in listRuns()');
    assert.equal(record.status, 'finished');
    assert.equal(record.method, 'lst');
    assert.equal(typeof record.summary?.metrics.score, 'number');

    const item = await runsTree.findRun(started.run_id);
    assert.ok(item, 'the run is not in the Runs tree');
    const treeItem = runsTree.getTreeItem(item);
    assert.equal(treeItem.label, 'LST r=8', 'named by its label: the method and its identity settings');
    // Grouped: experiment file > comparison > run.
    const comparison = runsTree.getParent(item)!;
    assert.equal(comparison.level, 'comparison');
    assert.equal(runsTree.getParent(comparison)?.title, 'tiny.ladder.json');
    assert.match(String(treeItem.description), /^score \d+\.\d · [\d.]+ MiB \(acct\)$/);
    assert.equal((treeItem.iconPath as vscode.ThemeIcon).id, 'pass');
    assert.equal(treeItem.contextValue, 'run.finished');

    const score = record.summary!.metrics.score.toFixed(1);
    // The provider commands run in the workbench on an open model: open the document first.
    const doc = await vscode.workspace.openTextDocument(uri);
    const lenses = await waitFor(
      'the results CodeLens',
      async () => {
        const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10);
        return l.some((x) => x.command?.title === `LST r=8 ${score}`) ? l : undefined;
      },
      10_000,
    );
    const titles = lenses.map((l) => l.command?.title);
    assert.ok(titles.includes('$(play) Run comparison'), titles.join(', '));
    // "Estimate memory" only if the engine has an `estimate` subcommand (this repository's engine has one).
    const python = (await findPython(vscode.workspace.workspaceFolders![0])).path;
    const engineHasEstimate = (await engineSubcommands(python)).includes('estimate');
    assert.ok(engineHasEstimate, 'the engine lists its estimate subcommand');
    await waitFor(
      'the Estimate memory lens to follow the engine',
      async () => {
        const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10);
        return l.some((x) => x.command?.title.includes('Estimate memory')) === engineHasEstimate;
      },
      10_000,
    );

    const line = doc
      .getText()
      .split('\n')
      .findIndex((l) => l.includes('"methods"'));
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      uri,
      new vscode.Position(line, 5),
    );
    const md = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(md, /\| method \| score \|/);
    assert.match(md, new RegExp(`\\| LST r=8 \\| ${score.replace('.', '\\.')} \\|`));
  } finally {
    sub.dispose();
  }
}, 150_000);

test('Stop Run stops a running comparison; its run is then interrupted, not running', async () => {
  const { runs } = await api();
  // Many steps (batch 1, 200 epochs): it would run for minutes if the stop failed.
  const uri = writeExperiment('long.ladder.json', { methods: ['lora'], batch_size: 1, epochs: 200 });
  const session = await vscode.commands.executeCommand<Session>('ladderLab.runComparison', uri);
  assert.ok(session, 'the command did not start a session');
  await waitFor('the first train step', () => session.events.some((e) => e.type === 'train_step'), 90_000);
  const runId = (session.events[0] as Extract<EngineEvent, { type: 'run_started' }>).run_id;
  const running = (await runs.listRuns()).find((r) => r.id === runId);
  assert.equal(running?.status, 'running');
  // A running run cannot be deleted, even when the confirmation is given.
  assert.equal(await vscode.commands.executeCommand('ladderLab.deleteRun', running, true), false);
  assert.ok(existsSync(running.dir), 'the running run folder is still there');

  const t0 = Date.now();
  await vscode.commands.executeCommand('ladderLab.stopRun');
  await waitForState(session, ['stopped', 'finished', 'failed'], 30_000);
  assert.equal(session.state, 'stopped');
  assert.ok(Date.now() - t0 < 15_000, `stopping took ${Date.now() - t0} ms`);
  assert.equal(runs.activeSession(), undefined);
  const record = (await runs.listRuns()).find((r) => r.id === runId);
  assert.equal(record?.status, 'interrupted');
  assert.ok(record?.lastStep && record.lastStep.step < record.lastStep.totalSteps);
  // Stopped, it can be deleted: the folder goes, and so does the tree's item.
  assert.equal(await vscode.commands.executeCommand('ladderLab.deleteRun', record, true), true);
  assert.ok(!existsSync(record.dir), 'the run folder was removed');
  assert.equal(await api().then((a) => a.runsTree.findRun(runId)), undefined);
}, 120_000);

test('Rename Run names a run in its folder (label.json); the tree shows it; an empty name restores the label', async () => {
  const { runsTree } = await api();
  assert.ok(finishedRunId, 'needs the finished run of the first test');
  const item = (await runsTree.findRun(finishedRunId))!;
  await vscode.commands.executeCommand('ladderLab.renameRun', item, 'baseline, seed 42');
  assert.deepEqual(JSON.parse(readFileSync(path.join(item.dir, 'label.json'), 'utf8')), { label: 'baseline, seed 42' });
  const renamed = await waitFor('the new name in the tree', async () => {
    const node = await runsTree.findRun(finishedRunId!);
    return node && runsTree.getTreeItem(node).label === 'baseline, seed 42' ? node : undefined;
  });
  assert.equal(renamed.userLabel, 'baseline, seed 42');
  await vscode.commands.executeCommand('ladderLab.renameRun', renamed, '');
  assert.ok(!existsSync(path.join(item.dir, 'label.json')));
  await waitFor('the label again', async () => {
    const node = await runsTree.findRun(finishedRunId!);
    return node && runsTree.getTreeItem(node).label === 'LST r=8';
  });
});

test('an invalid experiment file is refused before any process starts, naming the field', async () => {
  const { runs } = await api();
  const uri = writeExperiment('bad.ladder.json', { r: 100 });
  const before = runs.sessions().length;
  await assert.rejects(runs.startComparison(uri.fsPath), /bad\.ladder\.json: r: must be at most 64/);
  assert.equal(runs.sessions().length, before);
});

test('a bad r never starts an engine: the file is marked on r, and Run refuses with the message', async () => {
  const { runs } = await api();
  // bert-tiny: hidden 64, 4 heads. r=32 gives a side width of 2, which 4 heads cannot split: every field is
  // valid on its own, only the backbone's shape makes it wrong; the engine would refuse it (backbone_rules.py).
  const uri = writeExperiment('bad-r.ladder.json', { methods: ['lora', 'lst'], r: 32, keep_layers: [1, 4] });
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc);
  const diagnostics = await waitFor('diagnostics on bad-r.ladder.json', () => {
    const found = vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Ladder Lab');
    return found.length === 2 ? found : undefined;
  });
  const marked = Object.fromEntries(diagnostics.map((d) => [d.code as string, doc.getText(d.range)]));
  assert.deepEqual(marked, { r: '"r": 32', keep_layers: '"keep_layers": [\n    1,\n    4\n  ]' });
  assert.ok(diagnostics.every((d) => d.severity === vscode.DiagnosticSeverity.Error));
  assert.match(
    diagnostics.find((d) => d.code === 'r')!.message,
    /side attention width 2 \(= 64\/r\) is not divisible by 4 heads/,
  );

  const before = runs.sessions().length;
  const spy = spyOnProcesses(repoRoot());
  try {
    assert.equal(await vscode.commands.executeCommand('ladderLab.runComparison', uri), undefined);
    await assert.rejects(
      runs.startComparison(uri.fsPath),
      /bad-r\.ladder\.json: keep_layers \[4\] out of range: the backbone has 4 layers per stack; .*r: the side attention width 2/,
    );
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    spy.restore();
  }
  assert.deepEqual(spy.calls, [], 'no process started: not the engine, not even the interpreter check');
  assert.equal(runs.sessions().length, before);

  // Fixed in the file, the marks go.
  writeExperiment('bad-r.ladder.json', { methods: ['lora', 'lst'], r: 8, keep_layers: [1, 3] });
  await waitFor('the diagnostics to clear', () => vscode.languages.getDiagnostics(uri).length === 0 || undefined);
  await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
});

// This pass's workspace is trusted; untrusted.test.ts runs in a real Restricted Mode workspace. Here the guard is
// checked on a RunManager whose trust check says "untrusted", against the real runs made above.
test('the trust guard: nothing launches, not even the interpreter lookup, but results are still listed', async () => {
  assert.equal(packageJson().capabilities.untrustedWorkspaces.supported, 'limited');
  assert.match(launchBlockedReason(false)!, /Restricted Mode/);
  assert.equal(launchBlockedReason(true), undefined);
  const logged: string[] = [];
  const log = {
    info: (m: string) => logged.push(m),
    warn: (m: string) => logged.push(m),
    error: (m: string) => logged.push(m),
  };
  let pythonAsked = false;
  const untrusted = new RunManager({
    log,
    isTrusted: () => false,
    findPython: () => {
      pythonAsked = true;
      return Promise.resolve('python3');
    },
  });
  try {
    const uri = writeExperiment('untrusted.ladder.json', { methods: ['lst'] });
    await assert.rejects(untrusted.startComparison(uri.fsPath), /Restricted Mode/);
    assert.equal(untrusted.sessions().length, 0);
    assert.equal(pythonAsked, false, 'not even the interpreter lookup runs');
    const listed = await untrusted.listRuns();
    assert.ok(
      finishedRunId && listed.some((r) => r.id === finishedRunId && r.status === 'finished'),
      'results are still listed',
    );
  } finally {
    untrusted.dispose();
  }
});
