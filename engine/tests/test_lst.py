"""Ladder Side-Tuning: the backbone stays out of autograd, the side network is what the paper describes."""

from __future__ import annotations

import itertools
from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F

from helpers import batch_of, build_method
from ladderlab.errors import BadInput
from ladderlab.methods.lst import pruning


def backbone_parameters(lst):
    head = {id(p) for name in lst.family.head_modules for p in lst.model.get_submodule(name).parameters()}
    return [(n, p) for n, p in lst.model.named_parameters() if id(p) not in head]


def test_backbone_gets_no_gradient_and_saves_nothing_for_backward(minilm, sst2):
    lst, _ = build_method(minilm, sst2, "lst", init="magnitude")
    lst.train()
    assert not lst.model.training, "the backbone must run in eval mode even while the side trains"
    batch = batch_of(minilm, sst2.train[:8])

    # Record every tensor autograd saves while the backbone's forward runs. (The frozen head after the side
    # network, e.g. BERT's pooler, is not part of that forward: it processes side states, like T5's LM head.)
    in_backbone = []
    saved_in_backbone = []
    original = lst.family.run_backbone

    def traced_run_backbone(model, b):
        in_backbone.append(True)
        try:
            return original(model, b)
        finally:
            in_backbone.pop()

    def pack(t):
        if in_backbone:
            saved_in_backbone.append(tuple(t.shape))
        return t

    lst.family.run_backbone = traced_run_backbone  # instance attribute: this test's family object only
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = F.cross_entropy(lst(batch), batch["labels"])
    finally:
        del lst.family.run_backbone
    loss.backward()

    assert saved_in_backbone == [], f"backbone saved tensors for backward: {saved_in_backbone[:5]}"
    assert len(in_backbone) == 0
    with_grad = [n for n, p in backbone_parameters(lst) if p.grad is not None]
    assert with_grad == [], f"backbone parameters got gradients: {with_grad[:5]}"
    assert all(not p.requires_grad for _, p in backbone_parameters(lst))
    side_grads = [p.grad for p in lst.side.parameters()]
    assert all(g is not None for g in side_grads) and any(g.abs().sum() > 0 for g in side_grads)


def test_gates_start_at_one_half(minilm, sst2):
    lst, _ = build_method(minilm, sst2, "lst", init="random")
    gates = torch.stack([lst.gate("encoder", k) for k in range(len(lst.kept))])
    assert torch.allclose(gates, torch.full_like(gates, 0.5))
    assert torch.all(lst.gate_alpha["encoder"] == 0)


