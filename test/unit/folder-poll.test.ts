// The poll behind the runs folder and Sweep panel watchers, on real folders: it tells the changes the engine makes
// (a sweep folder made in one go, a manifest replaced atomically, a run folder's new file) and stays quiet otherwise.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { filesSignature, foldersSignature, pollForChanges } from '../../src/runs/folderPoll';

const POLL = 40;
const settle = () => new Promise((r) => setTimeout(r, POLL * 4));

/** Writes like the engine: a temporary file renamed over the old one. */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

test('the runs folder poll calls back for a sweep folder made in one go, a run folder and its new file, only then', async () => {
  const runs = mkdtempSync(path.join(tmpdir(), 'folder-poll-'));
  const sweeps = path.join(runs, 'sweeps');
  let calls = 0;
  const poll = pollForChanges(
    () => foldersSignature([runs, sweeps]),
    () => calls++,
    POLL,
  );
  try {
    await settle();
    assert.equal(calls, 0, 'nothing changed: no call');
    mkdirSync(path.join(sweeps, 's1'), { recursive: true });
    replace(path.join(sweeps, 's1', 'manifest.json'), '{}');
    await settle();
    assert.ok(calls >= 1, 'the new sweep folder was seen');
    const afterSweep = calls;
    replace(path.join(sweeps, 's1', 'results.json'), '{}');
    await settle();
    assert.ok(calls > afterSweep, 'a file replaced in the sweep folder was seen');
    const afterResults = calls;
    mkdirSync(path.join(runs, 'run-1'));
    await settle();
    assert.ok(calls > afterResults, 'a new run folder was seen');
    const afterRun = calls;
    writeFileSync(path.join(runs, 'run-1', 'summary.json'), '{}');
    await settle();
    assert.ok(calls > afterRun, 'a run folder’s new file was seen');
    const settled = calls;
    await settle();
    assert.equal(calls, settled, 'no change: no more calls');
  } finally {
    poll.dispose();
    rmSync(runs, { recursive: true, force: true });
  }
});

test('the files poll sees a sweep’s manifest replaced, its results written and damaged in place; dispose stops it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'folder-poll-'));
  const files = ['manifest.json', 'results.json'].map((f) => path.join(dir, f));
  assert.equal(await filesSignature(files), '-|-', 'missing files have a signature too');
  let calls = 0;
  const poll = pollForChanges(
    () => filesSignature(files),
    () => calls++,
    POLL,
  );
  try {
    await settle();
    replace(files[0], '{"trials": []}');
    await settle();
    assert.equal(calls, 1);
    replace(files[1], '{"points": []}');
    await settle();
    assert.equal(calls, 2);
    writeFileSync(files[1], '{"points": ['); // in place: its size changes
    await settle();
    assert.equal(calls, 3);
    poll.dispose();
    replace(files[0], '{"trials": [1]}');
    await settle();
    assert.equal(calls, 3, 'no call after dispose');
  } finally {
    poll.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
