"""Issue 12's Appendix A / Figure 8 variants of LST: ladders fused by cross-attention (``fusion=cross_attention``)
and the side network initialised by distilling the backbone (``init=distillation``). On every family (bert-tiny,
gpt2-tiny, t5-tiny presets) and real SST-2 rows: they build, train a real step, keep the backbone out of autograd,
have the parameters designed; the distillation lowers its own objective, runs as its own phase and is cached."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import cast

import jsonschema
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from helpers import SCHEMA, SST2, tiny_lst_run
from ladderlab import stop
from ladderlab.backbones import load_backbone
from ladderlab.comparison import run_comparison
from ladderlab.config import build_experiment
from ladderlab.data import load_task, task_spec
from ladderlab.errors import BadInput
from ladderlab.events import EventSink, human_line
from ladderlab.methods import BUILDERS
from ladderlab.methods.lst import distill, span_corruption
from ladderlab.methods.lst.fusion import CrossAttentionFusion, cross_attention_layers
from ladderlab.methods.lst.init_cache import InitCache, init_key
from ladderlab.methods.lst.model import LadderSideNetwork
from ladderlab.param_counts import count_trainable

PRESETS = ("bert-tiny", "gpt2-tiny", "t5-tiny")
STACKS = {"bert-tiny": 1, "gpt2-tiny": 1, "t5-tiny": 2}  # T5: an encoder and a decoder side stack
D, LAYERS = 64, 4  # every tiny preset: width 64, 4 layers (4 heads)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.fixture(scope="module")
def backbones():
    return {name: load_backbone(f"preset:{name}") for name in PRESETS}


@pytest.fixture(scope="module")
def task():
    return load_task("sst2", str(SST2), seed=0, max_train_examples=64, max_eval_examples=8)


def build(backbone, task, **overrides) -> LadderSideNetwork:
    exp = build_experiment({}, {"backbone": backbone.name, "methods": ["lst"], **overrides})
    lst = BUILDERS["lst"](backbone, backbone.new_task_model(task.spec, 0), exp)
    assert isinstance(lst, LadderSideNetwork)
    return lst


def fusion_layers(lst: LadderSideNetwork) -> dict[str, list[CrossAttentionFusion]]:
    assert lst.cross_attention is not None
    return {
        s: [cast(CrossAttentionFusion, m) for m in cast(nn.ModuleList, ms)] for s, ms in lst.cross_attention.items()
    }


def batch(backbone, examples, max_length: int = 40) -> dict:
    texts = [e.text_a for e in examples]
    enc = backbone.tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    return {**enc, "labels": torch.tensor([e.label for e in examples])}


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def no_phase(_name):
    return contextlib.nullcontext()


def backbone_forward_saves(lst, b: dict) -> tuple[list, torch.Tensor]:
    """(shapes autograd saved while the backbone's forward ran, the logits)."""
    saved: list = []
    original = lst.family.run_backbone
    lst.family.run_backbone = lambda model, x: (saved.append("start"), original(model, x), saved.append("end"))
    try:
        with torch.autograd.graph.saved_tensors_hooks(lambda t: (saved.append(tuple(t.shape)), t)[1], lambda t: t):
            logits = lst(b)
    finally:
        del lst.family.run_backbone
    return saved[saved.index("start") + 1 : saved.index("end")], logits


# -- fusion: cross_attention ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", PRESETS)
def test_cross_attention_trains_a_step_with_the_backbone_out_of_autograd(backbones, task, preset):
    backbone = backbones[preset]
    lst = build(backbone, task, fusion="cross_attention", init="magnitude")
    b = batch(backbone, task.train[:8])
    lst.initialize([b], no_phase, init="magnitude", loss_fn=None)  # ladder_init pca (the default) reads its taps
    lst.train()
    inside, logits = backbone_forward_saves(lst, b)
    assert inside == [], f"the backbone saved tensors for backward: {inside[:5]}"
    before = {n: p.detach().clone() for n, p in lst.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in lst.parameters() if p.requires_grad], lr=3e-3)
    loss = F.cross_entropy(logits, b["labels"])
    loss.backward()
    head = {id(p) for name in backbone.family.head_modules for p in lst.model.get_submodule(name).parameters()}
    got = [n for n, p in lst.model.named_parameters() if p.grad is not None and id(p) not in head]
    assert got == [], f"backbone parameters got gradients: {got[:5]}"
    optimizer.step()
    assert torch.isfinite(loss)
    moved = {n for n, p in lst.named_parameters() if p.requires_grad and not torch.equal(p, before[n])}
    # the output projections start at zero and move first: the side reads its ladders from the first update on
    assert any(n.startswith("cross_attention.") and n.endswith("out_proj.weight") for n in moved), sorted(moved)[:8]
    assert any(n.startswith("side.") for n in moved)


