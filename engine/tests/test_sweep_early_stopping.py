"""Early stopping (sweep.early_stopping, Ray Tune's ASHA) on a real Ray, through the CLI: a hopeless learning rate is
stopped after its first epoch with its run folder whole, the good one trains to its end, the aggregate counts only
finished trials, and a resume leaves the stopped trial alone. ray_early_stopping.py runs it all in a network
namespace with only loopback; one run serves every test here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import run_in_loopback_namespace
from ladderlab.sweep.store import SweepStore

SCRIPT = Path(__file__).with_name("ray_early_stopping.py")
TIMEOUT_S = 180  # per attempt: about 60 s on 2 idle cores; a hung Ray must not hang CI


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> dict:
    return run_in_loopback_namespace(SCRIPT, tmp_path_factory.mktemp("asha"), timeout=TIMEOUT_S)


def _trial(store: SweepStore, lr: float) -> tuple[dict, Path, list[dict]]:
    record = next(t for t in store.manifest["trials"] if t["point"] == {"lr": lr})
    folder = store.runs_dir / record["run_id"]
    return record, folder, [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def _validations(events: list[dict]) -> list[dict]:
    return [e for e in events if e["type"] == "evaluation" and e["split"] == "validation"]


def test_the_hopeless_trial_is_stopped_after_its_first_epoch_with_its_run_folder_whole(sweep):
    assert sweep["status"] == 0, sweep  # an early stop is no failure
    store = SweepStore.open(sweep["sweep_dir"])
    record, folder, events = _trial(store, 1e-8)
    assert record["status"] == "early_stopped"
    assert [v["epoch"] for v in _validations(events)] == [0]  # judged at the grace period, not trained further
    last = events[-1]
    assert last["type"] == "run_stopped" and last["signal"] == "early_stop", last
    assert 0 < last["step"] < last["total_steps"]
    # whole: it can be continued by hand (ladderlab resume), from the checkpoint its stop wrote
    assert {"config.json", "events.jsonl", "checkpoint.pt"} <= {p.name for p in folder.iterdir()}
    assert not (folder / "summary.json").exists()
    assert last["checkpoint"] and Path(last["checkpoint"]).name == "checkpoint.pt"


def test_the_learning_trial_finishes_and_was_better_at_the_rung(sweep):
    store = SweepStore.open(sweep["sweep_dir"])
    good, _, good_events = _trial(store, 3e-3)
    _, _, bad_events = _trial(store, 1e-8)
    assert good["status"] == "finished"
    assert [v["epoch"] for v in _validations(good_events)] == [0, 1]
    assert good_events[-1]["type"] == "run_finished"
    # ASHA's reason, from the trials' own reports: below the better half at epoch 1
    assert _validations(bad_events)[0]["metrics"]["score"] < _validations(good_events)[0]["metrics"]["score"]


def test_the_aggregate_counts_finished_trials_only(sweep):
    results = json.loads((Path(sweep["sweep_dir"]) / "results.json").read_text())
    by_lr = {p["point"]["lr"]: p for p in results["points"]}
    assert (by_lr[3e-3]["n"], by_lr[1e-8]["n"], by_lr[1e-8]["trials"]) == (1, 0, 1)
    assert by_lr[1e-8]["mean"] == {} and "score" in by_lr[3e-3]["mean"]
    stopped = next(t for t in results["trials"] if t["point"] == {"lr": 1e-8})
    assert (stopped["status"], stopped["metrics"]) == ("early_stopped", None)
    assert [(f["point"], f["method"]) for f in results["pareto"]] == [({"lr": 3e-3}, "lst")]


def test_a_resume_leaves_the_early_stopped_trial_alone(sweep):
    resume = sweep["resume"]
    assert resume["status"] == 0
    started = next(e for e in resume["events"] if e["type"] == "sweep_started")
    assert (started["trials"], started["pending"]) == (2, 0)
    assert not any(e["type"] == "run_started" for e in resume["events"])
