// Conformance: real engine output must validate against the schema on the TS side too.
// The Python side writes these files with engine/tests/make_event_fixture.py.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { checkJsonlFile, REPO_ROOT } from './jsonl';

const FIXTURE_DIR = path.join(REPO_ROOT, 'engine/tests/fixtures/events');
const ALLOW_MISSING = process.env.LADDERLAB_ALLOW_NO_EVENT_FIXTURE === '1';

function jsonlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => path.join(dir, f));
}

test('engine event fixtures conform to the schema', (t) => {
  const files = jsonlFiles(FIXTURE_DIR);
  if (files.length === 0) {
    const why =
      `no *.jsonl files under ${path.relative(REPO_ROOT, FIXTURE_DIR)}; ` +
      'run the engine fixture generator engine/tests/make_event_fixture.py';
    // Only for machines that deliberately run without the engine; never the default.
    if (ALLOW_MISSING) return t.skip(`${why} (skipped: LADDERLAB_ALLOW_NO_EVENT_FIXTURE=1)`);
    assert.fail(`${why}, or set LADDERLAB_ALLOW_NO_EVENT_FIXTURE=1 to skip this check`);
  }
  const errors: string[] = [];
  const types = new Set<string>();
  for (const file of files) {
    const report = checkJsonlFile(file);
    errors.push(...report.errors);
    report.events.forEach((e) => types.add(e.type));
  }
  t.diagnostic(`${files.length} file(s); event types seen: ${[...types].sort().join(', ')}`);
  assert.deepEqual(errors, [], `engine events that fail the schema:\n${errors.join('\n')}`);
});
