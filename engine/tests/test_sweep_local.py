"""A real sweep on the local backend: 4 LST trials (r in {4, 8} x seeds {0, 1}; bert-tiny shape, real STS-B rows: a
regression, so every seed scores differently and the std is not 0),
started as a real engine process, stopped with SIGINT once its first trial finished, then resumed. The finished
trial is kept untouched, the others run, and the aggregate's mean and std equal numpy's over the trials' own
metrics.json. Plus the CLI's refusals: exit 2 and nothing created."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from helpers import SCHEMA, STSB
from ladderlab import cli
from ladderlab.comparison import prepare
from ladderlab.config import build_experiment
from ladderlab.sweep.store import SweepStore

EXPERIMENT = {
    "task": "stsb",
    "data": str(STSB),
    "backbone": "preset:bert-tiny",
    "methods": ["lst"],
    "init": "random",  # the pruning init is tested elsewhere; here it would only cost time
    "max_train_examples": 48,
    "max_eval_examples": 16,
    "epochs": 1,
    "batch_size": 8,
    "max_length": 32,
    "runs_dir": "runs",
    "sweep": {"per_method": {"lst": {"r": [4, 8]}}, "seeds": [0, 1]},
}


def folder_state(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file's content hash and modification time: a folder left untouched keeps both."""
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The sweep, stopped after its first trial and then resumed (in-process, as `ladderlab sweep resume`)."""
    cwd = tmp_path_factory.mktemp("sweep")
    (cwd / "f.ladder.json").write_text(json.dumps(EXPERIMENT))
    proc = subprocess.Popen(  # an argument list, never a shell string
        [sys.executable, "-m", "ladderlab.cli", "sweep", "--config", "f.ladder.json", "--backend", "local"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert proc.stdout is not None
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["type"] == "sweep_trial" and events[-1]["status"] == "finished":
            proc.send_signal(signal.SIGINT)
            break
    rest, stderr = proc.communicate(timeout=300)
    events += [json.loads(line) for line in rest.splitlines()]
    sweep_dir = Path(events[0]["sweep_dir"])
    stopped = {
        "code": proc.returncode,
        "stderr": stderr,
        "events": events,
        "manifest": json.loads((sweep_dir / "manifest.json").read_text()),
    }
    first_run = cwd / "runs" / stopped["manifest"]["trials"][0]["run_id"]
    before = folder_state(first_run)
    code = cli.main(["sweep", "resume", str(sweep_dir), "--backend", "local", "--json"])
    return {
        "stopped": stopped,
        "sweep_dir": sweep_dir,
        "runs": cwd / "runs",
        "first_run": first_run,
        "first_run_before": before,
        "code": code,
        "manifest": json.loads((sweep_dir / "manifest.json").read_text()),
        "results": json.loads((sweep_dir / "results.json").read_text()),
    }


def test_a_stopped_sweep_keeps_its_finished_trial_and_says_how_to_continue(sweep):
    stopped = sweep["stopped"]
    assert stopped["code"] == 130, stopped["stderr"][-2000:]
    assert f"ladderlab sweep resume {sweep['sweep_dir']}" in stopped["stderr"]
    statuses = [t["status"] for t in stopped["manifest"]["trials"]]
    assert statuses[0] == "finished" and "finished" not in statuses[2:], statuses
    assert statuses[1] in ("queued", "stopped", "finished")  # the signal may land after the second trial began


def test_the_resumed_sweep_finishes_every_trial_and_leaves_the_finished_one_alone(sweep):
    assert sweep["code"] == 0
    assert [t["status"] for t in sweep["manifest"]["trials"]] == ["finished"] * 4
    assert folder_state(sweep["first_run"]) == sweep["first_run_before"]
    run_ids = [t["run_id"] for t in sweep["manifest"]["trials"]]
    assert len(set(run_ids)) == 4
    for run_id in run_ids:  # each run's events once: the local backend writes them, the store does not copy them
        types = [
            json.loads(line)["type"] for line in (sweep["runs"] / run_id / "events.jsonl").read_text().splitlines()
        ]
        assert types.count("run_finished") == 1 and types.count("run_started") <= 2, (run_id, types)


def test_a_sweep_another_engine_runs_is_refused_and_a_killed_one_blocks_nothing(sweep, capsys):
    # another engine process holding the sweep, as a terminal's `ladderlab sweep resume` would
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ladderlab.sweep.store import claim_driver; "
            "held = claim_driver(sys.argv[1]); print('held', flush=True); time.sleep(60)",
            str(sweep["sweep_dir"]),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        assert cli.main(["sweep", "resume", str(sweep["sweep_dir"]), "--backend", "local", "--json"]) == 2
        err = capsys.readouterr().err
        assert f"is already running: engine pid {holder.pid}" in err and "Stop Sweep" in err, err
    finally:
        holder.kill()  # SIGKILL: the lock goes with the process
        holder.wait(timeout=10)
    assert cli.main(["sweep", "resume", str(sweep["sweep_dir"]), "--backend", "local", "--json"]) == 0


def test_each_trial_is_an_ordinary_run_tagged_with_its_sweep_and_point(sweep):
    for t in sweep["manifest"]["trials"]:
        config = json.loads((sweep["runs"] / t["run_id"] / "config.json").read_text())
        assert config["sweep"] == {
            "sweep_id": sweep["sweep_dir"].name,
            "trial_id": t["trial_id"],
            "point": t["point"],
            "seed": t["seed"],
        }
        assert (config["r"], config["seed"], config["method"]) == (t["point"]["r"], t["seed"], "lst")
        assert (sweep["runs"] / t["run_id"] / "summary.json").is_file()


def test_the_aggregate_is_numpys_mean_and_sample_std_over_the_trials_own_metrics(sweep):
    results = sweep["results"]
    assert [(p["method"], p["point"], p["n"]) for p in results["points"]] == [
        ("lst", {"r": 4}, 2),
        ("lst", {"r": 8}, 2),
    ]
    for point in results["points"]:
        runs = [sweep["runs"] / t["run_id"] for t in sweep["manifest"]["trials"] if t["point"] == point["point"]]
        metrics = [json.loads((run / "metrics.json").read_text())["test"] for run in runs]
        assert metrics[0] != metrics[1]  # two seeds, two results: the std below is not trivially 0
        for name in metrics[0]:
            values = np.array([m[name] for m in metrics])
            assert point["mean"][name] == pytest.approx(values.mean(), abs=1e-9)
            assert point["std"][name] == pytest.approx(values.std(ddof=1), abs=1e-9)
        summaries = [json.loads((run / "summary.json").read_text()) for run in runs]
        accounted = np.array([s["memory"]["accounted_bytes"] for s in summaries])
        assert point["peak_bytes"] == round(accounted.mean())  # off CUDA: the accounted bytes
        assert point["memory"]["std"]["accounted_bytes"] == pytest.approx(accounted.std(ddof=1))
    # r=8 is the narrower side network: less memory; the front holds the best score at each memory level
    r4, r8 = results["points"]
    assert r8["peak_bytes"] < r4["peak_bytes"]
    assert {json.dumps(f["point"]) for f in results["pareto"]} >= {json.dumps({"r": 8})}
    trials = results["trials"]
    assert [t["status"] for t in trials] == ["finished"] * 4 and all(t["metrics"] for t in trials)
    assert {t["run_dir"] for t in trials} == {str(sweep["runs"] / t["run_id"]) for t in sweep["manifest"]["trials"]}


def test_sweep_report_prints_the_same_aggregate_again(sweep, capsys):
    capsys.readouterr()
    assert cli.main(["sweep", "report", str(sweep["sweep_dir"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == sweep["results"]


def test_the_sweep_events_follow_the_protocol(sweep):
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    events = sweep["stopped"]["events"]
    for event in events:
        validator.validate(event)
    started = events[0]
    assert (started["type"], started["trials"], started["pending"]) == ("sweep_started", 4, 4)
    assert [e["status"] for e in events if e["type"] == "sweep_trial" and e["trial_id"] == "t0000"] == [
        "running",
        "finished",
    ]


def test_seeds_train_on_one_split(sweep):
    """data_seed, not seed, draws the split: the two seeds of a point validate and test on the same examples."""
    store = SweepStore.open(sweep["sweep_dir"])
    seed0, seed1 = store.expand()[:2]
    assert (seed0.point, seed0.seed, seed1.seed) == ({"r": 4}, 0, 1)
    splits = []
    for trial in (seed0, seed1):
        _, data = prepare(build_experiment(trial.values, {}))
        splits.append([[e.text_a for e in getattr(data.task, s)] for s in ("train", "validation", "test")])
    assert splits[0] == splits[1]


@pytest.mark.parametrize(
    ("sweep_block", "message"),
    [
        ({"grid": {"r": [4, 1]}}, "sweep.grid.r: value 1 is refused"),
        ({"per_method": {"lora": {"lora_rank": [4]}}}, "sweep.per_method names 'lora'"),
        ({"seeds": [0, 1], "grid": {"lr": [1e-3, 2e-3]}, "max_trials": 3}, "expands to 4 trials"),
    ],
)
def test_a_refused_grid_exits_2_and_creates_nothing(tmp_path: Path, capsys, sweep_block, message):
    path = tmp_path / "f.ladder.json"
    path.write_text(json.dumps({**EXPERIMENT, "runs_dir": str(tmp_path / "runs"), "sweep": sweep_block}))
    capsys.readouterr()
    assert cli.main(["sweep", "--config", str(path), "--backend", "local"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_run_and_compare_point_a_sweep_file_to_the_sweep_command(tmp_path: Path, capsys):
    path = tmp_path / "f.ladder.json"
    path.write_text(json.dumps({**EXPERIMENT, "runs_dir": str(tmp_path / "runs")}))
    for command in ("run", "compare"):
        capsys.readouterr()
        assert cli.main([command, "--config", str(path)]) == 2
        assert "ladderlab sweep --config" in capsys.readouterr().err
    assert cli.main(["sweep", "report", str(tmp_path)]) == 2
    assert "is not a sweep folder" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
