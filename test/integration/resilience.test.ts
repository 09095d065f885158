// Nothing lost, nothing let in: real engine processes killed with SIGKILL, stopped, left running across a
// "window reload" (the RunManager that started them disposed, a new one attaching from the session files),
// out of memory (the engine's test hook raises torch's real OOM inside a step), two started at once.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineEvent } from '../../protocol/events';
import { parseEventsJsonl } from '../../src/runs/runStore';
import { compareArgs, EngineWorker, isProcessAlive } from '../../src/engine/worker';
import { RunManager } from '../../src/runs/runManager';
import type { Session } from '../../src/runs/types';
import { api, workspaceDir, waitForState, writeExperiment } from './context';
import { test, waitFor } from './harness';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const steps = (events: readonly EngineEvent[]) => events.flatMap((e) => (e.type === 'train_step' ? [e.step] : []));
const runIdOf = (events: readonly EngineEvent[]) =>
  (events.find((e) => e.type === 'run_started') as Extract<EngineEvent, { type: 'run_started' }>).run_id;
const fileEvents = (dir: string) => parseEventsJsonl(readFileSync(path.join(dir, 'events.jsonl'), 'utf8'));

/** A comparison started by a first RunManager that lets go of it after `minSteps` train steps, as the extension
 * host of a window that reloads does: the engine goes on, and the test attaches a second RunManager to it. */
async function startInWindowThatReloads(
  file: string,
  values: Record<string, unknown>,
  minSteps: number,
): Promise<{ session: Session; pid: number }> {
  const first = new RunManager({ log: quiet });
  const session = await first.startComparison(writeExperiment(file, values).fsPath);
  await waitFor(`${minSteps} train step(s)`, () => steps(session.events).length >= minSteps, 90_000);
  const pid = first.pidOf(session.id)!;
  first.dispose(); // the old window's extension host lets go
  return { session, pid };
}

test('kill -9 mid-training: the run is interrupted (not running), every event is intact, Resume continues it to the end and the monitor charts it', async () => {
  const { runs, runsTree, panels } = await api();
  const uri = writeExperiment('killed.ladder.json', {
    methods: ['lora'],
    batch_size: 1,
    epochs: 12,
    checkpoint_every: 3,
  });
  const session = await vscode.commands.executeCommand<Session>('ladderLab.runComparison', uri);
  assert.ok(session, 'the command did not start a session');
  await waitFor(
    'a checkpoint and a few steps',
    () => session.events.some((e) => e.type === 'checkpoint_saved') && steps(session.events).length >= 5,
    90_000,
  );
  const pid = runs.pidOf(session.id)!;
  const seenBeforeKill = [...session.events];
  process.kill(-pid, 'SIGKILL');
  await waitForState(session, ['interrupted', 'failed', 'finished', 'stopped'], 20_000);
  assert.equal(session.state, 'interrupted');

  const runId = runIdOf(session.events);
  const record = await waitFor(
    'the run to list as interrupted',
    async () => (await runs.listRuns()).find((r) => r.id === runId && r.status === 'interrupted'),
    10_000,
  );
  assert.equal(record.resumable, true, 'a checkpoint was saved before the kill');
  const onDisk = fileEvents(record.dir);
  assert.equal(onDisk.problem, undefined, 'no bad line in events.jsonl');
  // Every event the host saw before the kill is in the file, in order, unchanged.
  const runEvents = seenBeforeKill.filter((e) => e.run_id === runId);
  assert.deepEqual(onDisk.events.slice(0, runEvents.length), runEvents);
  const item = (await runsTree.findRun(runId))!;
  assert.equal(runsTree.getTreeItem(item).contextValue, 'run.interrupted.resumable');

  await vscode.commands.executeCommand('ladderLab.openMonitor');
  const monitor = await waitFor('the monitor panel', () => panels.monitor(), 10_000);
  const resumed = await vscode.commands.executeCommand<Session>('ladderLab.resumeRun', item);
  assert.ok(resumed, 'Resume did not start a session (see the Ladder Lab output)');
  await waitForState(resumed, ['finished', 'failed', 'stopped', 'interrupted'], 120_000);
  assert.equal(
    resumed.state,
    'finished',
    resumed.events
      .filter((e) => e.type === 'error' || e.type === 'log')
      .map((e) => JSON.stringify(e))
      .join('\n'),
  );
  const restart = resumed.events.filter((e) => e.type === 'run_started').pop() as Extract<
    EngineEvent,
    { type: 'run_started' }
  >;
  assert.ok(restart.resumed, 'the resumed run_started says where it continues');
  const after = steps(resumed.events.slice(resumed.events.indexOf(restart)));
  assert.equal(after[0], restart.resumed.step + 1, 'train steps continue after the checkpoint');
  assert.equal(after[after.length - 1], restart.total_steps);
  assert.equal((await runs.listRuns()).find((r) => r.id === runId)?.status, 'finished');
  // The monitor followed the resume session and charted its steps live.
  await waitFor(
    'monitor posts of the resumed steps',
    () => monitor.posted.some((p) => p.sessionId === resumed.id && p.eventType === 'train_step'),
    10_000,
  );
}, 240_000);

