"""The estimate's batch comes from the data the run will train on: its longest tokenised training sequence, not
max_length (runs pad each batch to its longest member). Checked against a real run's own memory accounting."""

from __future__ import annotations

import json

import torch

from helpers import SST2, experiment
from ladderlab import cli
from ladderlab.comparison import run_comparison
from ladderlab.estimate import estimate_all, estimate_run
from ladderlab.events import EventSink


def test_estimate_from_the_data_is_closer_to_the_run_than_max_length(tmp_path):
    """Real SST-2 rows (sentences far shorter than 128 tokens), a real run of LoRA and LST: the run's accounted
    training memory (params + grads + optimizer + bytes saved for backward, engine/src/ladderlab/memory.py) is
    what the estimate made from the data's longest batch has to match; the max_length estimate overshoots it."""
    exp = experiment(
        methods=["lora", "lst"],
        backbone="preset:bert-tiny",
        task="sst2",
        data=str(SST2),
        max_train_examples=32,
        max_eval_examples=8,
        epochs=1,
        batch_size=8,
        max_length=128,
        init="random",
        device="cpu",
        runs_dir=str(tmp_path / "runs"),
    )
    estimate = estimate_all(exp)
    assert estimate["length_from"] == "data" and estimate["train_examples"] == 32
    assert 8 < estimate["length"] < exp.max_length  # SST-2 sentences: a few dozen tokens
    assert estimate["batch_size"] == 8

    measured = {row["method"]: row["memory"] for row in run_comparison(exp, EventSink("quiet")).rows}
    for row in estimate["rows"]:
        method, run = row["method"], measured[row["method"]]
        at_max_length = estimate_run(exp, method, torch.device("cpu"))
        saved_err = row["saved_for_backward_bytes"] / run["saved_for_backward_bytes"] - 1
        saved_err_max = at_max_length["saved_for_backward_bytes"] / run["saved_for_backward_bytes"] - 1
        print(
            f"\n{method}: run saved {run['saved_for_backward_bytes'] / 2**20:.2f} MiB, accounted "
            f"{run['accounted_bytes'] / 2**20:.2f} MiB; estimate ({estimate['length']} tokens) saved "
            f"{row['saved_for_backward_bytes'] / 2**20:.2f} ({100 * saved_err:+.1f}%), peak "
            f"{row['peak_bytes'] / 2**20:.2f}; at max_length saved "
            f"{at_max_length['saved_for_backward_bytes'] / 2**20:.2f} ({100 * saved_err_max:+.1f}%), peak "
            f"{at_max_length['peak_bytes'] / 2**20:.2f}"
        )
        # What depends on the batch's length, the bytes saved for backward, matches the run within 10%
        assert abs(saved_err) <= 0.10
        # and the max_length estimate is far off (SST-2 rows are at most about half of 128 tokens).
        assert saved_err_max > 0.5
        # The whole figure: the data estimate's peak is nearer the run's accounted memory than max_length's.
        assert abs(row["peak_bytes"] - run["accounted_bytes"]) < abs(
            at_max_length["peak_bytes"] - run["accounted_bytes"]
        )


def test_estimate_says_plainly_when_it_assumes_max_length(tmp_path, capsys):
    """A data folder that is not there: the estimate still comes, at max_length, and says why."""
    missing = tmp_path / "no-such-folder"
    args = "estimate --backbone preset:bert-tiny --task sst2 --methods bitfit --device cpu --max-length 24 --json"
    assert cli.main([*args.split(), "--data", str(missing)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["length_from"] == "max_length" and out["length"] == 24
    assert str(missing) in out["length_note"] and "assumes max_length" in out["length_note"]

    assert cli.main([*args.split(), "--data", str(SST2), "--max-train-examples", "16"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["length_from"] == "data" and out["train_examples"] == 16 and out["length"] <= 24
    assert "length_note" not in out
