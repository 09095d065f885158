// The extension's run labels (protocol/runLabel.ts) agree with the engine's (run_label.py, which names the rows of
// `ladderlab compare --format text`) on the shared table engine/tests/fixtures/run-labels.json, word for word.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DEFAULTS } from '../../protocol/experiment';
import { runLabel } from '../../protocol/runLabel';
import table from '../../engine/tests/fixtures/run-labels.json';

for (const c of table as { case: string; configs: Record<string, unknown>[]; labels: string[] }[]) {
  test(`same labels as the engine: ${c.case}`, () => {
    const configs = c.configs.map((x) => ({ ...DEFAULTS, ...x }));
    assert.deepEqual(
      configs.map((x) => runLabel(x, configs)),
      c.labels,
    );
  });
}
