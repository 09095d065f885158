// The backbone picker's Hugging Face cache entries: hub names read as the engine reads them (the shared cases of
// engine/tests/fixtures/hub-names.json, which engine/tests/test_hub_cache.py checks too), the engine's
// `cache list --json` parsed into the picker's choices, a hub id's shape read from its cached snapshot, and a hub
// name written as it is (not refused as a path outside the workspace) unless a folder by that name is there.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  cacheChoices,
  cachedModelFor,
  parseCacheListing,
  parseDatasetName,
  parseHubId,
  type CachedModel,
} from '../../protocol/hubCache';
import { FORM_FIELDS } from '../../protocol/experiment';
import { parseSweepText } from '../../protocol/sweepBlock';
import { ExperimentMessages, parseExperimentMessage } from '../../protocol/webviews/experiment';
import { backboneInfo, DEFAULT_CONFIG } from '../../src/views/backboneInfo';
import { acceptPaths, PathPolicy } from '../../src/views/pathPolicy';
import cases from '../../engine/tests/fixtures/hub-names.json';

const ID = 'sentence-transformers/all-MiniLM-L6-v2';
const MAIN = 'a'.repeat(40);
const SMALL = 'b'.repeat(40);

test('hub names are read as the engine reads them', () => {
  for (const [value, repo, revision] of cases.hub_ids as [string, string | null, string | null][])
    assert.deepEqual(parseHubId(value), repo === null ? null : { repo, revision }, value);
  for (const [value, repo, config] of cases.dataset_names as [string, string | null, string | null][])
    assert.deepEqual(parseDatasetName(value), repo === null ? null : { repo, config }, value);
});

/** What `ladderlab cache list --json` prints (hub.cached_models), for a cache holding `folder` as two snapshots. */
function listing(folder: string): string {
  const entry = (backbone: string, revision: string, refs: string[]) => ({
    id: ID,
    backbone,
    revision,
    refs,
    size_bytes: 91_578_269,
    model_type: 'bert',
    architectures: ['BertModel'],
    supported: true,
    path: folder,
  });
  return JSON.stringify({
    cache: '/home/u/.cache/huggingface/hub',
    models: [
      entry(ID, MAIN, ['main']),
      entry(`${ID}@small`, SMALL, ['small']),
      {
        ...entry('openai/whisper-tiny', MAIN, ['main']),
        id: 'openai/whisper-tiny',
        model_type: 'whisper',
        supported: false,
      },
      { id: 'x', backbone: '../escape', revision: MAIN, size_bytes: 1, path: '/' }, // not a hub id: left out
      'garbage',
    ],
    warnings: [],
  });
}

function models(folder = '/nowhere'): CachedModel[] {
  const parsed = parseCacheListing(listing(folder));
  assert.ok('models' in parsed);
  return parsed.models;
}

test('the listing becomes the picker choices: trainable models, with architecture and size', () => {
  assert.equal(models().length, 3);
  assert.deepEqual(cacheChoices(models()), [
    { value: ID, label: `${ID} (bert, 87 MiB, cache)` },
    { value: `${ID}@small`, label: `${ID}@small (bert, 87 MiB, cache)` },
  ]);
  assert.deepEqual(parseCacheListing('ladderlab: error'), { error: 'the engine did not print a JSON cache listing' });
  assert.ok('error' in parseCacheListing('{"models": 3}'));
});

test('a hub id names its snapshot as huggingface_hub resolves it', () => {
  const all = models();
  assert.equal(cachedModelFor(all, ID)?.revision, MAIN); // bare: the main ref
  assert.equal(cachedModelFor(all, `${ID}@small`)?.revision, SMALL); // a ref
  assert.equal(cachedModelFor(all, `${ID}@${SMALL}`)?.revision, SMALL); // a commit
  assert.equal(cachedModelFor(all, `${ID}@v9`), undefined);
  assert.equal(cachedModelFor(all, 'preset:t5-tiny'), undefined);
});

test("a cached hub id's shape is read from its snapshot's config.json", async () => {
  const snapshot = mkdtempSync(path.join(tmpdir(), 'snapshot-'));
  writeFileSync(path.join(snapshot, 'config.json'), JSON.stringify(DEFAULT_CONFIG));
  const info = await backboneInfo(ID, (p) => path.resolve(tmpdir(), 'no-such-experiment-folder', p), models(snapshot));
  assert.equal(info.layers, 6);
  assert.equal(info.label, `${ID}: bert, 6 layers, hidden 384, 12 heads (Hugging Face cache)`);
  const missing = await backboneInfo('google-t5/t5-base', (p) => path.resolve(tmpdir(), 'nope', p), []);
  assert.equal(missing.shape, null);
  assert.match(missing.label, /google-t5\/t5-base: not in the Hugging Face cache/);
});

test('a hub name is written as it is; a folder by that name is a path, under the path rule', () => {
  const workspace = mkdtempSync(path.join(tmpdir(), 'ws-'));
  const file = path.join(workspace, 'a.ladder.json');
  const policy = new PathPolicy(() => [workspace]);
  const patch = { backbone: ID, data: 'nyu-mll/glue:sst2' };
  assert.deepEqual(acceptPaths(policy, patch, file, []), { accepted: patch, refused: [] });
  // From a file outside the workspace a relative path is refused; a hub name is no path, so it is not.
  const elsewhere = path.join(mkdtempSync(path.join(tmpdir(), 'elsewhere-')), 'b.ladder.json');
  assert.deepEqual(acceptPaths(policy, patch, elsewhere, []), { accepted: patch, refused: [] });
  assert.match(acceptPaths(policy, { data: 'SST-2' }, elsewhere, []).refused[0].message, /outside the workspace/);
  // A folder by that name beside the file, linked to a folder outside the workspace: a path, and refused as one.
  const outside = mkdtempSync(path.join(tmpdir(), 'outside-'));
  mkdirSync(path.join(workspace, 'sentence-transformers'));
  symlinkSync(outside, path.join(workspace, ID));
  const { accepted, refused } = acceptPaths(policy, { backbone: ID }, file, []);
  assert.deepEqual(accepted, {});
  assert.match(refused[0].message, /outside the workspace once its links are followed/);
});

test("the form's sweep lists hub ids among the backbones, never a path", () => {
  const spec = FORM_FIELDS.find((f) => f.name === 'backbone')!;
  assert.deepEqual(parseSweepText(spec, `default, preset:t5-tiny, ${ID}@small`), {
    values: ['default', 'preset:t5-tiny', `${ID}@small`],
  });
  for (const path of ['../models/bert', '/abs/model', 'models/bert/extra']) {
    assert.match((parseSweepText(spec, `default, ${path}`) as { error: string }).error, /sweep folders in the file/);
    const message = { type: ExperimentMessages.sweepField, field: 'backbone', values: ['default', path] };
    assert.equal(parseExperimentMessage(message), undefined, path);
  }
  const listed = { type: ExperimentMessages.sweepField, field: 'backbone', values: ['default', ID] };
  assert.deepEqual(parseExperimentMessage(listed), listed);
});
