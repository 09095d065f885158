// Errors caught where they are made (issue 11, item 5): an invalid file is shown with its own values, each error is
// placed on its key and value in the file (the diagnostics' range), and a typed path follows the rule of Browse.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import * as path from 'node:path';
import { DEFAULTS, experimentErrors, fieldOffsets, parseExperimentText } from '../../protocol/experiment';
import { DEFAULT_BACKBONE } from '../../src/views/backboneInfo';
import { expandHome, PathPolicy } from '../../src/views/pathPolicy';

test('an invalid file shows its own values, not the defaults, for the fields it gets wrong', () => {
  const parsed = parseExperimentText('{"r": 100, "keep_layers": "1,x", "epochs": 2, "device": "tpu"}');
  assert.deepEqual(new Set(parsed.errors.map((e) => e.field)), new Set(['r', 'keep_layers', 'device']));
  assert.equal(parsed.shown.r, 100);
  assert.equal(parsed.shown.keep_layers, '1,x'); // as written
  assert.equal(parsed.shown.device, 'tpu');
  assert.equal(parsed.shown.epochs, 2);
  assert.equal(parsed.shown.batch_size, DEFAULTS.batch_size); // not written: the default
  assert.equal(parsed.values.r, DEFAULTS.r); // what the run logic may rely on stays valid
});

test('a value the rules refuse on this backbone is shown as written, with its error', () => {
  const parsed = parseExperimentText('{"keep_layers": [1, 7]}');
  assert.deepEqual(parsed.shown.keep_layers, [1, 7]);
  const errors = experimentErrors(parsed, DEFAULT_BACKBONE.shape);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /keep_layers \[7\] out of range: the backbone has 6 layers per stack/);
});

test('fieldOffsets: the key and its value, for every kind of value, at the top level only', () => {
  const text = [
    '{',
    '  "task": {"r": 3},',
    '  "r": 5,',
    '  "keep_layers": [0, [1], "a,]"],',
    '  "data": "x\\"y",',
    '  "lrs": {"lora": 1e-3}',
    '}',
  ].join('\n');
  const at = (key: string) => {
    const o = fieldOffsets(text, key);
    return o && text.slice(o[0], o[1]);
  };
  assert.equal(at('r'), '"r": 5'); // not the "r" nested in task
  assert.equal(at('keep_layers'), '"keep_layers": [0, [1], "a,]"]');
  assert.equal(at('data'), '"data": "x\\"y"');
  assert.equal(at('lrs'), '"lrs": {"lora": 1e-3}');
  assert.equal(at('task'), '"task": {"r": 3}');
  assert.equal(at('seed'), undefined);
});

test('a typed path follows the rule of Browse: inside the workspace kept relative, "~" read as the engine reads it', () => {
  const ws = mkdtempSync(path.join(tmpdir(), 'll-ws-'));
  try {
    mkdirSync(path.join(ws, 'data'));
    const policy = new PathPolicy(() => [ws]);
    for (const typed of ['data', './data', path.join(ws, 'data'), 'data/../data']) {
      const ok = policy.check(typed);
      assert.equal(ok, path.join(ws, 'data'), typed);
      assert.equal(policy.display(ok), 'data', typed); // what Browse writes for the same folder
    }
    assert.equal(expandHome('~/glue'), path.join(homedir(), 'glue'));
    assert.equal(expandHome('a/~/b'), 'a/~/b');
    // "~/x" is the home folder's x (as the engine's expanduser reads it), not a workspace folder named "~".
    assert.ok(!ws.startsWith(homedir()));
    assert.equal(policy.check('~/glue'), undefined); // outside the workspace, not chosen: refused
    policy.approve(path.join(homedir(), 'glue')); // chosen with Browse
    assert.equal(policy.check('~/glue'), path.join(homedir(), 'glue'));
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
});
