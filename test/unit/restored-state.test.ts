import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restoredRunId } from '../../src/panels/restoredState';

test('a restored Try Model panel takes only a run id shaped like a run folder name', () => {
  assert.equal(restoredRunId({ runId: '20261127-012304-lora-a996' }), '20261127-012304-lora-a996');
  for (const bad of [
    undefined,
    null,
    'x',
    42,
    {},
    { runId: 7 },
    { runId: '../../etc/passwd' },
    { runId: '20261127-012304-lora-a996/../..' },
    { runId: '' },
    JSON.parse('{"__proto__": {"runId": "20261127-012304-lora-a996"}}'),
  ]) {
    assert.equal(restoredRunId(bad), undefined, JSON.stringify(bad));
  }
});
