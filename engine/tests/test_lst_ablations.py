"""The paper's ablations of LST's side network (Figure 8, Appendix A) as experiment fields: side_network
side_tuning | compression and side_block adapter. Each builds on the families it supports (a BadInput elsewhere),
trains a real step on real SST-2 rows with the backbone out of autograd, and has the parameters its design says."""

from __future__ import annotations

import json
from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F

from helpers import SST2, batch_of, cli, experiment, run_folders
from ladderlab import cli as ladderlab_cli
from ladderlab.backbones import load_backbone
from ladderlab.data import load_task
from ladderlab.errors import BadInput
from ladderlab.methods import BUILDERS

PRESETS = ("bert-tiny", "gpt2-tiny", "t5-tiny")
# Each variant with the families it supports: side-tuning and compression every family, adapter blocks one-stack ones.
VARIANTS = {
    "side_tuning": ({"side_network": "side_tuning"}, PRESETS),
    "compression": ({"side_network": "compression"}, PRESETS),
    "adapter": ({"side_block": "adapter"}, ("bert-tiny", "gpt2-tiny")),
}
CASES = [(v, p) for v, (_, presets) in VARIANTS.items() for p in presets]


@pytest.fixture(scope="module")
def backbones():
    return {name: load_backbone(f"preset:{name}") for name in PRESETS}


@pytest.fixture(scope="module")
def task():
    return load_task("sst2", str(SST2), seed=0, max_train_examples=32, max_eval_examples=8)


def build(backbone, task, **fields):
    exp = experiment(methods=["lst"], r=4, ladder_init="selection", **fields)  # the paper's pruning init, no taps read
    model = BUILDERS["lst"](backbone, backbone.new_task_model(task.spec, 0), exp)
    model.initialize([], lambda _phase: nullcontext(), init="magnitude", loss_fn=None)
    return model


def trainable(model) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def head_count(model) -> int:
    return sum(p.numel() for name in model.family.head_modules for p in model.model.get_submodule(name).parameters())


def width(backbone) -> int:
    return backbone.family.hidden_size(backbone.config)


@pytest.mark.parametrize(("variant", "preset"), CASES)
def test_variant_trains_a_real_step_with_the_backbone_out_of_autograd(backbones, task, variant, preset):
    backbone = backbones[preset]
    model = build(backbone, task, **VARIANTS[variant][0])
    model.train()
    batch = batch_of(backbone, task.train[:8], max_length=32)

    # Every tensor autograd saves while the backbone's forward runs (compression: the backbone must not run at all).
    ran, inside, saved_inside = [], [], []
    original = model.family.run_backbone

    def traced(m, b):
        ran.append(True)
        inside.append(True)
        try:
            return original(m, b)
        finally:
            inside.pop()

    def pack(t):
        if inside:
            saved_inside.append(tuple(t.shape))
        return t

    model.family.run_backbone = traced  # instance attribute: this test's family object only
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = F.cross_entropy(model(batch), batch["labels"])
    finally:
        del model.family.run_backbone
    assert saved_inside == [], f"the backbone saved tensors for backward: {saved_inside[:5]}"
    assert bool(ran) == (variant != "compression"), "compression discards the backbone; the others read it"

    params = trainable(model)
    before = {n: p.detach().clone() for n, p in params.items()}
    optimizer = torch.optim.AdamW(params.values(), lr=1e-2)
    loss.backward()
    optimizer.step()
    backbone_params = {id(p) for p in model.model.parameters()} - {
        id(p) for name in model.family.head_modules for p in model.model.get_submodule(name).parameters()
    }
    assert all(p.grad is None for p in model.model.parameters() if id(p) in backbone_params)
    moved = [n for n, p in params.items() if not torch.equal(p.detach(), before[n])]
    assert len(moved) > len(params) // 2, f"a real step moves the side network: {sorted(set(params) - set(moved))}"
    assert torch.isfinite(loss)


