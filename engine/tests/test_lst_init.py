"""LST's pruning init: per-example gradients of whole padded batches give the loop's Fisher scores (BERT, GPT-2,
T5), the result is cached by what it depends on (hit on the same key, miss when r changes), a resume does not redo it,
and the init reports where its sets came from and the Fisher pass's progress as init_progress events. Real
backbones (bert-tiny / gpt2-tiny / t5-tiny presets) and real SST-2 rows; CPU."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema
import pytest
import torch
import torch.nn.functional as F

import helpers
from helpers import SCHEMA, SST2, build_method, tiny_lst_run
from ladderlab import stop
from ladderlab.backbones import load_backbone
from ladderlab.comparison import resume_run, run_comparison
from ladderlab.data import load_task
from ladderlab.data.pipeline import Batcher, encode
from ladderlab.events import EventSink, human_line
from ladderlab.methods.lst import pruning


class Recorder(EventSink):
    """A real, quiet sink that keeps every event (and can ask for a stop after a chosen one, as a signal does)."""

    def __init__(self, stop_when=lambda e: False):
        super().__init__("quiet")
        self.events: list[dict] = []
        self.stop_when = stop_when

    def emit(self, type_, **fields):
        event = super().emit(type_, **fields)
        self.events.append(event)
        if self.stop_when(event):
            stop.request("SIGTERM")
        return event

    def logs(self) -> list[str]:
        return [e["message"] for e in self.events if e["type"] == "log"]

    def phases(self) -> list[str]:
        return [e["phase"] for e in self.events if e["type"] == "phase_started"]

    def inits(self) -> list[dict]:
        return [e for e in self.events if e["type"] == "init_progress"]

    def sources(self) -> set[str]:
        return {e["source"] for e in self.inits()}


def fisher_both_ways(preset: str, n: int = 12):
    backbone = load_backbone(preset)
    task = load_task("sst2", str(SST2), seed=0, max_train_examples=64, max_eval_examples=8)
    lst, _ = build_method(backbone, task, "lst", init="random")
    feats = encode(task.train[:n], backbone.tokenizer, 48)
    batcher = Batcher(backbone.tokenizer, torch.device("cpu"))

    def loss(b):
        return F.cross_entropy(lst.family.logits(lst.model, b), b["labels"])

    names = lst._scored_parameters()
    # the reference: one unpadded example at a time
    loop = pruning.fisher_importance(lst.model, loss, batcher.batches(feats, 1), names)
    padded = list(batcher.batches(feats, 5))  # padded batches, as a run hands them over
    return lst, loss, names, loop, padded


def assert_close(loop: dict, batched: dict, names) -> None:
    """The loop's full-size Fisher, summed along each axis, against the batched pass's per-axis sums."""
    a = pruning.axis_sums({n: loop[n] for n in names})
    # T5's decoder self-attention over one token has an all-but-zero gradient (rounding noise, 1e-15): each
    # matrix is compared at its own scale, but never below a millionth of the largest importance
    floor = 1e-6 * max(a[n][0].max() for n in names)
    for n in names:
        for axis in (0, 1):
            scale = a[n][axis].abs().max().clamp_min(floor)
            assert ((a[n][axis] - batched[n][axis]).abs().max() / scale) < 1e-4, (n, axis)


@pytest.mark.parametrize("preset", ["preset:bert-tiny", "preset:gpt2-tiny", "preset:t5-tiny"])
def test_batched_fisher_equals_the_one_at_a_time_loop(preset):
    """Every family (BERT: right padding; GPT-2: left padding, causal, Conv1D weights; T5: encoder-decoder) scores
    whole padded batches as the loop scores unpadded examples one by one; what is kept is one score per row and per
    column of each matrix (issue 12: no full-size accumulator beside each backbone weight)."""
    lst, loss, names, loop, padded = fisher_both_ways(preset)
    done = []
    logits = functools.partial(lst.family.logits, lst.model)
    batched = pruning.fisher_importance_batched(
        lst.model, logits, F.cross_entropy, padded, names, done.append, products=torch.float32
    )
    assert done == [5, 5, 2]
    assert_close(loop, batched, names)
    assert all(loop[n].abs().sum() > 0 for n in names)
    for n in names:
        rows, cols = lst.model.get_parameter(n).shape
        assert [t.shape for t in batched[n]] == [(rows,), (cols,)], n
    assert not any(p.requires_grad for n, p in lst.model.named_parameters() if n in names)  # left frozen
    assert all(p.grad is None for p in lst.model.parameters())  # no weight gradient was computed


def test_bf16_pass_chooses_the_fp32_index_sets(minilm, sst2):
    """Where bf16 multiplies natively the Fisher pass runs in bf16 (forward and backward under autocast, per-example
    products in bf16; squares summed in fp32): the side network it picks is the one fp32 picks, save a few near-ties.
    Real MiniLM, real SST-2 rows."""
    lst, _ = build_method(minilm, sst2, "lst", init="random")
    feats = encode(sst2.train[:32], minilm.tokenizer, 64)
    batches = list(Batcher(minilm.tokenizer, torch.device("cpu")).batches(feats, 16))
    logits = functools.partial(lst.family.logits, lst.model)
    names = lst._scored_parameters()
    computed_in = []  # the dtype a scored layer computes in, per batch: the pass itself runs in bf16, not only products
    layer = lst.model.get_submodule(names[0].removesuffix(".weight"))
    hook = layer.register_forward_hook(lambda _m, _i, out: computed_in.append(out.dtype))
    picked = {
        dtype: lst.select_sets(
            pruning.fisher_importance_batched(lst.model, logits, F.cross_entropy, batches, names, products=dtype)
        )
        for dtype in (torch.float32, torch.bfloat16)
    }
    hook.remove()
    assert computed_in == [torch.float32] * len(batches) + [torch.bfloat16] * len(batches)
    same = total = 0
    for stack, layers in picked[torch.float32].items():
        for layer32, layer16 in zip(layers, picked[torch.bfloat16][stack], strict=True):
            for role, idx in layer32.items():
                same += len(set(idx.tolist()) & set(layer16[role].tolist()))
                total += idx.numel()
    assert same / total > 0.97, f"the bf16 pass kept {same} of the {total} indices fp32 keeps"


def experiment(tmp_path: Path, **overrides):
    return tiny_lst_run(tmp_path, **{"fisher_samples": 20, "checkpoint_every": 2, **overrides})


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def test_init_is_cached_by_key_reports_progress_and_is_not_redone_on_resume(tmp_path, validator):
    first = Recorder()
    run_comparison(experiment(tmp_path), first)
    assert "pruning_init" in first.phases()
    progress = first.inits()  # the Fisher pass as data: examples done / total, an ETA, all inside the phase
    assert progress and first.sources() == {"scores"}
    assert progress[-1]["examples"] == {"done": 20, "total": 20, "eta_s": 0.0}
    assert all(e["init"] == "fisher" and 0 < e["examples"]["done"] <= 20 for e in progress)
    kinds = [e["type"] for e in first.events]
    assert kinds.index("phase_started") < kinds.index("init_progress") < kinds.index("phase_memory")
    assert not any("pruning init" in m for m in first.logs())  # structured, not log text
    entries = list((tmp_path / "runs" / ".cache" / "lst-init").iterdir())
    assert len(entries) == 1 and entries[0].suffix == ".safetensors"

    second = Recorder()  # same key: the sets come from the cache, no Fisher pass
    run_comparison(experiment(tmp_path), second)
    assert [(e["source"], "examples" in e) for e in second.inits()] == [("cache", False)]
    first_row = next(e for e in first.events if e["type"] == "run_finished")["summary"]
    second_row = next(e for e in second.events if e["type"] == "run_finished")["summary"]
    assert first_row["metrics"] == second_row["metrics"]  # the same init, so the same run

    other_r = Recorder()  # r changes the key: a miss, and an entry of its own
    run_comparison(experiment(tmp_path, r=4), other_r)
    assert other_r.sources() == {"scores"}
    assert len(list((tmp_path / "runs" / ".cache" / "lst-init").iterdir())) == 2

    magnitude = Recorder()  # no examples to score: one event when the sets are chosen
    run_comparison(experiment(tmp_path, init="magnitude"), magnitude)
    assert [(e["source"], e["init"], "examples" in e) for e in magnitude.inits()] == [("scores", "magnitude", False)]

    # a stopped run, resumed: no init phase, no Fisher pass, no cache lookup; one event says so
    stopped = Recorder(stop_when=lambda e: e["type"] == "checkpoint_saved" and e["step"] >= 2)
    with stop.graceful_signals(), pytest.raises(stop.StopRequested):
        run_comparison(experiment(tmp_path, r=8, fisher_samples=6), stopped)
    assert "pruning_init" in stopped.phases()
    resumed = Recorder()
    with stop.graceful_signals():
        row = resume_run(tmp_path / "runs" / stopped.events[-1]["run_id"], resumed).rows[0]
    assert resumed.phases() == ["train", "eval"]
    assert [(e["source"], e["init"]) for e in resumed.inits()] == [("checkpoint", "fisher")]
    kinds = [e["type"] for e in resumed.events]
    assert kinds.index("run_started") < kinds.index("init_progress") < kinds.index("phase_started")
    assert row["metrics"]
    for event in first.events + second.events + other_r.events + magnitude.events + stopped.events + resumed.events:
        validator.validate(event)
        if event["type"] == "init_progress":  # a terminal (--format text) shows each one as a line
            assert human_line(event), event
    assert len(helpers.run_folders(tmp_path / "runs")) == 5  # the resumed run continued in its own folder