@pytest.mark.parametrize("preset", PRESETS)
def test_cross_attention_adds_one_attention_layer_per_side_block_instead_of_a_gate(backbones, task, preset):
    backbone = backbones[preset]
    gates = build(backbone, task)
    cross = build(backbone, task, fusion="cross_attention")
    d_side, blocks = D // 8, STACKS[preset] * LAYERS
    attention_layer = 4 * (d_side * d_side + d_side) + 2 * d_side  # q, k, v, o with biases; the query's norm
    assert trainable(cross) - trainable(gates) == blocks * (attention_layer - 1)  # each block's gate scalar goes
    assert [len(layers) for layers in fusion_layers(cross).values()] == [LAYERS] * STACKS[preset]


def test_cross_attention_heads_that_do_not_split_the_side_width_are_bad_input(backbones, task):
    # the side's own attention is checked on T5's heads x d_kv, the fusion layer on d_model / r: a T5 whose two
    # differ can pass the first check and not this one (a crash in nn.MultiheadAttention without it)
    with pytest.raises(BadInput, match="does not split into its 3 attention heads") as info:
        cross_attention_layers(["encoder"], 2, 16, 3)
    assert info.value.hint is not None and "side_heads" in info.value.hint
    build(backbones["t5-tiny"], task, fusion="cross_attention", r=4, side_heads=8)  # 16 / 8: fine


def test_cross_attention_masks_padding_and_is_causal_in_a_decoder():
    torch.manual_seed(0)
    for causal in (False, True):
        layer = CrossAttentionFusion(8, 2, causal)
        torch.nn.init.normal_(layer.attn.out_proj.weight)  # as after training: the layer now reads its keys
        h, ladder = torch.randn(1, 5, 8), torch.randn(1, 5, 8)
        mask = torch.tensor([[1, 1, 1, 1, 0]])
        out = layer(h, ladder, mask)
        changed = ladder.clone()
        changed[0, 4] += 10.0  # a padding key: no real position may see it
        assert torch.allclose(layer(h, changed, mask)[0, :4], out[0, :4], atol=1e-6)
        later = ladder.clone()
        later[0, 3] += 10.0  # a later real key: a decoder's positions 0..2 may not see it, an encoder's do
        same_before = torch.allclose(layer(h, later, mask)[0, :3], out[0, :3], atol=1e-6)
        assert same_before == causal
    assert torch.isfinite(layer(h, ladder, torch.tensor([[0, 0, 1, 1, 1]]))).all()  # left padding: no NaN


@pytest.mark.parametrize("preset", ["bert-tiny", "gpt2-tiny"])
def test_cross_attention_logits_do_not_depend_on_padding(backbones, task, preset):
    backbone = backbones[preset]
    lst = build(backbone, task, fusion="cross_attention", init="random")
    for layers in fusion_layers(lst).values():
        for layer in layers:
            torch.nn.init.normal_(layer.attn.out_proj.weight, std=0.5)
    lst.eval()
    rows = sorted(task.train[:16], key=lambda e: len(e.text_a))
    alone = batch(backbone, rows[:1])
    padded = batch(backbone, [rows[0], rows[-1]])  # the short row now padded (GPT-2 on the left, BERT on the right)
    assert padded["attention_mask"][0].sum() < padded["attention_mask"].shape[1]
    with torch.no_grad():
        assert torch.allclose(lst(alone)[0], lst(padded)[0], atol=1e-5)


# -- init: distillation --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", PRESETS)
def test_distillation_lowers_its_objective_and_leaves_the_backbone_alone(backbones, task, preset):
    backbone = backbones[preset]
    lst = build(backbone, task, init="distillation")
    frozen = {n: p.detach().clone() for n, p in lst.model.named_parameters() if not p.requires_grad}
    student = {n: p.detach().clone() for n, p in distill.student_parameters(lst).items()}
    batches = [batch(backbone, task.train[i : i + 8]) for i in range(0, 32, 8)] * 5  # 20 steps of real rows
    losses = distill.distill(lst, batches, lr=3e-3, max_grad_norm=1.0, seed=0)
    assert len(losses) == 20 and all(torch.isfinite(torch.tensor(losses)))
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.95 * first, f"distillation objective {first:.3f} -> {last:.3f}"
    assert all(torch.equal(p, frozen[n]) for n, p in lst.model.named_parameters() if n in frozen)
    assert all(not torch.equal(p, student[n]) for n, p in distill.student_parameters(lst).items() if p.dim() == 2)
    assert lst.ladders_on, "the ladders are back on for the task"
    lst.train()
    inside, logits = backbone_forward_saves(lst, batch(backbone, task.train[:4]))
    assert inside == [] and logits.shape == (4, 2)


