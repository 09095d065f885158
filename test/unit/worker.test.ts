// The worker's stdout handling (lines split across chunks, bad lines) and its stop sequence, with node standing in
// for Python so the tests need no engine.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { EngineEvent } from '../../protocol/events';
import { EventLineReader, LineSplitter } from '../../src/engine/engineOutput';
import { compareArgs, EngineWorker, type Logger } from '../../src/engine/worker';
import { REPO_ROOT } from './jsonl';

const SAMPLE = readFileSync(path.join(REPO_ROOT, 'test/unit/sample-events.jsonl'), 'utf8');

function recorder() {
  const events: EngineEvent[] = [];
  const warnings: string[] = [];
  const infos: string[] = [];
  const log: Logger = { info: (m) => infos.push(m), warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
  return { events, warnings, infos, log };
}

test('LineSplitter joins lines split across chunks and keeps the remainder', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('{"a":'), []);
  assert.deepEqual(s.push('1}\n{"b"'), ['{"a":1}']);
  assert.deepEqual(s.push(':2}\r\n\n'), ['{"b":2}', '']);
  assert.deepEqual(s.push('tail'), []);
  assert.deepEqual(s.flush(), ['tail']);
  assert.deepEqual(s.flush(), []);
});

test('every chunking of a real event stream yields the same events', () => {
  const expected = SAMPLE.trim().split('\n').length;
  for (const size of [1, 7, 64, 1000, SAMPLE.length]) {
    const r = recorder();
    const reader = new EventLineReader((e) => r.events.push(e), r.log);
    for (let i = 0; i < SAMPLE.length; i += size) reader.push(SAMPLE.slice(i, i + size));
    reader.end();
    assert.equal(r.events.length, expected, `chunk size ${size}`);
    assert.deepEqual(r.warnings, []);
  }
});

test('bad lines become warnings, never exceptions, and do not stop later events', () => {
  const r = recorder();
  const reader = new EventLineReader((e) => r.events.push(e), r.log);
  const [first, second] = SAMPLE.trim().split('\n');
  assert.doesNotThrow(() => {
    reader.push(`Traceback (most recent call last):\n${first}\n{"v":1,"type":"nope","ts":1}\n`);
    reader.push('[1,2]\n\n');
    reader.push(`${second}\n{"v":1,"type":"log"`); // torn: the process died mid-line
    reader.end();
  });
  assert.equal(r.events.length, 2);
  assert.equal(r.warnings.length, 4);
  assert.match(r.warnings[0], /not valid JSON/);
  assert.match(r.warnings[1], /unknown event type "nope"/);
  assert.match(r.warnings[3], /torn or truncated/);
});

test('compareArgs passes the config as one argument (no shell quoting) and the runs dir', () => {
  const args = compareArgs('/w/my "exp" $(x).ladder.json', '/w/.ladderlab/runs');
  assert.deepEqual(args, [
    '-m',
    'ladderlab.cli',
    'compare',
    '--config',
    '/w/my "exp" $(x).ladder.json',
    '--format',
    'events',
    '--runs-dir',
    '/w/.ladderlab/runs',
  ]);
});

// A stand-in engine: prints events in awkward pieces, stderr lines, and handles signals like the script says.
function fakeEngine(script: string, graceMs = 300) {
  const r = recorder();
  const logDir = mkdtempSync(path.join(tmpdir(), 'worker-'));
  const worker = EngineWorker.spawn({
    python: process.execPath,
    args: ['-e', script],
    cwd: REPO_ROOT,
    logDir,
    log: r.log,
    onEvent: (e) => r.events.push(e),
    graceMs,
    pollMs: 20,
  });
  return { r, worker };
}

test('EngineWorker: events from stdout, stderr to the log, HF_HUB_OFFLINE and LADDERLAB_CLIENT set, exit code', async () => {
  const line = JSON.stringify(SAMPLE.trim().split('\n')[0]);
  const { r, worker } = fakeEngine(`
    const l = ${line};
    process.stdout.write(l.slice(0, 10));
    setTimeout(() => { process.stdout.write(l.slice(10) + '\\n'); console.error('warn: ' + process.env.HF_HUB_OFFLINE + ' ' + process.env.LADDERLAB_CLIENT); process.exit(2); }, 50);`);
  const exit = await worker.exited;
  assert.equal(exit.code, 2);
  assert.equal(r.events.length, 1);
  // The engine words its hints for VS Code users only when told so (engine/tests/test_sample_data.py: both wordings).
  assert.deepEqual(r.infos, ['[engine] warn: 1 vscode']);
});

test('EngineWorker.stop: SIGINT is enough for an engine that handles it', async () => {
  const { r, worker } = fakeEngine(
    `process.on('SIGINT', () => { console.error('interrupted'); process.exit(130); }); console.error('ready'); setInterval(() => {}, 1000);`,
  );
  await waitFor(() => r.infos.includes('[engine] ready'));
  const exit = await worker.stop();
  assert.equal(exit.code, 130);
  assert.ok(r.infos.includes('[engine] interrupted'));
});

test('EngineWorker.stop: SIGTERM, then SIGKILL, for an engine that ignores the politer signals', async () => {
  const { r, worker } = fakeEngine(
    `process.on('SIGINT', () => {}); process.on('SIGTERM', () => {}); console.error('ready'); setInterval(() => {}, 1000);`,
    200,
  );
  await waitFor(() => r.infos.includes('[engine] ready'));
  const t0 = Date.now();
  const exit = await worker.stop();
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 >= 400, 'waited a grace period after SIGINT and after SIGTERM');
});

test('EngineWorker: a missing interpreter is reported, not thrown', async () => {
  const r = recorder();
  const worker = EngineWorker.spawn({
    python: '/nonexistent/python',
    args: [],
    cwd: REPO_ROOT,
    logDir: mkdtempSync(path.join(tmpdir(), 'worker-')),
    log: r.log,
    onEvent: () => {},
  });
  const exit = await worker.exited;
  assert.match(exit.spawnError!, /cannot start \/nonexistent\/python/);
  assert.equal((await worker.stop()).spawnError, exit.spawnError);
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