test('window reload: the engine keeps running, a new RunManager attaches from disk, replays and follows it to run_finished', async () => {
  // 40 epochs of a 21-row file at batch 1: long enough (~600 steps) that the run is still training when the
  // second RunManager attaches, even on a fast machine (3 epochs finished first on a quiet CI run)
  const { session, pid } = await startInWindowThatReloads(
    'reload.ladder.json',
    { methods: ['lst'], batch_size: 1, epochs: 40 },
    2,
  );
  const seen = session.events.length;
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(isProcessAlive(pid), 'the engine survived its window');

  const second = new RunManager({ log: quiet });
  const later: EngineEvent[] = [];
  second.onDidEvent(({ event }) => later.push(event));
  try {
    await second.ready;
    const attached = second.sessions().find((s) => s.id === session.id);
    assert.ok(attached, 'the new window found the live session');
    assert.equal(attached.state, 'running');
    assert.equal(second.activeSession()?.id, session.id);
    const runId = runIdOf(attached.events);
    assert.equal((await second.listRuns()).find((r) => r.id === runId)?.status, 'running');
    await waitForState(attached, ['finished', 'failed', 'stopped', 'interrupted'], 120_000);
    assert.equal(attached.state, 'finished');
    // The replay holds what the first window saw; events after the reload arrived live, up to run_finished.
    assert.deepEqual(attached.events.slice(0, seen), session.events.slice(0, seen));
    assert.ok(
      later.some((e) => e.type === 'train_step' && e.step > steps(session.events.slice(0, seen)).pop()!),
      'later steps arrived',
    );
    assert.ok(later.some((e) => e.type === 'run_finished'));
    assert.equal((await second.listRuns()).find((r) => r.id === runId)?.status, 'finished');
  } finally {
    second.dispose();
  }
}, 180_000);

test('Stop works on an attached engine: it finishes the step, checkpoints and exits within seconds; the run is stopped and resumable', async () => {
  const { session, pid } = await startInWindowThatReloads(
    'reload-stop.ladder.json',
    { methods: ['lora'], batch_size: 1, epochs: 200 },
    1,
  );
  const second = new RunManager({ log: quiet });
  try {
    await second.ready;
    const attached = second.sessions().find((s) => s.id === session.id)!;
    assert.ok(attached, 'attached');
    const t0 = Date.now();
    await second.stop(attached.id);
    assert.equal(attached.state, 'stopped');
    assert.ok(Date.now() - t0 < 15_000, `stopping took ${Date.now() - t0} ms`);
    assert.ok(!isProcessAlive(pid));
    const stopped = attached.events.find((e) => e.type === 'run_stopped');
    assert.ok(stopped && stopped.type === 'run_stopped' && stopped.checkpoint, 'run_stopped with a checkpoint');
    const record = (await second.listRuns()).find((r) => r.id === runIdOf(attached.events))!;
    assert.equal(record.status, 'interrupted');
    assert.equal(record.resumable, true);
  } finally {
    second.dispose();
  }
}, 120_000);

test("out of memory: the engine's oom error reaches the session, the monitor and the run record with its hint", async () => {
  const { runs, runsTree, panels } = await api();
  const uri = writeExperiment('oom.ladder.json', { methods: ['lora'], batch_size: 1, epochs: 1 });
  await vscode.commands.executeCommand('ladderLab.openMonitor');
  const monitor = await waitFor('the monitor panel', () => panels.monitor(), 10_000);
  // The engine's test hook raises torch.OutOfMemoryError inside train step 2 (the real OOM path); the spawned
  // engine copies the environment at spawn time, so the variable is removed right after.
  process.env.LADDERLAB_TEST_FAIL_ALLOC_AT_STEP = '2';
  let session: Session;
  try {
    session = await vscode.commands.executeCommand<Session>('ladderLab.runComparison', uri);
  } finally {
    delete process.env.LADDERLAB_TEST_FAIL_ALLOC_AT_STEP;
  }
  assert.ok(session, 'no session');
  await waitForState(session, ['finished', 'failed', 'stopped', 'interrupted'], 90_000);
  assert.equal(session.state, 'failed');
  const error = session.events.find((e) => e.type === 'error');
  assert.ok(error && error.type === 'error' && error.kind === 'oom' && error.hint, JSON.stringify(error));
  assert.ok(
    monitor.posted.some((p) => p.sessionId === session.id && p.eventType === 'error'),
    'the monitor got the error',
  );
  const record = await waitFor(
    'the failed run',
    async () => (await runs.listRuns()).find((r) => r.id === runIdOf(session.events) && r.status === 'failed'),
    10_000,
  );
  assert.equal(record.error?.kind, 'oom');
  assert.equal(record.error?.hint, error.hint);
  assert.equal(runsTree.getTreeItem(record).description, `out of memory — ${error.hint}`);
}, 120_000);

test('two engines started at once never share a run folder', async () => {
  const uri = writeExperiment('twins.ladder.json', { methods: ['bitfit'], max_train_examples: 4, fisher_samples: 2 });
  const runsDir = path.join(workspaceDir(), '.ladderlab', 'twins');
  const python = vscode.workspace.getConfiguration('ladderLab').get<string>('pythonPath')!;
  const started: string[][] = [[], []];
  const workers = [0, 1].map((i) =>
    EngineWorker.spawn({
      python,
      args: compareArgs(uri.fsPath, runsDir),
      cwd: workspaceDir(),
      logDir: path.join(runsDir, '.sessions', `twin-${i}`),
      log: quiet,
      onEvent: (e) => e.type === 'run_started' && started[i].push(e.run_dir),
    }),
  );
  const exits = await Promise.all(workers.map((w) => w.exited));
  assert.deepEqual(
    exits.map((e) => e.code),
    [0, 0],
  );
  assert.equal(started[0].length, 1);
  assert.equal(started[1].length, 1);
  assert.notEqual(started[0][0], started[1][0]);
}, 120_000);