@pytest.mark.parametrize("r", [2, 4, 8, 16, 32])
def test_side_width_is_backbone_width_over_r(minilm, sst2, r):
    lst, _ = build_method(minilm, sst2, "lst", r=r, init="random")
    d = minilm.config.hidden_size
    blocks = lst.family.side_layers(lst.side["encoder"])
    for block in blocks:
        assert block.attention.self.query.weight.shape == (d // r, d // r)
        assert block.intermediate.dense.weight.shape == (minilm.config.intermediate_size // r, d // r)
    assert lst.down_embed["encoder"].weight.shape == (d // r, d)
    assert lst.up.weight.shape == (d, d // r)


def test_kept_layers_are_honoured(minilm, sst2):
    lst, _ = build_method(minilm, sst2, "lst", keep_layers=[1, 3, 5], init="magnitude", ladder_init="selection")
    lst.initialize(iter([]), nullcontext, init="magnitude", loss_fn=None)
    assert lst.kept == [1, 3, 5]
    assert len(lst.family.side_layers(lst.side["encoder"])) == 3
    assert len(lst.down["encoder"]) == 3
    # the taps come from exactly those backbone layers
    layer_outputs = {}
    handles = [
        layer.register_forward_hook(lambda m, a, o, i=i: layer_outputs.__setitem__(i, o))
        for i, layer in enumerate(lst.model.base_model.encoder.layer)
    ]
    lst._taps = {"encoder": {}}
    with torch.no_grad():
        lst.family.run_backbone(lst.model, batch_of(minilm, sst2.train[:2]))
    assert set(lst._taps["encoder"]) == {"embed", 0, 1, 2}
    for h in handles:
        h.remove()
    for k, i in enumerate([1, 3, 5]):
        assert torch.equal(lst._taps["encoder"][k], layer_outputs[i]), f"tap {k} is not backbone layer {i}'s output"
    # side block k was initialised from backbone layer keep_layers[k]
    sets = lst.pruned_sets["encoder"]
    for k, i in enumerate([1, 3, 5]):
        backbone_q = lst.model.base_model.encoder.layer[i].attention.self.query.weight
        side_q = lst.family.side_layers(lst.side["encoder"])[k].attention.self.query.weight
        expected = backbone_q[sets[k]["QK"]][:, sets[k]["R"]]
        assert torch.equal(side_q, expected)


def test_keep_layers_out_of_range_and_r_not_dividing_are_bad_input(minilm, sst2):
    with pytest.raises(BadInput, match="out of range"):
        build_method(minilm, sst2, "lst", keep_layers=[0, 6])
    with pytest.raises(BadInput, match="does not divide"):
        build_method(minilm, sst2, "lst", r=7)


def brute_force_best_subset(scores: torch.Tensor, keep: int) -> set[int]:
    best, best_set = None, None
    for subset in itertools.combinations(range(len(scores)), keep):
        total = float(scores[list(subset)].sum())
        if best is None or total > best:
            best, best_set = total, set(subset)
    return best_set


def test_pruning_keeps_exactly_the_top_importance_rows():
    torch.manual_seed(3)
    layer = torch.nn.Linear(6, 10)  # a small layer: 10 rows, keep 1/r = 1/2 of them
    importance = layer.weight.detach().abs()
    row_scores = importance.abs().sum(dim=1)  # s_i = sum_j |I_ij|  (paper §3.3)
    picked = pruning.top_rows(row_scores, keep_per_group=5)
    assert set(picked.tolist()) == brute_force_best_subset(row_scores, 5)
    # per head: 2 heads of 5 rows, keep 2 in each
    picked_heads = pruning.top_rows(row_scores, keep_per_group=2, groups=2)
    assert set(picked_heads[:2].tolist()) == brute_force_best_subset(row_scores[:5], 2)
    assert set((picked_heads[2:] - 5).tolist()) == brute_force_best_subset(row_scores[5:], 2)


def test_fisher_importance_comes_from_data_gradients_and_differs_from_magnitude(minilm, sst2):
    lst, _ = build_method(minilm, sst2, "lst", init="random")

    def loss(b):
        return F.cross_entropy(lst.family.logits(lst.model, b), b["labels"])

    one = [batch_of(minilm, [e]) for e in sst2.train[:6]]
    other = [batch_of(minilm, [e]) for e in sst2.train[6:12]]
    fisher_a = pruning.fisher_importance(lst.model, loss, one)
    fisher_b = pruning.fisher_importance(lst.model, loss, other)
    magnitude = pruning.magnitude_importance(lst.model)
    name = "bert.encoder.layer.2.attention.self.query.weight"
    assert fisher_a[name].abs().sum() > 0
    assert not torch.allclose(fisher_a[name], fisher_b[name]), "Fisher must depend on the data"
    rows_f = pruning.top_rows(fisher_a[name].sum(1), 8)
    rows_m = pruning.top_rows(magnitude[name].sum(1), 8)
    assert not torch.equal(rows_f, rows_m), "Fisher and magnitude picked the same rows"
    # Fisher leaves the backbone frozen afterwards
    assert not any(p.requires_grad for n, p in backbone_parameters(lst))


def test_fisher_and_magnitude_init_give_different_side_networks(minilm, sst2):
    examples = [batch_of(minilm, [e]) for e in sst2.train[:8]]
    nets = {}
    for init in ("fisher", "magnitude"):
        lst, _ = build_method(minilm, sst2, "lst", init=init)
        lst.initialize(iter(examples), nullcontext, init=init, loss_fn=F.cross_entropy)
        nets[init] = lst

    def first_side_query(m):
        return m.family.side_layers(m.side["encoder"])[0].attention.self.query.weight

    assert not torch.equal(first_side_query(nets["fisher"]), first_side_query(nets["magnitude"]))


def test_pruning_init_starts_ladders_as_the_residual_selection(minilm, sst2):
    lst, _ = build_method(minilm, sst2, "lst", init="magnitude", ladder_init="selection")
    lst.initialize(iter([]), nullcontext, init="magnitude", loss_fn=None)
    residual = lst.pruned_sets["encoder"][0]["R"]
    x = torch.randn(2, 5, minilm.config.hidden_size)
    with torch.no_grad():
        assert torch.equal(lst.down_embed["encoder"](x), x[..., residual])
        assert torch.equal(lst.down["encoder"][3](x), x[..., residual])
        y = torch.randn(2, 5, len(residual))
        up = lst.up(y)
        assert torch.equal(up[..., residual], y)
        others = torch.ones(up.shape[-1], dtype=torch.bool)
        others[residual] = False
        assert torch.all(up[..., others] == 0), "the upsample writes only the selected dims"
