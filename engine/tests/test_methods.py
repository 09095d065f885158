"""Each method trains exactly what it should: trainable-parameter counts against closed-form expectations
for the real MiniLM backbone (d=384, 6 layers, FFN 1536, 2 labels)."""

from __future__ import annotations

import pytest
import torch

from helpers import batch_of, build_method

D, LAYERS, FFN, LABELS = 384, 6, 1536, 2
HEAD = D * LABELS + LABELS  # the new classification layer


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def total(model) -> int:
    return sum(p.numel() for p in model.parameters())


def expected(method: str, exp) -> int:
    if method == "bitfit":
        per_layer = 4 * D + 2 * D + FFN + D  # q,k,v,o biases + 2 layer-norm biases + FFN in/out biases
        return LAYERS * per_layer + D + D + HEAD  # + embedding layer-norm bias + pooler bias
    if method == "lora":
        return LAYERS * 2 * exp.lora_rank * (D + D) + HEAD  # A (r x d) and B (d x r) on query and value
    if method == "adapter":
        per_adapter = D * exp.adapter_size + exp.adapter_size + exp.adapter_size * D + D
        layer_norms = LAYERS * 2 * 2 * D + 2 * D  # 2 per layer (weight+bias) + the embedding layer norm
        return LAYERS * 2 * per_adapter + layer_norms + HEAD
    if method == "prompt":
        return exp.prompt_tokens * D + HEAD
    if method == "lst":
        d, f = D // exp.r, FFN // exp.r
        side_layer = 4 * (d * d + d) + 2 * 2 * d + (d * f + f) + (f * d + d)
        ladders = (LAYERS + 1) * (D * d + d)  # embedding downsample + one per kept layer
        return LAYERS * side_layer + ladders + LAYERS + (d * D + D) + HEAD  # + gates + upsample
    raise AssertionError(method)


@pytest.mark.parametrize("method", ["lst", "lora", "adapter", "bitfit", "prompt", "full"])
def test_trainable_parameter_count(minilm, sst2, method):
    model, exp = build_method(minilm, sst2, method)
    backbone_total = total(minilm.new_task_model(sst2.spec, 0))
    want = backbone_total if method == "full" else expected(method, exp)
    assert trainable(model) == want
    print(f"{method}: {want:,} trainable = {100 * want / backbone_total:.2f}% of {backbone_total:,}")


@pytest.mark.parametrize("method", ["lst", "lora", "adapter", "bitfit", "prompt", "full"])
def test_only_trainable_parameters_receive_gradients(minilm, sst2, method):
    model, _ = build_method(minilm, sst2, method)
    model.train()
    batch = batch_of(minilm, sst2.train[:4])
    torch.nn.functional.cross_entropy(model(batch), batch["labels"]).backward()
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert p.grad is None, f"{method}: frozen {name} got a gradient"
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)


def test_bitfit_adds_zero_biases_where_the_backbone_has_none():
    from ladderlab.methods.bitfit import add_zero_biases

    net = torch.nn.Sequential(torch.nn.Linear(4, 3, bias=False), torch.nn.Linear(3, 2))
    x = torch.randn(5, 4)
    before = net(x)
    assert add_zero_biases(net, skip=()) == 1
    assert net[0].bias is not None and torch.all(net[0].bias == 0)
    assert torch.allclose(net(x), before), "zero-initialised biases must not change the function"
