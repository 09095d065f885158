// The monitor's replay from run folders (no session in memory): the latest comparison's events, in run order.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { lastComparisonFromDisk, parseEventsJsonl } from '../../src/panels/diskReplay';
import type { RunRecord } from '../../src/runs/types';
import { eventOf, REPO_ROOT } from './jsonl';

const FIXTURE = readFileSync(path.join(REPO_ROOT, 'engine/tests/fixtures/events/compare-lst-lora.jsonl'), 'utf8');

test('parseEventsJsonl keeps valid events and skips torn or foreign lines', () => {
  const lines = FIXTURE.trim().split('\n');
  const text = [lines[0], 'not json', '{"v":2,"type":"log"}', lines[1], lines[2].slice(0, 20)].join('\n');
  assert.equal(parseEventsJsonl(text).length, 2);
});

test('lastComparisonFromDisk: the newest comparison, oldest run first; nothing when there are no runs', async () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'ladder-replay-'));
  try {
    const events = FIXTURE.trim().split('\n').map(eventOf);
    const byRun = new Map<string, string[]>();
    for (const e of events) if (e.run_id) byRun.set(e.run_id, [...(byRun.get(e.run_id) ?? []), JSON.stringify(e)]);
    const records: RunRecord[] = [];
    let t = 100;
    for (const [id, lines] of byRun) {
      const dir = path.join(tmp, id);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'events.jsonl'), lines.join('\n') + '\n');
      const first = eventOf(lines[0]);
      assert.ok(first.type === 'run_started', 'a run starts with run_started');
      const method = first.method;
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ task: 'sst2', method, lr: 1 }));
      records.unshift({ id, dir, method, status: 'finished', startedAt: t++ }); // newest first
    }
    // An older, different experiment must not be mixed in.
    const old = path.join(tmp, 'old-run');
    mkdirSync(old);
    writeFileSync(path.join(old, 'config.json'), JSON.stringify({ task: 'stsb', method: 'full' }));
    writeFileSync(path.join(old, 'events.jsonl'), '');
    records.push({ id: 'old-run', dir: old, method: 'full', status: 'finished', startedAt: 1 });

    const replay = await lastComparisonFromDisk(records);
    assert.ok(replay);
    assert.deepEqual(replay.session.methods, ['lst', 'lora']);
    assert.equal(replay.session.state, 'finished');
    assert.equal(replay.session.fromDisk, true);
    assert.equal(
      replay.events.filter((e) => e.type === 'train_step').length,
      events.filter((e) => e.type === 'train_step').length,
    );
    assert.equal(replay.events[0].type, 'run_started');
    assert.equal(await lastComparisonFromDisk([]), undefined);
    // Reopen Curves: only the runs named, whatever the latest comparison is.
    const lora = records[0];
    const one = await lastComparisonFromDisk(records, [lora.id]);
    assert.deepEqual(one?.session.methods, ['lora']);
    assert.ok(one?.events.every((e) => e.run_id === lora.id));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
