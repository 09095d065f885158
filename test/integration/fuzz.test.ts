// Webview messages are untrusted input. The same seeded hostile messages as the unit fuzz (test/unit/fuzzMessages.ts),
// plus well-formed ones the host must still refuse (a Stop for a session the panel does not show, a Resume for a
// run it did not offer, paths outside the workspace or through a symlink out of it), go through the REAL
// handlers of the Experiment view, the Run Monitor, the Results panel and Try Model (on a classification run, when the
// suite has finished one): the very method onDidReceiveMessage
// calls. Nothing may act: no process spawned, no command executed, no file written, no session started, no
// Object.prototype pollution, and no handler throws.
import * as assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ExperimentMessages } from '../../protocol/webviews/experiment';
import { MonitorMessages } from '../../protocol/webviews/monitor';
import { ResultsMessages } from '../../protocol/webviews/results';
import { TryMessages } from '../../protocol/webviews/try';
import { describe, hostileMessages } from '../unit/fuzzMessages';
import { api, repoRoot, workspaceDir } from './context';
import { childProcess, spyOnProcesses } from './processSpy';
import { test, waitFor } from './harness';

const SEED = 5150;
const COUNT = 1200;

/** Every file and folder under dir with its size and mtime: a write anywhere changes this. */
function snapshot(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const s = lstatSync(p);
    out.set(p, `${s.size}:${s.mtimeMs}`);
    if (s.isDirectory() && !s.isSymbolicLink()) snapshot(p, out);
  }
  return out;
}

test(`fuzz: ${COUNT} hostile + 9 well-formed-but-refused webview messages x the real panel handlers (seed ${SEED}): the host neither crashes nor acts`, async () => {
  const { runs, panels } = await api();
  await vscode.commands.executeCommand('ladderLab.openMonitor');
  await vscode.commands.executeCommand('ladderLab.openResults');
  const monitor = await waitFor('the monitor panel', () => panels.monitor(), 15_000);
  const results = await waitFor('the results panel', () => panels.results(), 15_000);
  const ws = workspaceDir();
  const link = path.join(ws, 'escape-link');
  if (!existsSync(link)) symlinkSync('/etc', link);
  const finished = (await runs.listRuns()).find((r) => r.status === 'finished');
  // Try Model on a classification run: its webview's first ready loads (no export yet: nothing spawned) before the spies.
  const classifier = (await runs.listRuns()).find((r) => r.status === 'finished' && r.config?.task !== 'instruct');
  if (classifier) await vscode.commands.executeCommand('ladderLab.tryModel', classifier.id);
  const tryPanel = classifier
    ? await waitFor(
        'the Try Model panel',
        () => (panels.tryModel()?.shownState.status !== 'busy' ? panels.tryModel() : undefined),
        15_000,
      )
    : undefined;
  await new Promise((r) => setTimeout(r, 1500)); // let the panels' own first refreshes settle

  const refused: unknown[] = [
    { type: MonitorMessages.stop, sessionId: 'session-not-shown-1' },
    { type: MonitorMessages.resume, runId: finished?.id ?? '20261126-221135-lst-d49c' },
    { type: MonitorMessages.resume, runId: '20261126-221135-lora-0000' },
    { type: ExperimentMessages.update, patch: { data: '/etc/passwd' } },
    { type: ExperimentMessages.update, patch: { backbone: '/root' } },
    // Absolute, so the link is the one in the workspace whichever file (folder) the form shows.
    { type: ExperimentMessages.update, patch: { data: path.join(link, 'passwd') } },
    { type: ExperimentMessages.update, patch: { backbone: link } },
    { type: ExperimentMessages.update, patch: { r: 4, data: '../../etc/passwd' } }, // ".." parses; the host refuses
    { type: TryMessages.generate, prompt: 'question 1' }, // a classification run's panel starts no engine
  ];
  const hostile = hostileMessages(SEED, COUNT).map((m) => m.message);
  const messages = [...hostile, ...refused];
  assert.equal(refused.length, 9, 'the test name states 9');
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  const sessionsBefore = runs.sessions().length;
  const filesBefore = snapshot(ws);
  const commands: string[] = [];
  const originalExecute = vscode.commands.executeCommand;
  let commandsSpied = true;
  try {
    (vscode.commands as { executeCommand: unknown }).executeCommand = (id: string, ...rest: unknown[]) => (
      commands.push(id),
      originalExecute(id, ...rest)
    );
  } catch {
    commandsSpied = false;
  }
  const processes = spyOnProcesses(repoRoot());
  let delivered = 0;
  let fuzzProcesses: string[] = [];
  let fuzzCommands: string[] = [];
  try {
    for (const [i, message] of messages.entries()) {
      for (const [name, handler] of [
        ['experiment', panels.experiment],
        ['monitor', monitor],
        ['results', results],
        ...(tryPanel ? ([['try', tryPanel]] as const) : []),
      ] as const) {
        await assert.doesNotReject(
          Promise.resolve().then(() => handler.receive(message)),
          `${name} threw on #${i}: ${describe(message)}`,
        );
        delivered++;
      }
    }
    await new Promise((r) => setTimeout(r, 1000)); // anything started asynchronously would show by now
    fuzzProcesses = [...processes.calls];
    fuzzCommands = [...commands];
    // The spies are live: a launch and a command made now are seen.
    childProcess.execFileSync(process.execPath, ['-e', '0']);
    await vscode.commands.executeCommand('ladderLab.refreshRuns');
    assert.ok(
      processes.all.some((c) => c.call.startsWith(`execFileSync ${process.execPath}`)),
      'the process spy sees launches',
    );
    if (commandsSpied)
      assert.ok(commands.includes('ladderLab.refreshRuns'), `the command spy sees commands: ${commands.join('; ')}`);
  } finally {
    processes.restore();
    (vscode.commands as { executeCommand: unknown }).executeCommand = originalExecute;
  }
  assert.deepEqual(fuzzProcesses, [], 'no process spawned');
  if (commandsSpied) assert.deepEqual(fuzzCommands, [], 'no command executed');
  assert.equal(runs.sessions().length, sessionsBefore, 'no session started');
  const filesAfter = snapshot(ws);
  const changed = [...new Set([...filesBefore.keys(), ...filesAfter.keys()])].filter(
    (p) => filesBefore.get(p) !== filesAfter.get(p),
  );
  assert.deepEqual(changed, [], 'no file written');
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), protoKeys);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  console.log(
    `fuzzed ${messages.length} messages (${hostile.length} hostile, seed ${SEED}; ${refused.length} well-formed but refused) into ${tryPanel ? 4 : 3} handlers = ${delivered} deliveries; command spy ${commandsSpied ? 'on' : 'unavailable'}`,
  );
  // The seam is the live path: a valid message through it does act (Ready makes the monitor post its state; with no
  // session in memory, as when this test runs alone, that state is read from disk first, so it comes a moment later).
  const posts = monitor.posted.length;
  await monitor.receive({ type: MonitorMessages.ready });
  await waitFor('a valid message through the same handler to be acted on', () => monitor.posted.length > posts, 5000);
  await results.receive({ type: ResultsMessages.selectLatest });
  if (tryPanel) {
    assert.equal(tryPanel.lastGenerated?.ok, false, 'try/generate on a classification run is answered with an error');
    assert.match(tryPanel.lastGenerated?.error ?? '', /not a causal-LM run/);
    tryPanel.dispose();
  }
}, 240_000);
