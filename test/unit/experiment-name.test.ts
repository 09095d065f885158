// The names New Experiment accepts (the same rules its input box applies) and the file each becomes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { experimentFileName, experimentNameProblem, freeExperimentName } from '../../src/experimentName';

test('a name becomes NAME.ladder.json; a typed suffix and surrounding spaces are not doubled', () => {
  assert.equal(experimentFileName('sst2 trial'), 'sst2 trial.ladder.json');
  assert.equal(experimentFileName('  lst-r16.ladder.json '), 'lst-r16.ladder.json');
  for (const ok of ['experiment', 'LST r=16 (layers 1,3)', 'über-test', 'a.b']) {
    assert.equal(experimentNameProblem(ok), undefined, ok);
  }
});

test('names no file system accepts are refused with the reason', () => {
  const cases: [string, RegExp][] = [
    ['', /Type a name/],
    ['   ', /Type a name/],
    ['.ladder.json', /Type a name/],
    ['runs/first', /not a path/],
    ['..\\up', /not a path/],
    ['what?', /cannot hold "\?"/],
    ['a:b', /cannot hold ":"/],
    ['tab\there', /cannot hold/],
    ['.hidden', /hidden file/],
    ['trailing.', /end with a dot/],
    ['CON', /reserved device name/],
    ['lpt1.backup', /reserved device name/],
    ['x'.repeat(190), /too long/],
  ];
  for (const [name, reason] of cases) assert.match(experimentNameProblem(name) ?? 'accepted', reason, name);
});

test('the suggested name is the first free one', () => {
  const taken = new Set(['experiment.ladder.json', 'experiment-2.ladder.json']);
  assert.equal(
    freeExperimentName((f) => taken.has(f)),
    'experiment-3',
  );
  assert.equal(
    freeExperimentName(() => false),
    'experiment',
  );
});
