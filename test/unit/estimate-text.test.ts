import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateSummary, parseEstimate } from '../../src/views/estimateText';

// The shape `ladderlab estimate --json` prints (engine/src/ladderlab/estimate.py: estimate_all).
const sample = {
  backbone: 'preset:t5-base',
  batch_size: 100,
  max_length: 128,
  precision: 'fp32',
  device: 'cuda',
  rows: [
    {
      method: 'lst',
      device: 'cuda',
      peak_bytes: 2.4 * 2 ** 30,
      components: {},
      verdict: { gpu_bytes: 12 * 2 ** 30, needed_bytes: 3.1 * 2 ** 30, fits: true },
    },
    {
      method: 'full',
      device: 'cuda',
      peak_bytes: 15 * 2 ** 30,
      components: {},
      verdict: { gpu_bytes: 12 * 2 ** 30, needed_bytes: 17 * 2 ** 30, fits: false },
    },
  ],
};

test('the estimate summary names each method, its peak and the verdict', () => {
  const parsed = parseEstimate(JSON.stringify(sample));
  assert.ok(!('error' in parsed));
  assert.equal(
    estimateSummary(parsed),
    'Training peak on cuda, batch 100 × 128 tokens, fp32: LST 2.4 GiB (fits) · Full FT 15 GiB (does not fit 12 GiB)',
  );
});

test('without a GPU size there is no verdict, and small peaks read in MiB', () => {
  const cpu = { ...sample, device: 'cpu', rows: [{ method: 'lora', peak_bytes: 300 * 2 ** 20, verdict: null }] };
  const parsed = parseEstimate(JSON.stringify(cpu));
  assert.ok(!('error' in parsed));
  assert.match(estimateSummary(parsed), /LoRA 300 MiB$/);
});

test('malformed engine output is an error, not a summary', () => {
  for (const bad of [
    '',
    'not json',
    '{}',
    JSON.stringify({ device: 'cpu', rows: [{ method: 'lst', peak_bytes: -1, verdict: null }] }),
    JSON.stringify({ device: 'cpu', rows: [{ method: 'lst', peak_bytes: 1, verdict: { fits: 'yes' } }] }),
  ]) {
    assert.ok('error' in parseEstimate(bad), bad);
  }
});
