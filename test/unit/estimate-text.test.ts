import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  estimateHoverMarkdown,
  estimateLensTitle,
  estimateSummary,
  estimateTooltip,
  parseEstimate,
  parseGpuGiB,
  verdictText,
  type EstimateResult,
} from '../../src/views/estimateText';
import { methodLabel } from '../../src/views/format';

const GiB = 2 ** 30;
const FULL = methodLabel('full'); // the method's name as the extension shows it (format.ts)
const MiB = 2 ** 20;

// The shape `ladderlab estimate --json` prints (engine/src/ladderlab/estimate.py: estimate_all).
function sample(gpu: number | null = 8 * GiB) {
  const row = (method: string, parts: number[], needed: number) => ({
    method,
    device: 'cuda',
    peak_bytes: parts.reduce((a, b) => a + b, 0),
    components: { param: parts[0], grad: parts[1], optimizer: parts[2], activation: parts[3], transient: parts[4] },
    saved_for_backward_bytes: parts[3],
    verdict: gpu === null ? null : { gpu_bytes: gpu, needed_bytes: needed, fits: needed <= gpu },
  });
  return {
    backbone: 'preset:t5-base',
    batch_size: 100,
    length: 61,
    length_from: 'data',
    train_examples: 66349,
    max_length: 128,
    precision: 'fp32',
    device: 'cuda',
    rows: [
      row('lst', [0.9 * GiB, 10 * MiB, 20 * MiB, 0.2 * GiB, 50 * MiB], 1.8 * GiB),
      row('lora', [0.9 * GiB, 20 * MiB, 40 * MiB, 2.3 * GiB, 0.1 * GiB], 4.4 * GiB),
      row('full', [0.9 * GiB, 0.9 * GiB, 1.8 * GiB, 4 * GiB, 1 * GiB], 10 * GiB),
    ],
  };
}

function parsed(raw: unknown): EstimateResult {
  const r = parseEstimate(JSON.stringify(raw));
  assert.ok(!('error' in r), JSON.stringify(r));
  return r;
}

test('the lens names each method and its peak, then the verdict for the GPU size', () => {
  const r = parsed(sample());
  assert.equal(
    estimateLensTitle(r),
    `Estimate: LST 1.2 GiB · LoRA 3.4 GiB · ${FULL} 8.6 GiB — ${FULL} does not fit 8 GiB`,
  );
  const fitting = parsed({ ...sample(), rows: sample().rows.slice(0, 2) });
  assert.equal(estimateLensTitle(fitting), 'Estimate: LST 1.2 GiB · LoRA 3.4 GiB — fits 8 GiB');
  assert.equal(verdictText(parsed(sample(1 * GiB))), 'none fits 1 GiB');
  assert.equal(verdictText(parsed(sample(7.5 * GiB))), `${FULL} does not fit 7.5 GiB`);
});

test('a lens on a file changed since the estimate says so; small peaks read in MiB; no GPU, no verdict', () => {
  const cpu = parsed({ ...sample(null), device: 'cpu', rows: [{ ...sample(null).rows[0], peak_bytes: 300 * MiB }] });
  assert.equal(verdictText(cpu), undefined);
  assert.equal(estimateLensTitle(cpu, true), 'Estimate: LST 300 MiB · file changed: re-estimate');
});

test('an estimate that assumed max_length says so in the lens and, with the reason, in the hover', () => {
  const note =
    'the training data could not be read (SST-2 data folder /x not found), so the estimate assumes max_length';
  const r = parsed({
    ...sample(),
    length: 128,
    length_from: 'max_length',
    length_note: note,
    train_examples: undefined,
  });
  assert.match(estimateLensTitle(r), /^Estimate \(at max_length\): LST/);
  const md = estimateHoverMarkdown(r, { gpuGiB: 8, at: 0, stale: false });
  assert.ok(md.includes(`**Assumes max_length** (128 tokens, batch 100): ${note}.`), md);
});

