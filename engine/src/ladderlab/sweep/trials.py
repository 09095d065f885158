"""One trial of a sweep, and the contract between the sweep driver and a backend that runs trials.

A trial is an ordinary run (same run folder, events and summary as ``ladderlab run``), tagged in its config.json
with the sweep id, its trial id and its grid point. A backend runs trials wherever it likes (this process, Ray
workers on other machines) and reports back to the driver's ``SweepStore`` (store.py), which owns the run store:
trial events and files land in the driver's runs_dir even when the workers share no file system with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from ..errors import RunFailed
from ..events import EventSink

TRIAL_STATES = ("queued", "running", "finished", "failed", "stopped", "early_stopped")
# Trials a resume leaves as they are: finished, or stopped early by the sweep's ASHA (a decision, not an interruption;
# its run folder keeps its checkpoint, so ``ladderlab resume RUN_DIR`` can still finish it by hand).
ENDED_STATES = ("finished", "early_stopped")


@dataclass(frozen=True)
class Trial:
    trial_id: str  # "t0007": its index in the expansion, stable across resumes of the sweep
    method: str
    point: dict[str, Any]  # the grid point, field -> value (the seed is apart)
    seed: int
    # the experiment as build_experiment(values, {}) takes it: the file's values + the point + seed + methods=[method]
    values: dict[str, Any] = field(default_factory=dict)
    # Added after the first version of this contract (both optional, so older callers still build a Trial):
    sweep_id: str = ""  # the sweep it belongs to (its folder's name under <runs_dir>/sweeps/)
    run_id: str | None = None  # the run folder of an earlier attempt (a resumed sweep), under runs_dir

    def tag(self) -> dict:
        """What the trial's config.json says about it, beside the experiment (as a comparison's runs say theirs)."""
        return {"sweep": {"sweep_id": self.sweep_id, "trial_id": self.trial_id, "point": self.point, "seed": self.seed}}


def resume_dir_of(trial: Trial, runs_dir: Path) -> Path | None:
    """The earlier attempt's run folder, to continue in: from its checkpoint, or from the start when it stopped (or
    failed, or was killed) before its first one, as ``ladderlab resume`` does (comparison.resume_run). None: the
    trial starts afresh in a new folder (it never got as far as its run folder's config.json)."""
    if trial.run_id is None:
        return None
    folder = Path(runs_dir) / trial.run_id
    return folder if (folder / "config.json").is_file() and not (folder / "summary.json").is_file() else None


def run_trial(trial: Trial, runs_dir: Path, sink: EventSink, resume_dir: Path | None = None) -> dict:
    """One trial as an ordinary run in ``runs_dir`` (the comparison's own machinery: comparison.prepare and
    train.Run, or comparison.resume_run for ``resume_dir``); returns its summary. A failed run raises RunFailed with
    its error event's fields (the event is in the run's events.jsonl); a stop raises StopRequested."""
    from ..comparison import prepare, resume_run  # torch: only where a trial runs
    from ..config import build_experiment
    from ..train import Run

    if resume_dir is not None:
        outcome = resume_run(resume_dir, sink)  # its config.json, tag included, stays as it was
        if outcome.failed:
            raise RunFailed(outcome.failed[0])
        return outcome.rows[0]
    exp = build_experiment({**trial.values, "runs_dir": str(runs_dir)}, {})
    backbone, data = prepare(exp)
    run = Run(exp, trial.method, backbone, data, sink)
    run.config.update(trial.tag())
    return run.execute()


class TrialSink(EventSink):
    """The sink a trial's run writes through: as the driver's (same stdout), and it tells the reporter when the run
    folder exists (trial_started) and every event of the run (trial_event)."""

    def __init__(
        self, trial_id: str, reporter: TrialReporter, stdout_mode: str = "quiet", stdout: IO[str] | None = None
    ):
        super().__init__(stdout_mode, stdout)
        self.trial_id, self.reporter = trial_id, reporter

    def attach_run(self, run_id: str, events_path: Path) -> None:
        super().attach_run(run_id, events_path)
        self.reporter.trial_started(self.trial_id, run_id)

    def emit(self, type_: str, **fields: Any) -> dict:
        event = super().emit(type_, **fields)
        if self.run_id is not None:
            self.reporter.trial_event(self.trial_id, event)
        return event


class TrialReporter(Protocol):
    """What a backend tells the driver about its trials (store.SweepStore implements it)."""

    def trial_started(self, trial_id: str, run_id: str) -> None: ...

    def trial_event(self, trial_id: str, event: dict) -> None: ...  # one event, as the run's events.jsonl has it

    def trial_file(self, trial_id: str, name: str, data: bytes) -> None: ...  # a finished run's file (summary.json…)

    def trial_ended(self, trial_id: str, status: str, summary: dict | None, error: dict | None) -> None: ...


class Backend(Protocol):
    # A backend whose trials write their run folders straight into the driver's runs_dir (the local backend) sets
    # ``writes_run_files = True`` as a class attribute: the store then copies neither events nor files (they would be
    # written twice). Absent means False: the store writes what trial_event and trial_file bring.
    def run(self, trials: list[Trial], reporter: TrialReporter, runs_dir: Path) -> None:
        """Run every trial (continuing those with a run folder: resume_dir_of), reporting as they go; return when
        all ended or a stop was requested (ladderlab.stop)."""
        ...
