"""The sweep's folder, and the driver's side of the run store while a backend runs trials.

<runs_dir>/sweeps/<sweep_id>/
    manifest.json   the experiment file, its values (paths resolved), the sweep block, and every trial: method,
                    grid point, seed, status (trials.TRIAL_STATES), run_id (its run folder under runs_dir), error
    results.json    the aggregate (aggregate.py), rewritten when the sweep ends and by ``ladderlab sweep report``
    driver.lock     held by the one engine that runs the sweep's trials (claim_driver)

Trials are ordinary run folders in runs_dir, next to those of ``run`` and ``compare``. Both files are replaced
atomically (runstore.write_json_atomic): a sweep killed at any moment leaves a manifest that ``ladderlab sweep
resume`` reads. The manifest is the sweep's state; results are always recomputed from the run folders.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from dataclasses import replace
from pathlib import Path

from ..errors import BadInput, read_json_file
from ..events import EventSink
from ..runstore import write_atomic, write_json_atomic
from ..trackers import RunTrackers
from .spec import SweepSpec, expand, parse_sweep
from .trials import ENDED_STATES, Trial

SWEEPS = "sweeps"  # the folder under runs_dir that holds one folder per sweep (src/runs/runStore.ts skips it)
MANIFEST = "manifest.json"
RESULTS = "results.json"
DRIVER_LOCK = "driver.lock"


class SweepStore:
    """Implements trials.TrialReporter: records each trial's state in the manifest and tells the driver's stdout
    (``sweep_trial`` events). For a backend whose trials do not write into runs_dir themselves
    (``copies_run_files``), it writes their events and files into the driver's run folders."""

    def __init__(self, runs_dir: str | Path, sweep_id: str, sink: EventSink | None = None, backend=None):
        """``backend``: the one that will run the trials; whether its trials write into runs_dir themselves decides
        whether this store copies their events and files (trials.Backend: ``writes_run_files``)."""
        self.runs_dir = Path(runs_dir)
        self.sweep_id = sweep_id
        self.dir = self.runs_dir / SWEEPS / sweep_id
        self.sink = sink or EventSink("quiet")  # its own: sweep events go to stdout, never into a run's events.jsonl
        self.copies_run_files = not getattr(backend, "writes_run_files", False)
        self.manifest: dict = {}
        self._lock = threading.Lock()  # a backend may report from several threads
        self._trackers: dict[str, RunTrackers | None] = {}  # copied trials' report_to, recorded here (see _track)

    # -- the sweep folder

    @classmethod
    def create(
        cls, runs_dir: str | Path, values: dict, spec: SweepSpec, experiment_file: str | None, sink=None, backend=None
    ) -> SweepStore:
        """A new sweep folder (a fresh id) with every trial queued."""
        root = Path(runs_dir) / SWEEPS
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(
                f"cannot create the sweeps folder {root}: {e.strerror}", "set runs_dir to a writable folder"
            ) from None
        while True:  # mkdir without exist_ok is atomic: two sweeps started at once never share a folder
            sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
            try:
                (root / sweep_id).mkdir()
                break
            except FileExistsError:
                continue
        store = cls(runs_dir, sweep_id, sink, backend)
        store.manifest = {
            "sweep_id": sweep_id,
            "experiment_file": str(Path(experiment_file).resolve()) if experiment_file else None,
            "created": round(time.time(), 3),
            "values": values,
            "sweep": spec.to_json(),
            "trials": [
                {**_identity(t), "status": "queued", "run_id": None, "error": None} for t in store.expand(values, spec)
            ],
        }
        store._save()
        return store

    @classmethod
    def open(cls, sweep_dir: str | Path, sink=None, backend=None) -> SweepStore:
        """An existing sweep folder (<runs_dir>/sweeps/<id>); BadInput if it is none."""
        folder = Path(sweep_dir).expanduser().resolve()
        path = folder / MANIFEST
        if not path.is_file():
            raise BadInput(
                f"{folder} is not a sweep folder (it has no {MANIFEST})",
                f"pass a folder under <runs_dir>/{SWEEPS}/ (ladderlab sweep prints it when it starts)",
            )
        manifest = read_json_file(path, str(path), "the sweep folder is damaged; start the sweep again")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("trials"), list):
            raise BadInput(f"{path} is not a sweep manifest", "the sweep folder is damaged; start the sweep again")
        store = cls(folder.parent.parent, folder.name, sink, backend)
        store.manifest = manifest
        return store

    def expand(self, values: dict | None = None, spec: SweepSpec | None = None) -> list[Trial]:
        """The sweep's trials (the manifest's, when it exists), each with the run folder of its latest attempt."""
        values = self.manifest["values"] if values is None else values
        spec = parse_sweep(self.manifest["sweep"], values) if spec is None else spec
        trials = expand(values, spec, self.sweep_id)
        records = {t["trial_id"]: t for t in self.manifest.get("trials", ())}
        for trial in trials:
            record = records.get(trial.trial_id)
            if record is not None and _identity(trial) != {k: record[k] for k in _identity(trial)}:
                raise BadInput(
                    f"{self.dir / MANIFEST}: trial {trial.trial_id} no longer expands as it did",
                    "the sweep was made by another engine version; start it again",
                )
        return [replace(t, run_id=records[t.trial_id]["run_id"]) if t.trial_id in records else t for t in trials]

    def unfinished(self) -> list[Trial]:
        """What a resume runs: every trial that has not ended (trials.ENDED_STATES): queued, stopped, and failed
        ones too (a resume finishes the sweep; a failure that repeats costs one attempt and is reported again), each
        continued in its run folder when it has one (trials.resume_dir_of). A trial whose run finished after the
        manifest last changed (the driver died in between) is marked finished here, not run again."""
        todo = []
        for trial in self.expand():
            record = self.record(trial.trial_id)
            if trial.run_id and (self.runs_dir / trial.run_id / "summary.json").is_file():
                if record["status"] != "finished":
                    self._set(trial.trial_id, status="finished", error=None)
            elif record["status"] not in ENDED_STATES:
                todo.append(trial)
        return todo

    def record(self, trial_id: str) -> dict:
        return next(t for t in self.manifest["trials"] if t["trial_id"] == trial_id)

    def _set(self, trial_id: str, **changes) -> None:
        with self._lock:
            record = self.record(trial_id)
            record.update(changes)
            self._save()
        fields = {k: record[k] for k in ("trial_id", "method", "point", "seed", "status")}
        self.sink.emit("sweep_trial", **fields, **({"run_id": record["run_id"]} if record["run_id"] else {}))

    def _save(self) -> None:
        write_json_atomic(self.dir / MANIFEST, self.manifest)

    def write_results(self, results: dict) -> None:
        write_json_atomic(self.dir / RESULTS, results)

    # -- trials.TrialReporter

    def trial_started(self, trial_id: str, run_id: str) -> None:
        self._set(trial_id, status="running", run_id=run_id, error=None)

    def trial_event(self, trial_id: str, event: dict) -> None:
        if not self.copies_run_files:
            return  # the trial wrote it into its run folder itself
        line = json.dumps(event, separators=(",", ":"))
        folder = self.runs_dir / self.record(trial_id)["run_id"]
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock, open(folder / "events.jsonl", "a", encoding="utf-8") as f:
            f.write(line + "\n")
            self._track(trial_id, folder, event)
        if self.sink.stdout_mode == "events":  # the extension follows the trial as it follows a run
            self.sink.stdout.write(line + "\n")
            self.sink.stdout.flush()

    def trial_file(self, trial_id: str, name: str, data: bytes) -> None:
        if not self.copies_run_files:
            return
        folder = self.runs_dir / self.record(trial_id)["run_id"]
        folder.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            tmp.write_bytes(data)

        write_atomic(folder / Path(name).name, write, name)

    def _track(self, trial_id: str, folder: Path, event: dict) -> None:
        """A copied trial's trackers (its report_to) record here, from its events, into the driver's run folder: the
        worker's folder is scratch that goes with the trial, so its sink does not track (ray_backend._RelaySink)."""
        if trial_id not in self._trackers:
            if event["type"] != "run_started":
                return  # opened at the run's start, when its config.json (sent first) is here
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            self._trackers[trial_id] = None
            if config.get("report_to"):
                try:
                    self._trackers[trial_id] = RunTrackers(config["report_to"], folder, config)
                except Exception as e:  # the trial trains on; its trackers' loss is said in the sweep's log
                    self.sink.log(f"trial {trial_id}: report_to not recorded: {e}", level="warning")
        trackers = self._trackers[trial_id]
        if trackers is not None:
            trackers.record(event)
            self._warn(trial_id, trackers)

    def _warn(self, trial_id: str, trackers: RunTrackers) -> None:
        warnings, trackers.warnings = trackers.warnings, []
        for warning in warnings:
            self.sink.log(f"trial {trial_id}: {warning}", level="warning")

    def trial_ended(self, trial_id: str, status: str, summary: dict | None, error: dict | None) -> None:
        with self._lock:
            trackers = self._trackers.pop(trial_id, None)
        if trackers is not None:
            trackers.close()
            self._warn(trial_id, trackers)
        kept = {k: error.get(k) for k in ("kind", "message", "hint")} if error else None
        self._set(trial_id, status=status, error=kept)


def claim_driver(sweep_dir: Path):
    """Makes this process the only engine running the sweep's trials, or refuses (BadInput): two engines on one
    sweep (a terminal's resume and the editor's) would run the same trials twice into the same run folders. Returns
    what holds the claim (close it, or use it as a context manager, to release). An OS lock (flock), not a pid file:
    it goes with the process however that ends, so a killed engine never blocks the next resume."""
    try:
        import fcntl
    except ImportError:  # Windows has no flock: unguarded there (the extension still runs one sweep at a time)
        return contextlib.nullcontext()
    lock = open(Path(sweep_dir) / DRIVER_LOCK, "a+", encoding="utf-8")  # noqa: SIM115 (returned open: it is the claim)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise BadInput(
            f"the sweep in {sweep_dir} is already running: engine pid {holder} holds its {DRIVER_LOCK}",
            "wait for that sweep to end, or stop it (Stop Sweep, or Ctrl+C in its terminal), then resume",
        ) from None
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def _identity(trial: Trial) -> dict:
    return {"trial_id": trial.trial_id, "method": trial.method, "point": trial.point, "seed": trial.seed}
