"""Trainable parameters against the LST paper's Table 1 on the T5-base shape (random init; counts do not depend on
weight values), the options that depart from it, and the README's table of them."""

from __future__ import annotations

import json
import re

import pytest
import torch

from helpers import REPO, SST2, experiment, run_folders
from ladderlab import checkpoint, stop
from ladderlab.backbones import load_backbone
from ladderlab.comparison import resume_run, run_comparison
from ladderlab.data import task_spec
from ladderlab.methods import BUILDERS
from ladderlab.methods.base import count_params
from ladderlab.methods.bitfit import add_biases
from ladderlab.param_counts import count_trainable

# Table 1, "Update Param. per Task (%)", T5-base; the settings are Table 5's.
PAPER_PCT = {"full": 100.0, "adapter": 1.63, "lora": 1.71, "bitfit": 0.13, "prompt": 0.03, "lst": 1.74}
PAPER_SETTINGS = {
    "adapter_size": 48,
    "lora_rank": 32,
    "prompt_tokens": 100,
    "r": 8,
    "keep_layers": "1,2,3,5,6,7,9,10,11",
}
D, FF, LAYERS, VOCAB = 768, 3072, 12, 32128  # T5-base
NORMS = LAYERS * 2 + 1 + LAYERS * 3 + 1  # encoder: 2 per block + final; decoder: 3 per block + final
ADAPTER = D * 48 + 48 + 48 * D + D  # down (with bias) + up (with bias)
LORA_QV = 2 * 2 * 32 * D  # A and B on q and v, per attention
BIASES = LAYERS * (4 * D + FF + D) + LAYERS * (8 * D + FF + D)  # zero biases on every linear of both stacks


@pytest.fixture(scope="module")
def t5_base():
    return load_backbone("preset:t5-base")


def counts(backbone, method: str, **overrides) -> dict:
    return count_trainable(backbone, task_spec("sst2"), experiment(**PAPER_SETTINGS, **overrides), method)


@pytest.mark.parametrize("method", list(PAPER_PCT))
def test_trainable_pct_matches_table_1_on_t5_base(t5_base, method):
    got = counts(t5_base, method)
    print(f"{method}: {got['trainable_params']:,} = {got['trainable_pct']:.4f}% (paper {PAPER_PCT[method]})")
    assert got["backbone_params"] == 222_903_552  # the shared embedding / LM head counted once
    assert abs(got["trainable_pct"] - PAPER_PCT[method]) <= 0.05


def test_counts_are_the_paper_baselines_closed_forms(t5_base):
    """What each baseline trains, term by term: the figures above are not a coincidence of sums."""
    bitfit = BIASES + NORMS * D + VOCAB  # + a bias after every layer norm + the LM head's bias
    assert counts(t5_base, "bitfit")["trainable_params"] == bitfit
    assert counts(t5_base, "lora")["trainable_params"] == 3 * LAYERS * LORA_QV + bitfit  # self x2 + cross
    assert counts(t5_base, "adapter")["trainable_params"] == 4 * LAYERS * ADAPTER + NORMS * D  # + layer norms
    assert counts(t5_base, "prompt")["trainable_params"] == 100 * D


def test_options_leave_the_paper_setting(t5_base):
    """adapter_placement=every_sublayer adds an adapter after each decoder cross-attention (~2.03%); lora_bias=none
    trains LoRA's matrices alone (~1.59%)."""
    every = counts(t5_base, "adapter", adapter_placement="every_sublayer")
    assert every["trainable_params"] == 5 * LAYERS * ADAPTER + NORMS * D
    assert every["trainable_pct"] == pytest.approx(2.03, abs=0.005)
    alone = counts(t5_base, "lora", lora_bias="none")
    assert alone["trainable_params"] == 3 * LAYERS * LORA_QV
    assert alone["trainable_pct"] == pytest.approx(1.59, abs=0.005)


def test_lora_bias_default_is_none_off_t5(minilm):
    """LoRA trains biases by default only on T5, where the paper's baseline did; elsewhere on request."""
    spec = task_spec("sst2")
    default = count_trainable(minilm, spec, experiment(), "lora")
    with_biases = count_trainable(minilm, spec, experiment(lora_bias="all"), "lora")
    bitfit = count_trainable(minilm, spec, experiment(), "bitfit")
    head = 384 * 2 + 2  # in both LoRA's and BitFit's counts
    assert with_biases["trainable_params"] - default["trainable_params"] == bitfit["trainable_params"] - head


