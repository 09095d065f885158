// The run store: status rules, torn and corrupt files, sorting, and reading real folders from disk.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  parseEventsJsonl,
  parseRunId,
  readRunEvents,
  readRuns,
  recordFromFiles,
  RunReader,
  runTiming,
  sortRuns,
  writeUserLabel,
  type RunFiles,
} from '../../src/runs/runStore';
import { eventOf, REPO_ROOT } from './jsonl';

// A real comparison's events (two runs: lst then lora), written by the engine's fixture generator.
const FIXTURE = readFileSync(path.join(REPO_ROOT, 'engine/tests/fixtures/events/compare-lst-lora.jsonl'), 'utf8');
const lines = FIXTURE.trim().split('\n');
const runOf = (id: string) => lines.filter((l) => eventOf(l).run_id === id);
const ids = [...new Set(lines.map((l) => eventOf(l).run_id).filter((id) => id !== undefined))];
const LST = ids[0];
const lstLines = runOf(LST);
const jsonl = (ls: string[]) => ls.map((l) => `${l}\n`).join('');
const CONFIG = JSON.stringify({ method: 'lst', task: 'sst2' });

function files(events: string, extra: RunFiles = {}): RunFiles {
  return { 'config.json': CONFIG, 'events.jsonl': events, ...extra };
}

test('the fixture has the runs this test relies on', () => {
  assert.equal(ids.length, 2);
  assert.ok(lstLines.some((l) => l.includes('"run_finished"')));
});

test('a run with run_finished is finished, with its summary, start time and last step', () => {
  const r = recordFromFiles(LST, `/runs/${LST}`, files(jsonl(lstLines)));
  assert.equal(r.status, 'finished');
  assert.equal(r.method, 'lst');
  assert.equal(r.summary?.method, 'lst');
  assert.equal(typeof r.startedAt, 'number');
  assert.ok(r.lastStep && r.lastStep.step === r.lastStep.totalSteps);
  assert.equal(r.problem, undefined);
});

test('an error event makes a run failed, with the error', () => {
  const err = readFileSync(path.join(REPO_ROOT, 'engine/tests/fixtures/events/bad-input.jsonl'), 'utf8');
  const r = recordFromFiles('20261126-222327-lst-c264', '/d', files(err));
  assert.equal(r.status, 'failed');
  assert.equal(r.error?.kind, 'bad_input');
  assert.match(r.error.message, /does not divide/);
});

test('without a final event: running if a live session owns it, else interrupted', () => {
  const partial = jsonl(lstLines.filter((l) => !/run_finished|"phase":"eval"|"split":"test"/.test(l)));
  assert.equal(recordFromFiles(LST, '/d', files(partial), true).status, 'running');
  const r = recordFromFiles(LST, '/d', files(partial), false);
  assert.equal(r.status, 'interrupted');
  assert.ok(r.lastStep);
});

test('a torn last line (killed mid-write) is skipped, not corrupt', () => {
  const finished = lstLines.findIndex((l) => l.includes('run_finished'));
  const torn = jsonl(lstLines.slice(0, finished)) + lstLines[finished].slice(0, 40); // no final newline
  const parsed = parseEventsJsonl(torn);
  assert.equal(parsed.tornTail, true);
  assert.equal(parsed.problem, undefined);
  const r = recordFromFiles(LST, '/d', files(torn));
  assert.equal(r.status, 'interrupted');
  assert.equal(r.problem, undefined);
});

test('an unterminated but complete last line still counts', () => {
  const text = jsonl(lstLines).replace(/\n$/, '');
  assert.equal(recordFromFiles(LST, '/d', files(text)).status, 'finished');
});

test('a bad line in the middle makes the folder corrupt, naming the line', () => {
  const broken = [...lstLines];
  broken.splice(2, 0, '{"v":1,"type":"train_step"'); // a complete line (newline-terminated) that is not JSON
  const r = recordFromFiles(LST, '/d', files(jsonl(broken)));
  assert.equal(r.status, 'corrupt');
  assert.match(r.problem!, /events\.jsonl line 3/);
});

