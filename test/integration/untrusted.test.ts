// Run in a workspace that is NOT trusted (Restricted Mode): the runner's second code-server pass, with workspace
// trust on. The extension still activates ("limited" support), lists results, and launches nothing.
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineEvent } from '../../protocol/events';
import { compareArgs, EngineWorker, isProcessAlive } from '../../src/engine/worker';
import { RunManager } from '../../src/runs/runManager';
import { writeJsonAtomic } from '../../src/runs/sessionFiles';
import type { Session } from '../../src/runs/types';
import { api, repoRoot, workspaceDir, writeExperiment } from './context';
import { test, waitFor } from './harness';
import { spyOnProcesses } from './processSpy';

const suite = 'untrusted' as const;

/** The run an event line of the engine's fixture belongs to. */
const runIdOf = (line: string) => (JSON.parse(line) as Pick<EngineEvent, 'run_id'>).run_id;

test(
  'the workspace is in Restricted Mode and the extension is active',
  async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'the runner should have opened an untrusted workspace');
    assert.ok((await api()).runs);
  },
  30_000,
  suite,
);

test(
  'results already on disk are listed',
  async () => {
    // One finished run, made from the engine's recorded event fixture.
    const lines = readFileSync(path.join(repoRoot(), 'engine/tests/fixtures/events/compare-lst-lora.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const id = runIdOf(lines[0])!;
    const dir = path.join(workspaceDir(), '.ladderlab/runs', id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ method: 'lst' }));
    writeFileSync(path.join(dir, 'events.jsonl'), lines.filter((l) => runIdOf(l) === id).join('\n') + '\n');
    const { runs, runsTree } = await api();
    const record = (await runs.listRuns()).find((r) => r.id === id);
    assert.equal(record?.status, 'finished');
    assert.ok(await runsTree.findRun(id));
  },
  30_000,
  suite,
);

test(
  'Run Comparison launches nothing and says why',
  async () => {
    const { runs } = await api();
    const uri = writeExperiment('tiny.ladder.json', { methods: ['lst'] });
    const session = await vscode.commands.executeCommand<Session | undefined>('ladderLab.runComparison', uri);
    assert.equal(session, undefined);
    assert.equal(runs.sessions().length, 0);
    await assert.rejects(runs.startComparison(uri.fsPath), /Restricted Mode/);
    assert.equal(runs.sessions().length, 0);
  },
  30_000,
  suite,
);

test(
  'Resume, Run, Estimate and Stop are refused and spawn no process',
  async () => {
    const { runs } = await api();
    // An interrupted run with a checkpoint: everything Resume would need, were the workspace trusted.
    const lines = readFileSync(path.join(repoRoot(), 'engine/tests/fixtures/events/compare-lst-lora.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const id = runIdOf(lines[0])!;
    const partial = lines.filter((l) => runIdOf(l) === id && !/run_finished|"split":"test"/.test(l));
    const interruptedId = id.replace(/-[0-9a-f]+$/, '-beef');
    const dir = path.join(workspaceDir(), '.ladderlab/runs', interruptedId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ method: 'lst' }));
    writeFileSync(path.join(dir, 'events.jsonl'), partial.map((l) => l.replace(id, interruptedId)).join('\n') + '\n');
    writeFileSync(path.join(dir, 'checkpoint.pt'), 'not really a checkpoint');
    const record = (await runs.listRuns()).find((r) => r.id === interruptedId);
    assert.equal(record?.status, 'interrupted');
    assert.equal(record?.resumable, true);

    const spy = spyOnProcesses(repoRoot());
    try {
      const uri = writeExperiment('tiny.ladder.json', { methods: ['lst'] });
      assert.equal(await vscode.commands.executeCommand('ladderLab.runComparison', uri), undefined);
      assert.equal(await vscode.commands.executeCommand('ladderLab.resumeRun', interruptedId), undefined);
      await assert.rejects(runs.resume(interruptedId), /Restricted Mode/);
      await vscode.commands.executeCommand('ladderLab.estimateMemory', uri);
      await vscode.commands.executeCommand('ladderLab.stopRun');
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      spy.restore();
    }
    assert.deepEqual(spy.calls, [], 'no process spawned');
    assert.equal(runs.sessions().length, 0);
  },
  60_000,
  suite,
);

test(
  'an engine left running by a trusted window is shown, but not signalled from Restricted Mode',
  async () => {
    // The test (not the extension) starts a real engine with a session folder, as a trusted window would have.
    const python = path.join(repoRoot(), '.venv/bin/python');
    const runsDir = path.join(workspaceDir(), '.ladderlab/runs');
    const uri = writeExperiment('left-running.ladder.json', { methods: ['lora'], batch_size: 1, epochs: 200 });
    const quiet = { info: () => {}, warn: () => {}, error: () => {} };
    const sessionId = `session-test-${Date.now().toString(36)}`;
    const logDir = path.join(runsDir, '.sessions', sessionId);
    const events: EngineEvent[] = [];
    const worker = EngineWorker.spawn({
      python,
      args: compareArgs(uri.fsPath, runsDir),
      cwd: workspaceDir(),
      logDir,
      log: quiet,
      onEvent: (e) => events.push(e),
      graceMs: 3000,
    });
    try {
      await writeJsonAtomic(path.join(logDir, 'session.json'), {
        version: 1,
        id: sessionId,
        pid: worker.pid,
        kind: 'compare',
        experimentPath: uri.fsPath,
        methods: ['lora'],
        startedAt: Date.now() / 1000,
      });
      await waitFor('a train step', () => events.some((e) => e.type === 'train_step'), 90_000);
      const restricted = new RunManager({ log: quiet });
      try {
        await restricted.ready;
        const attached = restricted.sessions().find((s) => s.id === sessionId);
        assert.ok(attached, 'the running engine is shown');
        await assert.rejects(restricted.stop(sessionId), /Restricted Mode/);
        assert.ok(isProcessAlive(worker.pid!), 'not signalled');
      } finally {
        restricted.dispose();
      }
    } finally {
      await worker.stop();
    }
  },
  120_000,
  suite,
);
