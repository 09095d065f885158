"""The memory estimator (fake tensors, no weights) against real steps on real data, and its CLI verdict."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

from helpers import batch_of, experiment
from ladderlab import cli
from ladderlab.bench import BenchSetup, Case, measure
from ladderlab.estimate import estimate_run
from ladderlab.memory import SavedTensorMeter
from ladderlab.methods import BUILDERS


@pytest.mark.parametrize("method", ["lst", "lora", "full"])
def test_estimate_within_10pct_of_real_traced_step_and_saved_bytes(minilm, sst2, method):
    """Real MiniLM, real SST-2 batch of full length: the estimate's peak against the peak traced over real steps,
    and its saved-for-backward figure against the engine's own saved-bytes accounting (SavedTensorMeter)."""
    exp = experiment(methods=[method], batch_size=16, max_length=64, device="cpu", init="random")
    predicted = estimate_run(exp, method, torch.device("cpu"))

    setup = BenchSetup(minilm, sst2.spec, exp, torch.device("cpu"), minilm.new_task_model(sst2.spec, 0))
    measured = measure(setup, Case(method, "paper", "fp32"), warmup=1, steps=1)

    model = BUILDERS[method](minilm, minilm.new_task_model(sst2.spec, 0), exp).train()
    # 16 real examples, each several SST-2 sentences long, so every row fills the 64 tokens the estimate assumes
    texts = [
        dataclasses.replace(e, text_a=" ".join(x.text_a for x in sst2.train[i : i + 8]))
        for i, e in enumerate(sst2.train[:16])
    ]
    batch = batch_of(minilm, texts, max_length=64)
    assert batch["input_ids"].shape == (16, 64)
    meter = SavedTensorMeter(model)
    with meter.measure():
        loss = F.cross_entropy(model(batch), batch["labels"])
    loss.backward()

    peak_err = predicted["peak_bytes"] / measured["peak_bytes"] - 1
    saved_err = predicted["saved_for_backward_bytes"] / meter.bytes - 1
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    print(
        f"\n{method}: estimate {predicted['peak_bytes'] / 2**20:.1f} MiB vs traced {measured['peak_bytes'] / 2**20:.1f}"
        f" ({100 * peak_err:+.1f}%); saved {predicted['saved_for_backward_bytes'] / 2**20:.1f} vs meter "
        f"{meter.bytes / 2**20:.1f} MiB ({100 * saved_err:+.1f}%)"
    )
    assert abs(peak_err) <= 0.10
    assert abs(saved_err) <= 0.10
    assert predicted["components"]["param"] == pytest.approx(params, rel=0.01)
    # the breakdown is listed within 0.1% of the peak (LiveTensorTracer.SNAPSHOT_STEP)
    assert sum(predicted["components"].values()) == pytest.approx(predicted["peak_bytes"], rel=0.002)


def test_estimate_cli_gives_components_and_verdict(capsys):
    code = cli.main(
        [
            "estimate",
            "--backbone",
            "preset:bert-tiny",
            "--methods",
            "lst,lora,full",
            "--batch-size",
            "8",
            "--max-length",
            "32",
            "--device",
            "cpu",
            "--gpu-memory",
            "0.03",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["method"]: r for r in out["rows"]}
    assert set(rows) == {"lst", "lora", "full"}
    for r in rows.values():
        assert set(r["components"]) == {"param", "grad", "optimizer", "activation", "transient"}
        assert r["verdict"]["gpu_bytes"] == int(0.03 * 2**30)
    assert rows["lst"]["peak_bytes"] < rows["lora"]["peak_bytes"] < rows["full"]["peak_bytes"]
    assert rows["full"]["components"]["optimizer"] > 0 and not rows["full"]["verdict"]["fits"]
    assert rows["lst"]["verdict"]["fits"]
    # each row carries the method's trainable share, as a run of the same settings reports it
    assert rows["full"]["trainable_pct"] == 100.0
    assert rows["full"]["trainable_params"] == rows["full"]["backbone_params"] > rows["lst"]["trainable_params"] > 0
    assert 0 < rows["lora"]["trainable_pct"] < 100 and 0 < rows["lst"]["trainable_pct"] < 100


def test_estimate_cli_bad_input(capsys):
    assert (
        cli.main(["estimate", "--backbone", "preset:bert-tiny", "--r", "7", "--methods", "lst", "--device", "cpu"]) == 2
    )
    assert "r=7 does not divide" in capsys.readouterr().err
