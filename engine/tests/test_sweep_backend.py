"""The sweep driver around its backends: a trial stopped inside its run is resumed from its checkpoint in its own
folder (the local backend, real bert-tiny runs), the CLI loads neither torch nor Ray before a sweep runs, and a
missing Ray is a bad input naming the extra to install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import SST2
from ladderlab import cli, stop
from ladderlab.events import EventSink, human_line
from ladderlab.sweep.local import LocalBackend
from ladderlab.sweep.spec import parse_sweep
from ladderlab.sweep.store import SweepStore
from ladderlab.sweep.trials import resume_dir_of

VALUES = {
    "task": "sst2",
    "data": str(SST2),
    "backbone": "preset:bert-tiny",
    "methods": ["lst"],
    "init": "random",
    "max_train_examples": 32,
    "max_eval_examples": 8,
    "epochs": 1,
    "batch_size": 8,
    "max_length": 32,
    "checkpoint_every": 1,
}


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


def test_without_ray_the_ray_backend_names_the_extra_and_creates_nothing(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # how Python marks a module as not importable
    path = tmp_path / "f.ladder.json"
    path.write_text(json.dumps({**VALUES, "runs_dir": str(tmp_path / "runs"), "sweep": {"seeds": [0, 1]}}))
    capsys.readouterr()
    assert cli.main(["sweep", "--config", str(path)]) == 2  # the default backend is ray
    assert "pip install 'ladderlab[sweep]'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_terminal_reads_the_sweep_as_it_goes():
    started = {"type": "sweep_started", "sweep_id": "s1", "sweep_dir": "/r/sweeps/s1", "trials": 4, "pending": 3}
    trial = {"type": "sweep_trial", "trial_id": "t0001", "method": "lst", "point": {"r": 8}, "seed": 1}
    assert human_line(started) == "sweep s1: 3 of 4 trials to run -> /r/sweeps/s1"
    assert human_line({**trial, "status": "finished"}) == "[t0001] lst r=8 seed 1: finished"
    assert human_line({**trial, "status": "queued"}) is None  # every trial starts queued: no news