test('the hover has the breakdown per method, the batch from the data and the GPU the verdict is for', () => {
  const md = estimateHoverMarkdown(parsed(sample()), { gpuGiB: 8, at: 0, stale: false, changeGpuLink: 'command:x' });
  const lines = md.split('\n');
  assert.ok(
    lines.includes(
      '| method | parameters | gradients | optimizer states | saved activations | transient | total | verdict |',
    ),
    md,
  );
  assert.ok(
    lines.includes(
      `| ${FULL} | 922 MiB | 922 MiB | 1.8 GiB | 4.0 GiB | 1.0 GiB | **8.6 GiB** | does not fit 8 GiB (needs 10 GiB) |`,
    ),
    md,
  );
  assert.ok(
    lines.includes('| LST | 922 MiB | 10.0 MiB | 20.0 MiB | 205 MiB | 50.0 MiB | **1.2 GiB** | fits 8 GiB |'),
    md,
  );
  assert.ok(md.includes('For batch 100 × 61 tokens (the longest of 66,349 training examples; max_length 128).'), md);
  assert.match(
    md,
    /Verdict for a GPU of 8 GiB \(your setting\), counting \+10% allocator slack.*\. \[Set the GPU size…\]\(command:x\)/,
  );
  assert.doesNotMatch(md, /changed since/);
  assert.match(
    estimateHoverMarkdown(parsed(sample()), { gpuGiB: null, at: 0, stale: true }),
    /Verdict for this machine's GPU[\s\S]*the file changed since/,
  );
  assert.match(
    estimateHoverMarkdown(parsed(sample(null)), { gpuGiB: null, at: 0, stale: false }),
    /No verdict: no GPU here and no GPU size set\./,
  );
});

test('the tooltip and the notification carry the breakdown and the batch', () => {
  const r = parsed(sample());
  const tip = estimateTooltip(r).split('\n');
  assert.equal(
    tip[0],
    'LST: 1.2 GiB = parameters 922 MiB + gradients 10.0 MiB + optimizer states 20.0 MiB + saved activations 205 MiB + transient 50.0 MiB — fits 8 GiB',
  );
  assert.equal(tip[3], 'cuda, fp32, batch 100 × 61 tokens (the longest of 66,349 training examples; max_length 128)');
  assert.equal(
    estimateSummary(r),
    `Estimate: LST 1.2 GiB · LoRA 3.4 GiB · ${FULL} 8.6 GiB — ${FULL} does not fit 8 GiB. Training peak on cuda, fp32, batch 100 × 61 tokens (the longest of 66,349 training examples; max_length 128).`,
  );
});

test('malformed engine output is an error, not a summary', () => {
  const good = sample();
  const bad = [
    '',
    'not json',
    '{}',
    JSON.stringify({ ...good, rows: [{ ...good.rows[0], peak_bytes: -1 }] }),
    JSON.stringify({ ...good, rows: [{ ...good.rows[0], verdict: { fits: 'yes' } }] }),
    JSON.stringify({ ...good, rows: [{ ...good.rows[0], components: { param: 1 } }] }),
    JSON.stringify({ ...good, length: undefined }), // an engine from before the data-length estimate
    JSON.stringify({ ...good, length_from: 'guess' }),
  ];
  for (const text of bad) assert.ok('error' in parseEstimate(text), text);
});

test('the GPU size typed: GiB, empty for this machine, anything else an error saying what to type', () => {
  assert.equal(parseGpuGiB(' 24 '), 24);
  assert.equal(parseGpuGiB('7.5 GiB'), 7.5);
  assert.equal(parseGpuGiB('80gb'), 80);
  assert.equal(parseGpuGiB(''), null);
  for (const bad of ['0', '-3', 'lots', '1e9']) {
    const v = parseGpuGiB(bad);
    assert.ok(v !== null && typeof v === 'object' && /GiB/.test(v.error), bad);
  }
});
