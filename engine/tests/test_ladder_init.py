"""Issue 16's LST fields, on the embedded MiniLM and real SST-2 sentences: ladder_init=pca (the side network in the
top principal directions of the backbone's taps), lst_head_lr, gate_init and side_readout."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from helpers import batch_of, build_method, tiny_lst_run
from ladderlab.backbones import load_backbone
from ladderlab.comparison import run_comparison
from ladderlab.config import build_experiment
from ladderlab.data import task_spec
from ladderlab.errors import BadInput
from ladderlab.events import EventSink
from ladderlab.methods import BUILDERS
from ladderlab.methods.lst import ladder_basis
from ladderlab.methods.lst.init_cache import init_key


def _init(minilm, sst2, ladder_init: str):
    torch.manual_seed(0)
    model, _ = build_method(minilm, sst2, "lst", init="fisher", ladder_init=ladder_init)
    batches = [batch_of(minilm, sst2.train[i : i + 8], max_length=48) for i in (0, 8)]
    model.initialize(batches, lambda _phase: contextlib.nullcontext(), init="fisher", loss_fn=F.cross_entropy)
    return model


@pytest.fixture(scope="module")
def both(minilm, sst2):
    return _init(minilm, sst2, "selection"), _init(minilm, sst2, "pca")


def _taps(model, batch) -> list[torch.Tensor]:
    """Every tap of the batch's real tokens (embedding and kept layers), as rows."""
    taps = {"encoder": {}}
    model._taps = taps
    try:
        model._run_backbone(batch, taps)
    finally:
        model._taps = None
    mask = batch["attention_mask"].bool()
    return [t[mask] for t in taps["encoder"].values()]


