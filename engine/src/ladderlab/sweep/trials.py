"""One trial of a sweep, and the contract between the sweep driver and a backend that runs trials.

A trial is an ordinary run (same run folder, events and summary as ``ladderlab run``), tagged in its config.json
with the sweep id, its trial id and its grid point. A backend runs trials wherever it likes (this process, Ray
workers on other machines) and reports back to the driver's ``SweepStore`` (store.py), which owns the run store:
trial events and files land in the driver's runs_dir even when the workers share no file system with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

TRIAL_STATES = ("queued", "running", "finished", "failed", "stopped")


@dataclass(frozen=True)
class Trial:
    trial_id: str  # "t0007": its index in the expansion, stable across resumes of the sweep
    method: str
    point: dict[str, Any]  # the grid point, field -> value (the seed is apart)
    seed: int
    # the experiment as build_experiment(values, {}) takes it: the file's values + the point + seed + methods=[method]
    values: dict[str, Any] = field(default_factory=dict)


class TrialReporter(Protocol):
    """What a backend tells the driver about its trials (store.SweepStore implements it)."""

    def trial_started(self, trial_id: str, run_id: str) -> None: ...

    def trial_event(self, trial_id: str, event: dict) -> None: ...  # one event, as the run's events.jsonl has it

    def trial_file(self, trial_id: str, name: str, data: bytes) -> None: ...  # a finished run's file (summary.json…)

    def trial_ended(self, trial_id: str, status: str, summary: dict | None, error: dict | None) -> None: ...


class Backend(Protocol):
    def run(self, trials: list[Trial], reporter: TrialReporter, runs_dir: Path) -> None:
        """Run every trial (resuming those whose run folder holds a checkpoint), reporting as they go; return when
        all ended or a stop was requested (ladderlab.stop)."""
        ...
