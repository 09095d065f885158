"""The sweep driver around its backends: a trial stopped inside its run is resumed from its checkpoint in its own
folder, and failed trials (before any checkpoint) are run again in theirs by a resume (the local backend, real
bert-tiny runs); the CLI loads neither torch nor Ray before a sweep runs; --backend ray without Ray is a bad input
naming the extra to install, backend auto falls back to the local backend saying why; early stopping is refused
where it cannot run (the local backend), before anything is created."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

from helpers import TINY_LST
from ladderlab import cli, cli_sweep, stop
from ladderlab.events import EventSink, human_line
from ladderlab.oom import FAIL_ALLOC_ENV
from ladderlab.sweep.local import LocalBackend
from ladderlab.sweep.spec import parse_sweep
from ladderlab.sweep.store import SweepStore
from ladderlab.sweep.trials import resume_dir_of

VALUES = {**TINY_LST, "init": "random", "epochs": 1, "checkpoint_every": 1}


class StopAtFirstCheckpoint:
    """The store as the backend sees it, except that the first checkpoint of a trial asks for a stop, as SIGINT would
    (stop.request is what the signal handler calls): the run then stops at its next step, checkpointed."""

    def __init__(self, store: SweepStore):
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    def trial_event(self, trial_id: str, event: dict) -> None:
        if event["type"] == "checkpoint_saved":
            stop.request("SIGINT")
        self.store.trial_event(trial_id, event)


def test_a_trial_stopped_inside_its_run_resumes_from_its_checkpoint_in_its_folder(tmp_path: Path):
    runs = tmp_path / "runs"
    values = {**VALUES, "runs_dir": str(runs)}
    backend = LocalBackend(EventSink("quiet"))
    store = SweepStore.create(runs, values, parse_sweep({"seeds": [0, 1]}, values), None, backend=backend)
    with stop.graceful_signals():  # resets the stop flag when done
        backend.run(store.expand(), StopAtFirstCheckpoint(store), runs)
    first, second = store.manifest["trials"]
    assert (first["status"], second["status"], second["run_id"]) == ("stopped", "queued", None)
    todo = store.unfinished()
    assert [t.trial_id for t in todo] == ["t0000", "t0001"]
    assert resume_dir_of(todo[0], runs) == runs / first["run_id"]  # it holds a checkpoint
    with stop.graceful_signals():
        backend.run(todo, store, runs)
    assert [t["status"] for t in store.manifest["trials"]] == ["finished", "finished"]
    assert store.manifest["trials"][0]["run_id"] == first["run_id"]  # the same folder, continued
    events = [json.loads(line) for line in (runs / first["run_id"] / "events.jsonl").read_text().splitlines()]
    started = [e for e in events if e["type"] == "run_started"]
    assert len(started) == 2 and started[1]["resumed"]["step"] >= 1
    assert [p.name for p in runs.iterdir() if p.name != "sweeps"].count(first["run_id"]) == 1
    assert len([p for p in runs.iterdir() if p.name not in ("sweeps", ".cache")]) == 2  # no third run folder


def test_the_cli_loads_neither_torch_nor_ray_until_a_sweep_runs():
    code = "import sys, ladderlab.cli; ladderlab.cli.build_parser(); print(sorted({'torch', 'ray'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr[-2000:]


def _sweep_file(tmp_path: Path, sweep: dict, **values) -> Path:
    path = tmp_path / "f.ladder.json"
    path.write_text(json.dumps({**VALUES, "runs_dir": str(tmp_path / "runs"), **values, "sweep": sweep}))
    return path


def test_without_ray_the_ray_backend_names_the_extra_and_creates_nothing(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # how Python marks a module as not importable
    path = _sweep_file(tmp_path, {"seeds": [0, 1]})
    capsys.readouterr()
    assert cli.main(["sweep", "--config", str(path), "--backend", "ray"]) == 2
    assert "pip install 'ladderlab[sweep]'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def _auto(**flags) -> tuple[object, list[dict]]:
    """Backend auto as the CLI chooses it: the backend, and the events it told the driver's sink."""
    out = io.StringIO()
    args = argparse.Namespace(**{"backend": "auto", "ray_address": None, **flags})
    backend = cli_sweep._backend(args, EventSink("events", out), None)
    return backend, [json.loads(line) for line in out.getvalue().splitlines()]