@pytest.mark.parametrize("preset", PRESETS)
def test_side_tuning_trades_every_ladder_for_one_late_fusion(backbones, task, preset):
    backbone = backbones[preset]
    lst, side_tuning = build(backbone, task), build(backbone, task, side_network="side_tuning")
    stacks, kept = len(lst.stack_infos), len(lst.kept)
    d = width(backbone)
    ladder = d * (d // 4) + d // 4  # one downsample, weight and bias (r=4)
    expected = sum(p.numel() for p in trainable(lst).values()) - stacks * kept * (ladder + 1) + ladder + 1
    assert sum(p.numel() for p in trainable(side_tuning).values()) == expected
    assert all(len(side_tuning.downsamples(s.name)) == 0 for s in side_tuning.stack_infos)
    assert side_tuning.fusion_gate().item() == pytest.approx(0.5)
    # like LST's ladders, the fusion starts as the pruning's residual selection of the backbone's last layer
    residual = side_tuning.pruned_sets[side_tuning.stack_infos[-1].name][0]["R"]
    expected_down = torch.zeros_like(side_tuning.fusion_down.weight)
    expected_down[torch.arange(len(residual)), residual] = 1.0
    assert torch.equal(side_tuning.fusion_down.weight, expected_down)


# The backbone's token table each family's compression cuts its side embeddings from, and the side's table.
TOKEN_TABLES = {
    "bert-tiny": ("base_model.embeddings.word_embeddings", "embeddings.inner.word_embeddings"),
    "gpt2-tiny": ("transformer.wte", "embeddings.wte"),
    "t5-tiny": ("shared", "embeddings.shared"),
}


@pytest.mark.parametrize("preset", PRESETS)
def test_compression_has_no_ladder_and_its_own_pruned_embeddings(backbones, task, preset):
    backbone = backbones[preset]
    lst, compression = build(backbone, task), build(backbone, task, side_network="compression")
    params = trainable(compression)
    assert not [n for n in params if n.startswith(("down", "gate_alpha"))], "compression has no ladder parameter"
    head = tuple(f"model.{h}." for h in backbone.family.head_modules)
    assert not [n for n in params if n.startswith("model.") and not n.startswith(head)], "nor a trainable backbone"

    def numel(named, prefix):
        return sum(p.numel() for n, p in named.items() if n.startswith(prefix))

    # side blocks as LST's; GPT-2's side gets a position table in place of its zero positions; its own embeddings
    positions = backbone.config.n_positions * (width(backbone) // 4) if preset == "gpt2-tiny" else 0
    assert numel(params, "side.") == numel(trainable(lst), "side.") + positions
    expected = numel(params, "side.") + numel(params, "embeddings.") + numel(params, "up.") + head_count(lst)
    assert sum(p.numel() for p in params.values()) == expected
    assert numel(params, "embeddings.") >= backbone.config.vocab_size * (width(backbone) // 4)

    # the embeddings are the backbone's, cut at the pruning's residual set like every other side weight
    residual = compression.pruned_sets[compression.stack_infos[0].name][0]["R"]
    source, side = TOKEN_TABLES[preset]
    expected_table = compression.model.get_submodule(source).weight.index_select(1, residual)
    assert torch.equal(compression.get_submodule(side).weight, expected_table)


def test_adapter_blocks_are_bottlenecks_with_gates_and_nothing_else(backbones, task):
    backbone = backbones["bert-tiny"]
    model = build(backbone, task, side_block="adapter", keep_layers=[0, 2])
    d = width(backbone)
    block = 2 * d * (d // 4) + d // 4 + d + 2 * d  # down, up (weights, biases), layer norm (r=4)
    assert sum(p.numel() for p in trainable(model).values()) == 2 * block + 2 + head_count(model)
    assert [model.gate(k).item() for k in range(2)] == [0.5, 0.5]
    # up starts at zero: each block starts as the identity, the network as a gated mix of the backbone's layers
    assert all(torch.count_nonzero(b.bottleneck.up.weight) == 0 for b in model.blocks)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"side_block": "adapter", "backbone_preset": "t5-tiny"}, "BERT-family and GPT-2"),
        ({"side_network": "compression", "side_block": "adapter"}, "side_block adapter needs the ladders"),
        ({"side_network": "side_tuning", "fusion": "cross_attention"}, "fusion cross_attention needs the ladders"),
        ({"side_block": "adapter", "fusion": "cross_attention"}, "through gates"),
        ({"side_block": "adapter", "tap_cache": "cpu"}, "tap_cache applies to transformer side blocks"),
    ],
)
def test_settings_a_variant_cannot_take_are_bad_input(backbones, task, fields, match):
    fields = dict(fields)
    backbone = backbones[fields.pop("backbone_preset", "bert-tiny")]
    with pytest.raises(BadInput, match=match) as info:
        build(backbone, task, **fields)
    assert info.value.hint


def test_compare_runs_every_variant_and_records_it(tmp_path, capsys):
    """``ladderlab compare`` trains the variant (Fisher pruning init from real SST-2 rows) and its run's config
    records it, which is what run labels and the results table read."""
    runs = tmp_path / "runs"
    for extra in ("--side-network side_tuning", "--side-network compression", "--side-block adapter"):
        args = cli(
            "compare --methods lst --backbone preset:bert-tiny --task sst2 --data",
            SST2,
            "--max-train-examples 16 --max-eval-examples 8 --epochs 1 --batch-size 8 --max-length 32",
            "--fisher-samples 4 --format events --json --runs-dir",
            runs,
            extra,
        )
        assert ladderlab_cli.main(args) == 0, extra
    capsys.readouterr()
    configs = [json.loads((d / "config.json").read_text()) for d in run_folders(runs)]
    variants = sorted((c["side_network"], c["side_block"]) for c in configs)
    assert variants == [("compression", "transformer"), ("ladder", "adapter"), ("side_tuning", "transformer")]
    summaries = [json.loads((d / "summary.json").read_text()) for d in run_folders(runs)]
    assert len({s["trainable_pct"] for s in summaries}) == 3, "each variant trains its own parameter count"
    # the pruning init is reported where it happens; adapter blocks have none (they start as the identity)
    for folder, config in zip(run_folders(runs), configs, strict=True):
        events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
        inits = [e for e in events if e["type"] == "init_progress"]
        assert bool(inits) == (config["side_block"] == "transformer"), (config["side_network"], inits)


def test_side_tuning_late_fusion_tap_is_served_by_the_tap_cache(backbones, task):
    """tap_cache cpu: the second epoch skips the backbone; the late fusion's tap must come back with the others."""
    backbone = backbones["bert-tiny"]
    model = build(backbone, task, side_network="side_tuning", tap_cache="cpu")
    model.train()
    batch = batch_of(backbone, task.train[:8], max_length=32)
    logits = []
    for _ in range(2):
        torch.manual_seed(0)  # the same dropout masks in the side network both times
        logits.append(model(batch))
    assert model.tap_cache is not None and model.tap_cache.hits == 1
    assert torch.allclose(logits[0], logits[1], atol=1e-6)
