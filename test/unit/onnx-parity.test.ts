// onnxruntime-node against PyTorch, and the TypeScript tokenizer against the engine's, on the fixture that the
// engine's pytest (engine/tests/test_export.py) writes: an LST run and a LoRA run on MiniLM, trained briefly on
// real SST-2, exported with `ladderlab export`, with PyTorch's logits for 100 real sentences and the engine's
// token ids. scripts/test runs pytest first; a missing fixture is a failure, never a skip.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ExportedModel } from '../../src/inference/model';
import { encodeForModel, loadTokenizer } from '../../src/inference/tokenize';

const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test-artifacts', 'onnx-parity');
const MISSING = `parity fixture missing under ${FIXTURE}: run the engine tests first (cd engine && ../.venv/bin/python -m pytest tests/test_export.py), as scripts/test does`;

function fixture<T>(...parts: string[]): T {
  const file = path.join(FIXTURE, ...parts);
  assert.ok(existsSync(file), `${MISSING} (no ${parts.join('/')})`);
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));

for (const method of ['lst', 'lora']) {
  test(`${method}: onnxruntime-node logits equal PyTorch's on 100 SST-2 sentences`, async () => {
    const reference = fixture<{ texts: string[]; logits: number[][] }>(method, 'reference.json');
    assert.equal(reference.texts.length, 100);
    const model = await ExportedModel.load(path.join(FIXTURE, method));
    let maxDiff = 0;
    let agree = 0;
    const predicted = new Set<number>();
    try {
      for (const [i, text] of reference.texts.entries()) {
        const { logits } = await model.logits(model.encode(text));
        assert.equal(logits.length, reference.logits[i].length);
        logits.forEach((x, j) => (maxDiff = Math.max(maxDiff, Math.abs(x - reference.logits[i][j]))));
        if (argmax(logits) === argmax(reference.logits[i])) agree++;
        predicted.add(argmax(logits));
      }
    } finally {
      await model.release();
    }
    console.log(
      `${method}: max |onnx - torch| = ${maxDiff.toExponential(2)}, labels agree ${agree}/100, classes predicted ${predicted.size}`,
    );
    assert.ok(maxDiff <= 1e-4, `max abs logit difference ${maxDiff} > 1e-4`);
    assert.equal(agree, 100);
  });
}

test('TypeScript token ids equal the engine tokenizer (single texts, long reviews, truncated pairs)', async () => {
  type Case = { a: string; b: string | null; max_length: number; input_ids: number[]; token_type_ids: number[] };
  const cases = fixture<Case[]>('tokens.json');
  assert.ok(cases.length >= 150 && cases.some((c) => c.b !== null));
  const tokenizer = await loadTokenizer(path.join(FIXTURE, 'lst'));
  const mismatches = cases.filter((c) => {
    const enc = encodeForModel(tokenizer, c.a, c.b, c.max_length);
    return (
      JSON.stringify(enc.input_ids) !== JSON.stringify(c.input_ids) ||
      JSON.stringify(enc.token_type_ids) !== JSON.stringify(c.token_type_ids)
    );
  });
  console.log(`token ids equal for ${cases.length - mismatches.length}/${cases.length} inputs`);
  assert.deepEqual(
    mismatches.map((c) => c.a.slice(0, 60)),
    [],
  );
});

test('a missing or corrupt model.onnx is a clear error naming the file', async () => {
  fixture('lst', 'manifest.json');
  const dir = mkdtempSync(path.join(tmpdir(), 'ladderlab-export-'));
  try {
    for (const f of ['manifest.json', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(path.join(FIXTURE, 'lst', f), path.join(dir, f));
    await assert.rejects(ExportedModel.load(dir), /model\.onnx not found: export the run again/);
    writeFileSync(path.join(dir, 'model.onnx'), Buffer.from('this is not a protobuf'));
    await assert.rejects(ExportedModel.load(dir), /cannot load .*model\.onnx: it is damaged or not an ONNX model/);
    unlinkSync(path.join(dir, 'manifest.json'));
    await assert.rejects(ExportedModel.load(dir), /manifest\.json not found: this run has not been exported yet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