def test_the_pca_basis_is_orthonormal_and_keeps_more_of_the_taps_than_the_selection(both, minilm, sst2):
    selection, pca = both
    basis = pca.pruned_sets["encoder"][0][ladder_basis.BASIS]
    d, k = basis.shape
    assert (d, k) == (384, 384 // pca.r)
    torch.testing.assert_close(basis.T @ basis, torch.eye(k), atol=1e-5, rtol=0)
    # the ladders start as the projection and the upsample as its transpose; the selection's as coordinate picks
    torch.testing.assert_close(pca.downsamples("encoder")[2].weight, basis.T)
    torch.testing.assert_close(pca.up.weight, basis)
    residual = selection.pruned_sets["encoder"][0]["R"]
    assert torch.equal(selection.up.weight.nonzero()[:, 0].sort().values, residual)
    # on sentences the basis was not computed from: every tap is reconstructed better by P than by the coordinates R
    held_out = batch_of(minilm, sst2.train[32:48], max_length=48)
    picks = torch.eye(d)[:, residual]
    for tap in _taps(pca, held_out):
        kept_by_pca = 1 - ladder_basis.reconstruction_error(tap, basis)
        kept_by_selection = 1 - ladder_basis.reconstruction_error(tap, picks)
        assert kept_by_pca > kept_by_selection + 0.1, (kept_by_pca, kept_by_selection)


def test_the_side_weights_are_rotated_onto_the_basis(both):
    """A weight reading the stream becomes W P, one writing it P^T W, a norm's scale the diagonal of P^T diag(g) P:
    with P = the selection's coordinates this is exactly the pruning's slice."""
    _, pca = both
    basis = pca.pruned_sets["encoder"][0][ladder_basis.BASIS]
    sets = pca.pruned_sets["encoder"][1]
    backbone, side = pca.stack_infos[0].layers[1], pca.family.side_layers(pca.side["encoder"])[1]
    query = backbone.attention.self.query.weight[sets["QK"]] @ basis
    written = basis.T @ backbone.output.dense.weight[:, sets["F"]]
    scale = basis.square().T @ backbone.output.LayerNorm.weight
    torch.testing.assert_close(side.attention.self.query.weight, query)
    torch.testing.assert_close(side.output.dense.weight, written)
    torch.testing.assert_close(side.output.LayerNorm.weight, scale)


def test_the_fisher_pass_hands_the_basis_the_same_taps_as_a_pass_of_its_own(minilm, sst2):
    """pca reads its taps during the Fisher pass's forward (no second backbone pass): the same tokens' taps a frozen
    forward of its own gives (padding left out), to bf16 rounding where the pass computes in bf16."""
    model, _ = build_method(minilm, sst2, "lst", init="fisher", ladder_init="pca")
    batches = [batch_of(minilm, sst2.train[i : i + 8], max_length=48) for i in (0, 8)]
    during_fisher = ladder_basis.TapMoments()
    model._importance("fisher", batches, F.cross_entropy, None, during_fisher)
    own_pass = ladder_basis.TapMoments().read(model, batches)
    assert during_fisher.sums.keys() == own_pass.sums.keys() == {"encoder"}
    assert len(during_fisher.sums["encoder"]) == 1 + len(model.kept)  # the embedding tap and each kept layer's
    tokens = int(sum(b["attention_mask"].sum() for b in batches))
    for key, (moment, count) in own_pass.sums["encoder"].items():
        assert count == tokens
        fisher_moment, fisher_count = during_fisher.sums["encoder"][key]
        assert fisher_count == count
        torch.testing.assert_close(fisher_moment, moment, rtol=2e-2, atol=2e-2 * float(moment.abs().max()))


def test_a_pca_run_trains_and_its_init_has_its_own_cache_key(tmp_path):
    examples = [{"input_ids": [101, 5, 102], "label": 1}]
    keys = {
        init_key(tiny_lst_run(tmp_path, init=init, ladder_init=ladder_init), "preset:bert-tiny", None, examples)[0]
        for init in ("fisher", "magnitude")
        for ladder_init in ("selection", "pca")
    }
    assert len(keys) == 4
    outcome = run_comparison(tiny_lst_run(tmp_path, ladder_init="pca", lst_head_lr=1e-2), EventSink("quiet"))
    assert not outcome.failed and len(outcome.rows) == 1
    (entry,) = (tmp_path / "runs" / ".cache" / "lst-init").glob("*.safetensors")
    basis = load_file(entry)["encoder/0/" + ladder_basis.BASIS]
    trained = load_file(Path(outcome.rows[0]["run_dir"]) / "trainable.safetensors")
    moved = (trained["down.encoder.0.weight"] - basis.T).abs().max()
    assert 0 < moved < 0.5, f"the ladder started as P^T and trained 8 steps: moved {moved}"


def test_the_head_gets_its_own_rate(minilm, sst2):
    model, _ = build_method(minilm, sst2, "lst", init="random", lst_head_lr=1e-2)
    groups = model.optimizer_groups(3e-3)
    assert [g["lr"] for g in groups] == [3e-3, 1e-2]
    head = {id(p) for p in model.model.classifier.parameters()}
    assert {id(p) for p in groups[1]["params"]} == head
    assert not head & {id(p) for p in groups[0]["params"]}
    plain, _ = build_method(minilm, sst2, "lst", init="random")
    assert len(plain.optimizer_groups(3e-3)) == 1


def test_a_bad_ladder_init_is_refused():
    with pytest.raises(BadInput, match="ladder_init"):
        build_experiment({}, {"ladder_init": "svd"})


def test_the_gates_start_at_gate_init(minilm, sst2):
    model, _ = build_method(minilm, sst2, "lst", init="random", gate_init=0.2)
    assert torch.allclose(model.gate("encoder", 3), torch.tensor(0.2))
    with pytest.raises(BadInput, match="gate_init"):
        build_experiment({}, {"gate_init": 1.0})


def test_backbone_plus_side_starts_as_the_frozen_backbone_and_trains_the_side(minilm, sst2):
    """side_readout=backbone_plus_side: the upsample starts at zero, so at step 0 LST's logits are the frozen
    backbone's own (same head); after one step the side network's correction is no longer zero."""
    torch.manual_seed(0)
    model, _ = _init_model(minilm, sst2, side_readout="backbone_plus_side")
    batch = batch_of(minilm, sst2.train[:8], max_length=48)
    model.eval()
    torch.testing.assert_close(model(batch), model.family.logits(model.model, batch), atol=1e-5, rtol=1e-4)
    model.train()
    F.cross_entropy(model(batch), batch["labels"]).backward()
    assert model.up.weight.grad is not None and model.up.weight.grad.abs().sum() > 0


def test_backbone_plus_side_is_refused_for_a_decoder():
    backbone = load_backbone("preset:gpt2-tiny")
    spec = task_spec("sst2")
    exp = build_experiment({}, {"backbone": "preset:gpt2-tiny", "side_readout": "backbone_plus_side"})
    with pytest.raises(BadInput, match="side_readout"):
        BUILDERS["lst"](backbone, backbone.new_task_model(spec, 0, exp.pooling), exp)


def _init_model(minilm, sst2, **fields):
    model, exp = build_method(minilm, sst2, "lst", init="fisher", **fields)
    batches = [batch_of(minilm, sst2.train[i : i + 8], max_length=48) for i in (0, 8)]
    model.initialize(batches, lambda _phase: contextlib.nullcontext(), init="fisher", loss_fn=F.cross_entropy)
    return model, exp