test('invalid or unreadable JSON files make the folder corrupt', () => {
  assert.match(
    recordFromFiles(LST, '/d', files(jsonl(lstLines), { 'config.json': '{"method": "lst",' })).problem!,
    /config\.json is not valid JSON/,
  );
  assert.match(
    recordFromFiles(LST, '/d', files(jsonl(lstLines), { 'summary.json': '[1]' })).problem!,
    /summary\.json does not hold a JSON object/,
  );
  assert.match(
    recordFromFiles(LST, '/d', files(jsonl(lstLines), { 'summary.json': '{"method":"lst"}' })).problem!,
    /summary\.json lacks/,
  );
  assert.match(recordFromFiles(LST, '/d', files(jsonl(lstLines), { 'metrics.json': 'nan' })).problem!, /metrics\.json/);
  const r = recordFromFiles(LST, '/d', { 'events.jsonl': { error: 'EACCES' } });
  assert.equal(r.status, 'corrupt');
  assert.match(r.problem!, /events\.jsonl cannot be read: EACCES/);
});

test('an empty folder is corrupt unless a live session is creating it', () => {
  assert.equal(recordFromFiles('20261126-230000-lora-abcd', '/d', {}).status, 'corrupt');
  const born = recordFromFiles('20261126-230000-lora-abcd', '/d', {}, true);
  assert.equal(born.status, 'running');
  assert.equal(born.method, 'lora'); // from the folder name until config.json exists
});

test('summary.json alone (run_finished not yet written) counts as finished', () => {
  const finished = eventOf(lstLines.find((l) => l.includes('run_finished'))!);
  assert.ok(finished.type === 'run_finished');
  const summary = JSON.stringify(finished.summary);
  const events = jsonl(lstLines.filter((l) => !l.includes('run_finished')));
  assert.equal(recordFromFiles(LST, '/d', files(events, { 'summary.json': summary })).status, 'finished');
});

test('parseRunId reads the method and local start time from the engine folder name', () => {
  const { method, startedAt } = parseRunId('20261126-221135-lst-d49c');
  assert.equal(method, 'lst');
  assert.equal(new Date(startedAt! * 1000).getHours(), 22);
  assert.deepEqual(parseRunId('notes'), {});
});

test('sortRuns: newest first, by start time then id', () => {
  const r = (id: string, startedAt?: number) => ({
    id,
    dir: id,
    method: 'lst',
    status: 'finished' as const,
    startedAt,
  });
  const sorted = sortRuns([r('a', 10), r('c'), r('b', 30), r('d', 30)]);
  assert.deepEqual(
    sorted.map((x) => x.id),
    ['d', 'b', 'a', 'c'],
  );
});