def test_distillation_student_is_the_side_network_alone(backbones, task):
    """Not the ladders (the student would copy the teacher through them), nor the task-only parts."""
    lst = build(backbones["bert-tiny"], task, init="distillation")
    names = set(distill.student_parameters(lst))
    assert names and all(n.split(".")[0] in {"side", "down_embed", "up"} for n in names)
    assert {n.split(".")[0] for n in names} == {"side", "down_embed", "up"}
    # the objective does not read the per-layer ladders: changing them changes the task's logits, not it
    b = batch(backbones["bert-tiny"], task.train[:8])
    torch.manual_seed(0)  # the same dropout masks in both calls
    objective = distill.distill(lst, [b], lr=0.0, max_grad_norm=1.0, seed=0)  # lr 0: nothing moves
    lst.eval()
    with torch.no_grad():
        logits = lst(b)
        for linear in lst.downsamples("encoder"):
            linear.weight.normal_()
        assert not torch.allclose(lst(b), logits)
    torch.manual_seed(0)
    assert distill.distill(lst, [b], lr=0.0, max_grad_norm=1.0, seed=0) == objective


def test_span_corruption_hides_spans_behind_sentinels_that_the_target_restores(backbones, task):
    tokenizer = backbones["t5-tiny"].tokenizer
    b = batch(backbones["t5-tiny"], task.train[:16], max_length=64)
    special = set(tokenizer.all_special_ids)
    sentinels = span_corruption.sentinel_ids(tokenizer, 32128, span_corruption.max_spans(64))
    assert min(sentinels) >= len(tokenizer)  # this tokenizer has no <extra_id_N>: unused rows of T5's vocabulary
    out = span_corruption.corrupt(
        b["input_ids"], b["attention_mask"], special_ids=special, sentinels=sentinels, eos_id=1, pad_id=0,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    cut = 0
    for row in range(16):
        original = b["input_ids"][row][b["attention_mask"][row].bool()].tolist()
        corrupted = out["input_ids"][row][out["attention_mask"][row].bool()].tolist()
        target = [t for t in out["labels"][row].tolist() if t != -100]
        assert target[-1] == 1 and target[0] == sentinels[0]
        spans, current = {}, None
        for t in target[:-1]:
            current = t if t in sentinels else current
            spans.setdefault(current, []).extend([] if t in sentinels else [t])
        restored = [x for t in corrupted for x in (spans[t] if t in sentinels else [t])]
        assert restored == original
        assert [t for t in corrupted if t in special] == [t for t in original if t in special]
        cut += len(original) - len(corrupted) + len(spans)
    assert cut > 0


def test_distillation_key_covers_what_the_distillation_depends_on(tmp_path):
    base = tiny_lst_run(tmp_path, init="distillation")
    examples = [{"input_ids": [101, 5, 102], "label": 1}]
    key, parts = init_key(base, "preset:bert-tiny", None, examples)
    others = [
        init_key(tiny_lst_run(tmp_path, init="distillation", distill_steps=7), "preset:bert-tiny", None, examples),
        init_key(tiny_lst_run(tmp_path, init="distillation", lr=1e-3), "preset:bert-tiny", None, examples),
        init_key(base, "preset:bert-tiny", None, [{**examples[0], "label": 0}]),
        init_key(tiny_lst_run(tmp_path, init="distillation", batch_size=4), "preset:bert-tiny", None, examples),
    ]
    assert len({key, *(k for k, _ in others)}) == 5
    cache = InitCache(tmp_path, key, parts)
    cache.depend_on(student="a")
    again = InitCache(tmp_path, key, parts)
    again.depend_on(student="b")  # other starting weights (another side network): another entry
    assert cache.key != again.key != key


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


class Recorder(EventSink):
    def __init__(self):
        super().__init__("quiet")
        self.events: list[dict] = []

    def emit(self, type_, **fields):
        event = super().emit(type_, **fields)
        self.events.append(event)
        return event

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]


