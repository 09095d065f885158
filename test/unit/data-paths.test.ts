// Issue 11, item 7: a data path chosen with Browse, typed or pasted into the form, or written in the file follows one
// rule (src/views/pathPolicy.ts): read from the experiment file's folder, "~" the home folder, ".." allowed; a path
// the rule refuses comes back with the reason for the form to show beside the field, never dropped silently. The
// engine reads the file's paths the same way (engine/tests/test_filepaths.py).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import { acceptPaths, experimentPath, PathPolicy } from '../../src/views/pathPolicy';

function workspace(): { ws: string; done: () => void } {
  const ws = mkdtempSync(path.join(tmpdir(), 'll-paths-'));
  mkdirSync(path.join(ws, 'data', 'SST-2'), { recursive: true });
  mkdirSync(path.join(ws, 'experiments'));
  return { ws, done: () => rmSync(ws, { recursive: true, force: true }) };
}

test('a typed ".." path from a file in a subfolder is accepted and written as Browse writes the same folder', () => {
  const { ws, done } = workspace();
  try {
    const file = path.join(ws, 'experiments', 'a.ladder.json');
    assert.equal(experimentPath('../data/SST-2', file), path.join(ws, 'data', 'SST-2')); // as the engine reads it
    const policy = new PathPolicy(() => [ws]);
    for (const typed of ['../data/SST-2', './../data/SST-2', '../data/SST-2/', path.join(ws, 'data', 'SST-2')]) {
      const { accepted, refused } = acceptPaths(policy, { data: typed }, file, [null]);
      assert.deepEqual(refused, [], typed);
      assert.equal(accepted.data, '../data/SST-2', typed);
    }
    // Browse hands the host the absolute folder it picked: the same text is written.
    policy.approve(path.join(ws, 'data', 'SST-2'));
    assert.equal(
      acceptPaths(policy, { data: path.join(ws, 'data', 'SST-2') }, file, [null]).accepted.data,
      '../data/SST-2',
    );
    // From a file at the workspace root the same folder is "data/SST-2".
    const rootFile = path.join(ws, 'b.ladder.json');
    assert.equal(acceptPaths(policy, { data: './data/SST-2' }, rootFile, [null]).accepted.data, 'data/SST-2');
  } finally {
    done();
  }
});

test('a path the rule refuses comes back with the reason and what to do, and nothing of its patch is written', () => {
  const { ws, done } = workspace();
  try {
    const file = path.join(ws, 'a.ladder.json');
    const policy = new PathPolicy(() => [ws]);
    const { accepted, refused } = acceptPaths(policy, { data: '../elsewhere/SST-2', epochs: 2 }, file, [null]);
    assert.deepEqual(accepted, {}); // a patch is one change
    assert.equal(refused.length, 1);
    assert.equal(refused[0].field, 'data');
    assert.equal(refused[0].value, '../elsewhere/SST-2');
    assert.match(
      refused[0].message,
      /^data "\.\.\/elsewhere\/SST-2": .*elsewhere\/SST-2 \(read from .*\) is outside the workspace/,
    );
    assert.match(refused[0].message, /Browse/);
    // "~" is the home folder's (outside this workspace): refused with the expanded path, accepted once chosen.
    const home = acceptPaths(policy, { data: '~/glue' }, file, [null]);
    assert.match(home.refused[0]?.message ?? '', new RegExp(`${path.join(homedir(), 'glue')} is outside`));
    policy.approve(path.join(homedir(), 'glue'));
    assert.equal(acceptPaths(policy, { data: '~/glue' }, file, [null]).accepted.data, path.join(homedir(), 'glue'));
  } finally {
    done();
  }
});

test('words are not paths, and what the file already holds is kept as written', () => {
  const { ws, done } = workspace();
  try {
    const file = path.join(ws, 'a.ladder.json');
    const policy = new PathPolicy(() => [ws]);
    const words = { data: 'sample', backbone: 'preset:t5-base' };
    assert.deepEqual(acceptPaths(policy, words, file, [null]), { accepted: words, refused: [] });
    assert.deepEqual(acceptPaths(policy, { backbone: 'default', data: null }, file, [null]).accepted, {
      backbone: 'default',
      data: null,
    });
    const inFile = acceptPaths(policy, { data: '/srv/glue/SST-2' }, file, ['/srv/glue/SST-2']);
    assert.deepEqual(inFile, { accepted: { data: '/srv/glue/SST-2' }, refused: [] });
    // A backbone folder follows the same rule as data.
    assert.equal(acceptPaths(policy, { backbone: '/srv/models/bert' }, file, [null]).refused[0]?.field, 'backbone');
  } finally {
    done();
  }
});