def test_backend_auto_without_ray_runs_the_trials_here_and_says_how_to_get_ray(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    backend, events = _auto()
    assert isinstance(backend, LocalBackend)
    (log,) = events
    assert log["type"] == "log" and "Ray is not installed" in log["message"]
    assert "pip install 'ladderlab[sweep]'" in log["message"]


def test_backend_auto_starts_ray_only_where_a_local_ray_listens_on_loopback_only():
    """Either way on this machine: Ray where its local Ray would stay on 127.0.0.1 (the Ray tests' namespace runs
    this branch through the CLI), else the local backend with the address Ray would have listened on."""
    from ladderlab.sweep.ray_backend import RayBackend, local_ray_exposure

    exposed = local_ray_exposure()
    backend, events = _auto()
    if exposed is None:
        assert isinstance(backend, RayBackend) and backend.address is None and not events
    else:
        assert isinstance(backend, LocalBackend)
        assert exposed in events[0]["message"] and "--ray-address" in events[0]["message"]
    named, _ = _auto(ray_address="127.0.0.1:6379")  # a named cluster is always Ray's (nothing is contacted yet)
    assert isinstance(named, RayBackend) and named.address == "127.0.0.1:6379"


def test_early_stopping_is_refused_on_the_local_backend_before_anything_is_created(tmp_path: Path, capsys):
    path = _sweep_file(tmp_path, {"grid": {"lr": [1e-3, 3e-3]}, "early_stopping": {"grace_period": 1}}, epochs=2)
    capsys.readouterr()
    assert cli.main(["sweep", "--config", str(path), "--backend", "local"]) == 2
    err = capsys.readouterr().err
    assert "sweep.early_stopping needs the Ray backend" in err and "remove sweep.early_stopping" in err
    assert not (tmp_path / "runs").exists()


def test_a_bad_early_stopping_block_is_refused_naming_its_field_before_anything_starts(tmp_path: Path, capsys):
    path = _sweep_file(tmp_path, {"grid": {"lr": [1e-3, 3e-3]}, "early_stopping": {"metric": "f1"}})
    capsys.readouterr()
    assert cli.main(["sweep", "--config", str(path)]) == 2
    assert "sweep.early_stopping.metric" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_sweep_whose_trials_all_ended_early_resumes_anywhere_and_runs_nothing(tmp_path: Path, capsys):
    """ASHA stopped every trial (as Ray left it): a resume on the local backend, which refuses early stopping where
    trials are left to run, only sums up; the early-stopped trials stay as they are."""
    runs = tmp_path / "runs"
    values = {**VALUES, "epochs": 2, "runs_dir": str(runs)}
    spec = parse_sweep({"grid": {"lr": [1e-3, 3e-3]}, "early_stopping": {"grace_period": 1}}, values)
    store = SweepStore.create(runs, values, spec, None)
    for trial in store.manifest["trials"]:
        store.trial_ended(trial["trial_id"], "early_stopped", None, None)
    capsys.readouterr()
    assert cli.main(["sweep", "resume", str(store.dir), "--backend", "local", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [t["status"] for t in results["trials"]] == ["early_stopped", "early_stopped"]
    assert [(p["n"], p["trials"]) for p in results["points"]] == [(0, 1), (0, 1)]


def test_a_resume_runs_failed_trials_again_in_their_own_folders(tmp_path: Path, capsys, monkeypatch):
    """Both trials fail at their second step (the engine's allocation-failure hook: an out-of-memory error), before
    any checkpoint; the resume runs them again from the start in the same run folders, and they finish."""
    path = _sweep_file(tmp_path, {"seeds": [0, 1]}, checkpoint_every=0)  # a checkpoint at the epoch's end only
    monkeypatch.setenv(FAIL_ALLOC_ENV, "lst:2")
    assert cli.main(["sweep", "--config", str(path), "--backend", "local", "--json"]) == 3  # out of memory
    (sweep_dir,) = (tmp_path / "runs" / "sweeps").iterdir()
    failed = SweepStore.open(sweep_dir).manifest["trials"]
    assert [t["status"] for t in failed] == ["failed", "failed"]
    assert all(not (tmp_path / "runs" / t["run_id"] / "checkpoint.pt").exists() for t in failed)
    monkeypatch.delenv(FAIL_ALLOC_ENV)
    capsys.readouterr()
    assert cli.main(["sweep", "resume", str(sweep_dir), "--backend", "local", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [t["status"] for t in results["trials"]] == ["finished", "finished"]
    for before, after in zip(failed, SweepStore.open(sweep_dir).manifest["trials"], strict=True):
        assert after["run_id"] == before["run_id"]  # the same folder, started again
        events = [json.loads(line) for line in (tmp_path / "runs" / after["run_id"] / "events.jsonl").open()]
        kinds = [e["type"] for e in events]
        assert kinds.count("run_started") == 2 and kinds.index("error") < kinds.index("run_started", 1)
        assert [e for e in events if e["type"] == "run_started"][1]["resumed"]["step"] == 0
    assert len([p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".") and p.name != "sweeps"]) == 2


def test_a_terminal_reads_the_sweep_as_it_goes():
    started = {"type": "sweep_started", "sweep_id": "s1", "sweep_dir": "/r/sweeps/s1", "trials": 4, "pending": 3}
    trial = {"type": "sweep_trial", "trial_id": "t0001", "method": "lst", "point": {"r": 8}, "seed": 1}
    assert human_line(started) == "sweep s1: 3 of 4 trials to run -> /r/sweeps/s1"
    assert human_line({**trial, "status": "finished"}) == "[t0001] lst r=8 seed 1: finished"
    assert human_line({**trial, "status": "queued"}) is None  # every trial starts queued: no news
