// Run labels: made from the field declarations (short + methods), showing only what sets runs apart.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DEFAULT_LR, FIELDS } from '../../protocol/experiment';
import { differingSettings, methodName, runLabel, RUN_SETTINGS, settingText } from '../../protocol/runLabel';

/** config.json as the engine writes it: every field resolved, plus the method and the lr it trained with. */
function config(method: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const defaults = Object.fromEntries(FIELDS.map((f) => [f.name, f.default]));
  const lr = DEFAULT_LR[method as keyof typeof DEFAULT_LR];
  return { ...defaults, methods: ['lst', 'lora'], device: 'cpu', method, lr, ...over };
}

test('two LST variants get different labels; each names r and its kept layers (0-based, as in the file)', () => {
  const a = config('lst', { r: 4 });
  const b = config('lst', { r: 16, keep_layers: [1, 3, 4, 5] });
  assert.equal(runLabel(a, [a, b]), 'LST r=4 · layers every layer');
  assert.equal(runLabel(b, [a, b]), 'LST r=16 · layers 1,3,4,5');
  assert.notEqual(runLabel(a), runLabel(b));
});

test('a run alone shows its method and identity settings only', () => {
  assert.equal(runLabel(config('lst')), 'LST r=8');
  assert.equal(runLabel(config('lora')), 'LoRA rank 32');
  assert.equal(runLabel(config('bitfit')), 'BitFit');
  assert.equal(runLabel(config('full')), 'Full fine-tuning');
});

test('shared settings appear only where they differ among runs of the same method', () => {
  const slow = config('lora', { lora_rank: 8, lr: 0.001 });
  const fast = config('lora', { lora_rank: 8, lr: 0.0003 });
  const lst = config('lst');
  const shown = [slow, fast, lst];
  assert.equal(runLabel(slow, shown), 'LoRA rank 8 · lr 1e-3');
  assert.equal(runLabel(fast, shown), 'LoRA rank 8 · lr 3e-4');
  // LST's own lr (3e-3) differs from LoRA's, but no other LST run is shown: nothing to set it apart from.
  assert.equal(runLabel(lst, shown), 'LST r=8');
  // Same settings: nothing beyond the identity.
  assert.equal(runLabel(slow, [slow, slow]), 'LoRA rank 8');
});

test('a differing field without a short name is named by its label; seed by its short name', () => {
  const a = config('lst', { seed: 1, max_train_examples: 800 });
  const b = config('lst', { seed: 2, max_train_examples: null });
  assert.equal(runLabel(a, [a, b]), 'LST r=8 · max train examples 800 · seed 1');
  assert.equal(runLabel(b, [a, b]), 'LST r=8 · max train examples all · seed 2');
});

test('a method-specific setting is compared only among the runs it applies to', () => {
  const runs = [config('lst', { r: 4 }), config('lst', { r: 8 }), config('lora')];
  assert.deepEqual(
    differingSettings(runs).map((s) => s.name),
    ['r', 'lr'], // r differs among the LST runs; lr between LST and LoRA; lora_rank is LoRA's alone
  );
  // Bookkeeping never differs a run: where runs go, which methods ran with it, per-method rates (resolved into lr).
  const names: string[] = RUN_SETTINGS.map((s) => s.name);
  for (const never of ['runs_dir', 'checkpoint_every', 'methods', 'lrs']) assert.ok(!names.includes(never), never);
});

test('identity comes from the declarations: every field with short and methods is shown for its method', () => {
  for (const spec of FIELDS.filter((f) => f.short && f.methods)) {
    const method = spec.methods![0];
    const other = spec.choices?.find((c) => c !== spec.default); // an enum's default variant is not named
    const value = spec.kind === 'intList' ? [0, 2] : spec.kind === 'int' ? 5 : (other ?? spec.default);
    const label = runLabel(config(method, { [spec.name]: value }));
    assert.ok(label.startsWith(methodName(method)), label);
    assert.ok(label.includes(settingText(spec, value)), `${spec.name}: ${label}`);
  }
});

test("an LST variant (init, fusion) is named when it is not the paper's default, and only then", () => {
  assert.equal(runLabel(config('lst', { init: 'distillation' })), 'LST r=8 · init distillation');
  assert.equal(runLabel(config('lst', { fusion: 'cross_attention' })), 'LST r=8 · fusion cross_attention');
  assert.equal(runLabel(config('lst', { init: 'fisher', fusion: 'gates' })), 'LST r=8');
  const gates = config('lst');
  const cross = config('lst', { fusion: 'cross_attention' });
  assert.equal(runLabel(gates, [gates, cross]), 'LST r=8 · fusion gates');
});