@pytest.mark.parametrize("method", list(PAPER_PCT))
def test_meta_counts_equal_a_real_build(method):
    """The meta-device count (estimate) is the count of the model a run builds with real tensors."""
    backbone = load_backbone("preset:t5-tiny")
    spec, exp = task_spec("sst2"), experiment(keep_layers="1,3")
    task_model = backbone.new_task_model(spec, 0)
    total, _ = count_params(task_model)
    _, trainable = count_params(BUILDERS[method](backbone, task_model, exp))
    meta = count_trainable(backbone, spec, exp, method)
    assert (meta["backbone_params"], meta["trainable_params"]) == (total, trainable)


def test_t5_bitfit_biases_start_at_zero_and_all_learn():
    """The added biases (linears, layer norms, LM head) leave the function unchanged, and each gets a gradient:
    a bias the forward pass did not use would be counted but never trained."""
    backbone = load_backbone("preset:t5-tiny")
    spec = task_spec("sst2")
    model = backbone.new_task_model(spec, 0).eval()
    ids = torch.randint(5, 1000, (2, 7))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.tensor([0, 1])}
    before = backbone.family.logits(model, batch)
    assert add_biases(model, backbone.family) > 0
    assert torch.allclose(backbone.family.logits(model, batch), before)
    bitfit = BUILDERS["bitfit"](backbone, model, experiment())
    torch.nn.functional.cross_entropy(bitfit(batch), batch["labels"]).backward()
    trained = dict(bitfit.trainable_named_parameters())
    assert any(".layer_norm.bias" in n for n in trained) and any("lm_head.bias" in n for n in trained)
    assert [n for n, p in trained.items() if p.grad is None or not p.grad.any()] == []


README_ROWS = {  # README's label of a row -> (method, settings beyond the paper's)
    "full fine-tuning": ("full", {}),
    "Adapter": ("adapter", {}),
    "LoRA": ("lora", {}),
    "BitFit": ("bitfit", {}),
    "prompt tuning": ("prompt", {}),
    "LST": ("lst", {}),
    "Adapter, `adapter_placement: every_sublayer`": ("adapter", {"adapter_placement": "every_sublayer"}),
    "LoRA, `lora_bias: none`": ("lora", {"lora_bias": "none"}),
}


def test_readme_table_is_what_the_engine_counts(t5_base):
    text = (REPO / "README.md").read_text()
    section = text.split("**Trainable parameters on the T5-base shape**", 1)[1].split("\n\n", 2)[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()[2:]]
    assert {r[0] for r in rows} == set(README_ROWS)
    for label, paper, ours, params, _what in rows:
        method, overrides = README_ROWS[label]
        got = counts(t5_base, method, **overrides)
        assert ours == f"{got['trainable_pct']:.2f}", label
        assert params == f"{got['trainable_params']:,}", label
        assert paper == ("—" if overrides else re.sub(r"\.?0+$", "", f"{PAPER_PCT[method]:.2f}")), label


@pytest.mark.parametrize("method", ["lora", "adapter"])
def test_a_t5_run_from_before_the_paper_baselines_resumes_as_it_began(tmp_path, method):
    """A T5 LoRA or Adapter run stopped before lora_bias / adapter_placement existed trained LoRA without biases and
    adapters after cross-attention too; its config.json and checkpoint lack both fields, and resuming must rebuild
    that model (the paper's defaults would not fit its checkpoint's weights)."""
    from test_t5_format import Recorder  # the same stopping sink as the text-to-text resume test

    old = {"lora": {"lora_bias": "none"}, "adapter": {"adapter_placement": "every_sublayer"}}[method]
    exp = experiment(
        **{"backbone": "preset:t5-tiny", "methods": [method], "task": "sst2", "data": str(SST2), **old},
        **{"max_train_examples": 16, "max_eval_examples": 8, "batch_size": 8, "runs_dir": str(tmp_path / "runs")},
    )
    with stop.graceful_signals(), pytest.raises(stop.StopRequested):
        run_comparison(exp, Recorder(stop_after_a_step=True))
    run_dir = run_folders(tmp_path / "runs")[0]
    config = json.loads((run_dir / "config.json").read_text())
    for name in ("lora_bias", "adapter_placement"):
        del config[name]  # as an older engine wrote it
    (run_dir / "config.json").write_text(json.dumps(config))
    payload = torch.load(run_dir / checkpoint.CHECKPOINT, weights_only=True)
    payload["config_json"] = json.dumps(config, sort_keys=True)
    torch.save(payload, run_dir / checkpoint.CHECKPOINT)

    resumed = Recorder(stop_after_a_step=False)
    with stop.graceful_signals():
        resume_run(run_dir, resumed)
    [started] = [e for e in resumed.events if e["type"] == "run_started"]
    assert {k: started["config"][k] for k in old} == old
    assert any(e["type"] == "run_finished" for e in resumed.events)