test('readRuns lists real folders newest first; a corrupt one does not hide the others', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'runs-'));
  try {
    const write = (id: string, f: Record<string, string>) => {
      mkdirSync(path.join(root, id));
      for (const [name, text] of Object.entries(f)) writeFileSync(path.join(root, id, name), text);
    };
    // Years from the fixture's run (whenever it was recorded), so the order holds in any time zone.
    write(LST, { 'config.json': CONFIG, 'events.jsonl': jsonl(lstLines) });
    write('20000101-110000-lora-bbbb', { 'config.json': '{broken' });
    write('20990101-120000-full-cccc', { 'config.json': JSON.stringify({ method: 'full' }), 'events.jsonl': '' });
    mkdirSync(path.join(root, '.tmp-ignored'));
    mkdirSync(path.join(root, 'sweeps', '20990101-000000-5e1f'), { recursive: true }); // sweep folders: not runs
    writeFileSync(path.join(root, 'stray-file.txt'), 'not a run');
    const unreadable = '20990102-130000-bitfit-dddd';
    write(unreadable, { 'config.json': CONFIG });
    chmodSync(path.join(root, unreadable), 0o000);
    const asRoot = process.getuid?.() === 0; // root reads anything: the folder then reads as a plain run

    const runs = await readRuns(root, (id) => id.includes('full'));
    chmodSync(path.join(root, unreadable), 0o755);
    assert.deepEqual(
      runs.map((r) => r.id),
      [unreadable, '20990101-120000-full-cccc', LST, '20000101-110000-lora-bbbb'],
    );
    const byId = Object.fromEntries(runs.map((r) => [r.id, r]));
    assert.equal(byId[LST].status, 'finished');
    assert.equal(byId['20000101-110000-lora-bbbb'].status, 'corrupt');
    assert.equal(byId['20990101-120000-full-cccc'].status, 'running');
    assert.equal(byId[unreadable].status, asRoot ? 'interrupted' : 'corrupt');
    assert.deepEqual(await readRuns(path.join(root, 'missing')), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('RunReader re-parses a folder only when its files or its liveness change', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'runs-'));
  try {
    const dir = path.join(root, LST);
    mkdirSync(dir);
    const finished = lstLines.findIndex((l) => l.includes('run_finished'));
    writeFileSync(path.join(dir, 'config.json'), CONFIG);
    writeFileSync(path.join(dir, 'events.jsonl'), jsonl(lstLines.slice(0, finished)));
    const reader = new RunReader();
    const [first] = await reader.read(root, () => true);
    assert.equal(first.status, 'running');
    const [again] = await reader.read(root, () => true);
    assert.equal(again, first, 'unchanged folder: the cached record');
    const [notLive] = await reader.read(root, () => false);
    assert.equal(notLive.status, 'interrupted');
    appendFileSync(path.join(dir, 'events.jsonl'), `${lstLines[finished]}\n`);
    const [done] = await reader.read(root, () => false);
    assert.equal(done.status, 'finished');
    rmSync(dir, { recursive: true });
    assert.deepEqual(await reader.read(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("readRunEvents: a run folder's events in order, a torn last line skipped, none for a folder without events", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'run-events-'));
  try {
    assert.deepEqual(await readRunEvents(path.join(dir, 'no-such-run')), []);
    writeFileSync(path.join(dir, 'events.jsonl'), jsonl(lstLines) + lstLines[1].slice(0, 20));
    assert.deepEqual(
      await readRunEvents(dir),
      lstLines.map((l) => JSON.parse(l) as unknown),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('timing from a real run: median step time, init (start -> train phase), test n; label.json names the run', () => {
  const events = lstLines.map(eventOf);
  const steps = events.flatMap((e) => (e.type === 'train_step' && e.step_s !== undefined ? [e.step_s] : []));
  const started = events.find((e) => e.type === 'run_started')!.ts;
  const train = events.find((e) => e.type === 'phase_started' && e.phase === 'train')!.ts;
  const test = events.find((e) => e.type === 'evaluation' && e.split === 'test');
  const timing = runTiming(events);
  assert.ok(steps.length >= 2 && timing.stepS !== null);
  assert.ok(steps.filter((s) => s < timing.stepS!).length <= steps.length / 2, 'the median');
  assert.ok(steps.filter((s) => s > timing.stepS!).length <= steps.length / 2, 'the median');
  assert.equal(timing.initS, train - started);
  assert.equal(timing.testExamples, test?.type === 'evaluation' ? (test.examples ?? null) : null);
  assert.deepEqual(runTiming([]), { stepS: null, initS: null, testExamples: null });

  const named = recordFromFiles(LST, '/r', files(jsonl(lstLines), { 'label.json': '{"label": " baseline "}' }));
  assert.equal(named.userLabel, 'baseline');
  assert.equal(named.status, 'finished', 'a label never changes the status');
  const bad = recordFromFiles(LST, '/r', files(jsonl(lstLines), { 'label.json': '[1]' }));
  assert.equal(bad.userLabel, undefined);
  assert.equal(bad.status, 'finished', 'a bad label.json is ignored, not corrupt');
  assert.match(bad.notes!.join(' '), /label\.json is ignored/);
});

test('writeUserLabel writes label.json, the reader sees it; an empty name removes it', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'ladder-label-'));
  try {
    const dir = path.join(root, LST);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'config.json'), CONFIG);
    writeFileSync(path.join(dir, 'events.jsonl'), jsonl(lstLines));
    const reader = new RunReader();
    assert.equal((await reader.read(root))[0].userLabel, undefined);
    await writeUserLabel(dir, 'r=4, seed 1');
    assert.equal((await reader.read(root))[0].userLabel, 'r=4, seed 1');
    await writeUserLabel(dir, '  ');
    assert.equal((await reader.read(root))[0].userLabel, undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
