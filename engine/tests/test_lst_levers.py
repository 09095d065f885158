"""LST memory/speed levers: each keeps the model's function (within its precision) and does what it claims."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from helpers import batch_of, build_method
from ladderlab.memory import SavedTensorMeter


def _no_dropout(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


def _forward(minilm, sst2, batch, **levers):
    torch.manual_seed(0)
    model, _ = build_method(minilm, sst2, "lst", init="magnitude", **levers)
    model.apply_pruning(__import__("ladderlab.methods.lst.pruning", fromlist=["x"]).magnitude_importance(model.model))
    _no_dropout(model).train()
    meter = SavedTensorMeter(model)
    with meter.measure():
        logits = model(batch)
    F.cross_entropy(logits, batch["labels"]).backward()
    return model, logits.detach(), meter.bytes


def test_levers_keep_the_function_and_cut_saved_bytes(minilm, sst2):
    batch = batch_of(minilm, sst2.train[:16], max_length=64)
    _, base, base_saved = _forward(minilm, sst2, batch)
    _, inference, _ = _forward(minilm, sst2, batch, backbone_mode="inference")
    _, eager, _ = _forward(minilm, sst2, batch, side_attention="eager")
    _, bf16_taps, bf16_saved = _forward(minilm, sst2, batch, tap_dtype="bf16")
    bf16_model, bf16_backbone, _ = _forward(minilm, sst2, batch, backbone_dtype="bf16", tap_dtype="bf16")
    assert torch.equal(inference, base)
    torch.testing.assert_close(eager, base, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(bf16_taps, base, atol=0.05, rtol=0.05)
    # A bf16 backbone rounds every state it hands the side (8 mantissa bits, 6 layers deep); with the embedded MiniLM's
    # own mean pooling (pooling auto) the worst of these 32 logits moved 0.064. Logits here span about +-1.
    torch.testing.assert_close(bf16_backbone, base, atol=0.1, rtol=0.05)
    print(f"\nsaved for backward: fp32 taps {base_saved / 2**20:.2f} MiB, bf16 taps {bf16_saved / 2**20:.2f} MiB")
    b, length = batch["input_ids"].shape
    tap_bytes_fp32 = 7 * b * length * 384 * 4  # embedding + 6 layer taps, kept for the downsamples' backward
    assert base_saved - bf16_saved >= 0.9 * tap_bytes_fp32 / 2  # bf16 halves exactly those
    frozen = [p for p in bf16_model.model.parameters() if not p.requires_grad and p.is_floating_point()]
    trainable = [p for p in bf16_model.parameters() if p.requires_grad]
    assert frozen and all(p.dtype == torch.bfloat16 for p in frozen)
    assert trainable and all(p.dtype == torch.float32 and p.grad is not None for p in trainable)


def test_tap_cache_skips_the_backbone_with_identical_logits(minilm, sst2):
    batch = batch_of(minilm, sst2.train[:8], max_length=64)
    torch.manual_seed(0)
    model, _ = build_method(minilm, sst2, "lst", init="random", tap_cache="cpu")
    _no_dropout(model).train()
    calls = []
    model.model.base_model.encoder.layer[0].register_forward_hook(lambda *a: calls.append(1))
    first = model(batch).detach()
    assert len(calls) == 1 and len(model.tap_cache._rows) == 8
    # the same examples in another order and with other padding: served from the cache, backbone skipped
    shuffled = batch_of(minilm, [sst2.train[i] for i in (7, 3, 0, 5, 1, 6, 2, 4)] + [sst2.train[0]], max_length=64)
    again = model(shuffled).detach()
    assert len(calls) == 1, "the backbone ran although every example was cached"
    torch.testing.assert_close(again[:8], first[[7, 3, 0, 5, 1, 6, 2, 4]], atol=1e-5, rtol=1e-5)
    loss = F.cross_entropy(model(shuffled), shuffled["labels"])
    loss.backward()
    assert model.up.weight.grad is not None
    model.eval()  # evaluation never reads the training cache
    model(batch)
    assert len(calls) == 2
    assert "8 examples" in model.tap_cache.describe()


def test_tap_cache_stops_growing_at_its_limit(minilm, sst2):
    model, _ = build_method(minilm, sst2, "lst", init="random", tap_cache="cpu")
    model.tap_cache.max_bytes = 1
    model.train()(batch_of(minilm, sst2.train[:4], max_length=32))
    assert model.tap_cache.full and not model.tap_cache._rows


def test_bf16_backbone_takes_the_fisher_init(minilm, sst2):
    """The Fisher pass runs the whole task model: a bf16 backbone must feed its fp32 head (regression guard)."""
    model, _ = build_method(minilm, sst2, "lst", backbone_dtype="bf16", tap_dtype="bf16", fisher_samples=4)
    examples = [batch_of(minilm, [e], max_length=32) for e in sst2.train[:4]]
    phases = []

    def on_phase(name):
        phases.append(name)
        return contextlib.nullcontext()

    model.initialize(
        examples, on_phase, init="fisher", loss_fn=lambda logits, labels: F.cross_entropy(logits.float(), labels)
    )
    assert phases == ["pruning_init"] and model.pruned_sets
    logits = model.train()(batch_of(minilm, sst2.train[:4], max_length=32))
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
