"""Early stopping of hopeless trials (the sweep block's ``early_stopping``, spec.py) with Ray Tune's ASHAScheduler.

Each trial reports its validation metrics to Tune after every epoch (report_validation: ``tune.report``, Tune's
channel for metrics, which its schedulers read), and ASHA decides which trials are hopeless. Its decision is carried
out as a stop through the sweep's relay (ray_backend._Relay), not by Tune killing the trial (EarlyStopper): the
trial checkpoints at its next step and its run ends ``run_stopped`` with signal ``early_stop``, its folder whole —
config.json, events.jsonl, checkpoint; no summary, since it never reached its test evaluation — and the trial ends
"early_stopped", which a resume leaves alone (``ladderlab resume RUN_DIR`` still finishes it by hand). ASHA is
asynchronous: a trial is judged against the trials that reached its epoch before it, so trials that run side by
side judge each other in the order they get there.
"""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler

from ..events import EventSink

# run_stopped's signal for a trial that ASHA stopped (protocol/events.schema.json): no signal, a scheduler's decision.
EARLY_STOP = "early_stop"
# Sweep (ray_backend._Driver.key) -> (its relay, the driver's sink): where EarlyStopper sends its decisions. Looked up
# by key, as ray_backend._StopWhenIdle's state is: Tune keeps (and may pickle) its scheduler with its settings.
RELAYS: dict[str, tuple[Any, EventSink]] = {}


class EarlyStopper(ASHAScheduler):
    """Ray Tune's ASHA, unchanged in what it decides (its rungs, cutoffs and bookkeeping are Ray's), with its STOP
    carried out through the relay: Tune would kill the trial mid-step, leaving its run folder without a last
    checkpoint or event. The trial instead stops at its next step as on ladderlab.stop and returns, which ends its
    Tune trial. Time is the epoch (each validation reports the epochs done), so a resumed trial, a new Tune trial,
    keeps its place; a STOP at a trial's last epoch (ASHA's stop_last_trials) changes nothing: it is finishing."""

    def __init__(self, key: str, **asha):
        super().__init__(time_attr="epoch", **asha)
        self.key = key

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == self.STOP and result["epoch"] < result["epochs"] and self.key in RELAYS:
            relay, sink = RELAYS[self.key]
            trial_id = (trial.config or {})["trial_id"]
            relay.early_stop.remote(trial_id)
            sink.log(
                f"trial {trial_id}: stopped early by ASHA after epoch {result['epoch']} of {result['epochs']}: "
                f"its validation {self.metric} ({result[self.metric]:g}) is not among the best "
                f"1/{self._reduction_factor:g} of the trials at that epoch"
            )
        return self.CONTINUE


def report_validation(evaluation: dict, epochs: int) -> None:
    """A validation ``evaluation`` event's fields to Tune, with the epochs done (EarlyStopper's time) of ``epochs``;
    returns once Tune has taken the result (and ASHA has decided)."""
    tune.report({**evaluation["metrics"], "epoch": evaluation["epoch"] + 1, "epochs": epochs})
