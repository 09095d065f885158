"""``ladderlab sweep plan``: the trials a sweep file expands to, refused exactly as ``ladderlab sweep`` refuses them,
nothing created; with --estimate, each trial's predicted peak (the estimator's) and its training steps (the run's)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from helpers import SST2
from ladderlab import cli
from ladderlab.backbones import load_backbone
from ladderlab.comparison import prepare
from ladderlab.config import build_experiment
from ladderlab.estimate import data_length, estimate_run
from ladderlab.sweep.plan import plan
from ladderlab.sweep.spec import expand, read_sweep_file

BASE = {
    "backbone": "preset:bert-tiny",
    "task": "sst2",
    "data": str(SST2),
    "methods": ["lst", "lora"],
    "max_train_examples": 20,
    "max_eval_examples": 8,
    "epochs": 2,
    "batch_size": 8,
    "max_length": 32,
    "fisher_samples": 2,
}


def sweep_file(tmp_path: Path, sweep: dict, **values) -> Path:
    path = tmp_path / "f.ladder.json"
    path.write_text(json.dumps({**BASE, "runs_dir": str(tmp_path / "runs"), **values, "sweep": sweep}))
    return path


def ladderlab(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """The CLI in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_plan_lists_the_sweeps_own_expansion_and_creates_nothing(tmp_path: Path, capsys):
    sweep = {"grid": {"lr": [1e-3, 3e-3]}, "per_method": {"lst": {"r": [4, 8]}}, "seeds": [0, 1], "max_trials": 20}
    path = sweep_file(tmp_path, sweep)
    code, out, err = ladderlab(capsys, "sweep", "plan", "--config", path, "--json")
    assert code == 0, err
    got = json.loads(out)
    want = expand(*read_sweep_file(path))
    assert got["count"] == len(want) == 12 and got["max_trials"] == 20 and got["seeds"] == [0, 1]
    assert [(t["trial_id"], t["method"], t["point"], t["seed"]) for t in got["trials"]] == [
        (t.trial_id, t.method, t.point, t.seed) for t in want
    ]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("sweep", "names"),
    [
        ({"grid": {"r": [4, 100]}}, "sweep.grid.r: value 100"),
        ({"grid": {"nope": [1]}}, "sweep.grid.nope"),
        ({"per_method": {"lst": {"lora_rank": [4]}}}, "sweep.per_method.lst.lora_rank"),
        ({"grid": {"r": [4, 8, 16]}, "seeds": [0, 1], "max_trials": 5}, "max_trials (5)"),
        ({}, "nothing to sweep"),
    ],
)
def test_a_refused_grid_is_refused_by_plan_in_the_words_of_sweep(tmp_path: Path, capsys, sweep: dict, names: str):
    path = sweep_file(tmp_path, sweep)
    planned = ladderlab(capsys, "sweep", "plan", "--config", path, "--json")
    swept = ladderlab(capsys, "sweep", "--config", path, "--backend", "local", "--json")
    assert planned[0] == swept[0] == 2
    assert names in planned[2]
    assert planned[2] == swept[2]
    assert planned[1] == "" and not (tmp_path / "runs").exists()


def test_the_estimate_is_the_estimators_peak_per_point_and_the_runs_step_count(tmp_path: Path):
    path = sweep_file(tmp_path, {"per_method": {"lst": {"r": [4, 16]}}, "seeds": [0, 1]}, methods=["lst"])
    got = plan(path, estimate=True)["trials"]
    assert [(t["point"], t["seed"]) for t in got] == [({"r": 4}, 0), ({"r": 4}, 1), ({"r": 16}, 0), ({"r": 16}, 1)]
    assert got[0]["peak_bytes"] == got[1]["peak_bytes"] != got[2]["peak_bytes"] == got[3]["peak_bytes"]

    values, _ = read_sweep_file(path)
    exp = build_experiment({**values, "r": 16, "methods": ["lst"]}, {})
    batch = data_length(exp, load_backbone(exp.backbone))
    assert got[2]["peak_bytes"] == estimate_run(exp, "lst", length=batch["length"], rows=batch["rows"])["peak_bytes"]
    _, data = prepare(exp)  # the split the run trains on: train.Run's steps are epochs x its batches
    steps = exp.epochs * math.ceil(len(data.features["train"]) / exp.batch_size)
    assert [t["total_steps"] for t in got] == [steps] * 4 and steps == 2 * math.ceil(20 / 8)