def test_a_distillation_run_is_its_own_phase_reports_progress_and_is_cached(tmp_path: Path, validator):
    settings = {"init": "distillation", "distill_steps": 3, "epochs": 1}
    first = Recorder()
    run_comparison(tiny_lst_run(tmp_path, **settings), first)
    assert [e["phase"] for e in first.of("phase_started")] == ["distillation_init", "train", "eval"]
    assert "distillation_init" in [e["phase"] for e in first.of("phase_memory")]
    progress = first.of("init_progress")
    assert progress[-1]["examples"] == {"done": 24, "total": 24, "eta_s": 0.0}  # 3 steps of batch_size 8
    assert all(e["init"] == "distillation" and e["source"] == "scores" for e in progress)

    second = Recorder()  # same inputs: the distilled weights come from the cache, so the same run follows
    run_comparison(tiny_lst_run(tmp_path, **settings), second)
    assert [(e["source"], e["init"]) for e in second.of("init_progress")] == [("cache", "distillation")]
    folders = [Path(r.of("run_finished")[0]["summary"]["run_dir"]) for r in (first, second)]
    trained = [load_file(folder / "trainable.safetensors") for folder in folders]
    assert trained[0].keys() == trained[1].keys()
    assert all(torch.equal(t, trained[1][name]) for name, t in trained[0].items())  # bit for bit: same training

    longer = Recorder()  # another budget: a miss
    run_comparison(tiny_lst_run(tmp_path, **{**settings, "distill_steps": 4}), longer)
    assert {e["source"] for e in longer.of("init_progress")} == {"scores"}
    for event in first.events + second.events + longer.events:
        validator.validate(event)
        if event["type"] == "init_progress":
            line = human_line(event)
            assert line is not None and "distillation init" in line, line


@pytest.mark.parametrize(
    ("preset", "network"), [("bert-tiny", "side_tuning"), ("gpt2-tiny", "compression"), ("t5-tiny", "compression")]
)
def test_figure8_designs_distil_their_side_network_alone(backbones, task, preset, network):
    """Figure 8 pairs side-tuning and compression with distillation init too: the student is still the side
    network alone (not side-tuning's late fusion from the backbone's last layer; compression's own embeddings)."""
    backbone = backbones[preset]
    lst = build(backbone, task, init="distillation", side_network=network)
    names = {n.split(".")[0] for n in distill.student_parameters(lst)}
    assert names == ({"side", "down_embed", "up"} if network == "side_tuning" else {"side", "embeddings", "up"})
    batches = [batch(backbone, task.train[i : i + 8]) for i in range(0, 32, 8)] * 4
    if network == "side_tuning":  # the late fusion is not read: changing its ladder leaves the objective alone
        objectives = []
        for _ in range(2):
            torch.manual_seed(0)
            objectives.append(distill.distill(lst, batches[:1], lr=0.0, max_grad_norm=1.0, seed=0))
            with torch.no_grad():
                cast(nn.Linear, lst.fusion_down).weight.normal_()
        assert objectives[0] == objectives[1]
    losses = distill.distill(lst, batches, lr=3e-3, max_grad_norm=1.0, seed=0)
    assert sum(losses[-4:]) < 0.95 * sum(losses[:4]), losses


# Appendix A, Table 4, "Update Param. per Task (%)" on T5-base (r=8, every layer kept; weights do not matter)
TABLE_4_PCT = {"gates": 2.29, "cross_attention": 2.68}


@pytest.mark.parametrize("fusion", list(TABLE_4_PCT))
def test_trainable_pct_matches_the_papers_table_4_on_t5_base(fusion):
    exp = build_experiment({}, {"backbone": "preset:t5-base", "methods": ["lst"], "r": 8, "fusion": fusion})
    got = count_trainable(load_backbone("preset:t5-base"), task_spec("sst2"), exp, "lst")
    assert abs(got["trainable_pct"] - TABLE_4_PCT[fusion]) <= 0.05, got


def test_a_stop_during_distillation_ends_it_between_steps_without_a_checkpoint(tmp_path: Path):
    class StopWhenDistilling(Recorder):
        def emit(self, type_, **fields):
            event = super().emit(type_, **fields)
            if type_ == "phase_started" and fields["phase"] == "distillation_init":
                stop.request("SIGTERM")  # as the signal handler does; the first step's check ends the phase
            return event

    sink = StopWhenDistilling()
    with stop.graceful_signals(), pytest.raises(stop.StopRequested):
        run_comparison(tiny_lst_run(tmp_path, init="distillation", distill_steps=50), sink)
    assert sink.of("init_progress") == []  # not one step of the budget ran
    assert [e["phase"] for e in sink.of("phase_started")] == ["distillation_init"]
    stopped = sink.events[-1]
    assert stopped["type"] == "run_stopped" and stopped["checkpoint"] is None
    assert not list((tmp_path / "runs" / ".cache" / "lst-init").glob("*.safetensors"))  # nothing half-distilled kept
