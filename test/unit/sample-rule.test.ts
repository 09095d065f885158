// Issue 11, item 5: "data": "sample" with a task that has no packaged sample is an error in the form and the file
// (and so refuses Run before any engine starts), in the engine's words, on the shared table
// engine/tests/fixtures/sample-rules.json (the engine's side: engine/tests/test_sample_data.py). Which tasks have a
// sample comes from the engine (the generated SAMPLE_TASKS), never listed here.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { SAMPLE_TASKS, parseExperimentText, validateExperiment } from '../../protocol/experiment';
import { experimentProblem } from '../../src/runs/launchChecks';
import table from '../../engine/tests/fixtures/sample-rules.json';

interface Case {
  case: string;
  experiment: Record<string, unknown>;
  problems: { field: string; message: string }[];
}

for (const c of table as Case[]) {
  test(`same verdict as the engine: ${c.case}`, () => {
    assert.deepEqual(
      validateExperiment(c.experiment).filter((e) => e.field === 'data'),
      c.problems,
    );
  });
}

test('the tasks with a sample come from the engine', () => {
  assert.deepEqual(SAMPLE_TASKS, ['sst2']);
});

test('a missing sample is a field error of the file and refuses the launch', () => {
  const text = JSON.stringify({ task: 'rte', data: 'sample', methods: ['lora'] });
  assert.deepEqual(
    parseExperimentText(text).errors.map((e) => e.field),
    ['data'],
  );
  assert.match(
    experimentProblem('/ws/rte.ladder.json', text) ?? '',
    /rte\.ladder\.json: data "sample": task 'rte' has no sample/,
  );
});
