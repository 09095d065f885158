// Seeded fuzz of the webview -> host validators: thousands of hostile messages (wrong types, 10 MB strings,
// path traversal, __proto__/constructor/prototype keys, deep nesting, NaN/Infinity, arrays for objects) are
// all rejected, and none pollutes Object.prototype. The integration suite sends the same messages through the
// panels' real handlers. FUZZ_SEED=<n> reproduces a run with another seed.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseExperimentMessage } from '../../protocol/webviews/experiment';
import { parseMonitorMessage } from '../../protocol/webviews/monitor';
import { parseResultsMessage } from '../../protocol/webviews/results';
import { parseSweepMessage } from '../../protocol/webviews/sweep';
import { parseTryMessage } from '../../protocol/webviews/try';
import { describe, FAMILY_NAMES, hostileMessages } from './fuzzMessages';

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const COUNT = 3000;

test(`${COUNT} hostile messages (seed ${SEED}) are rejected by every validator, and Object.prototype stays clean`, () => {
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  const messages = hostileMessages(SEED, COUNT);
  const families = new Set<string>();
  let checked = 0;
  messages.forEach(({ family, message }, i) => {
    families.add(family);
    for (const parse of [
      parseExperimentMessage,
      parseMonitorMessage,
      parseResultsMessage,
      parseSweepMessage,
      parseTryMessage,
    ]) {
      let out: unknown;
      assert.doesNotThrow(() => (out = parse(message)), `${family} #${i}`);
      assert.equal(out, undefined, `${parse.name} accepted ${family} #${i} (seed ${SEED}): ${describe(message)}`);
      checked++;
    }
  });
  assert.deepEqual([...families].sort(), [...FAMILY_NAMES].sort());
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), protoKeys);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).run, undefined);
  console.log(
    `fuzzed ${messages.length} messages x 5 validators = ${checked} checks (seed ${SEED}, ${families.size} families)`,
  );
});

test('the generator is deterministic for a seed and differs across seeds', () => {
  const a = hostileMessages(7, 200).map((m) => describe(m.message));
  assert.deepEqual(
    hostileMessages(7, 200).map((m) => describe(m.message)),
    a,
  );
  assert.notDeepEqual(
    hostileMessages(8, 200).map((m) => describe(m.message)),
    a,
  );
});
