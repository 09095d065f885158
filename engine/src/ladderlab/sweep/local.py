"""The backend that runs a sweep's trials one after another in this process, as ``compare`` runs its methods.

It needs no Ray: ``ladderlab sweep --backend local``, and the tests of everything but Ray. Its runs write straight
into the driver's runs_dir (``writes_run_files``), so the store copies nothing. A stop (SIGINT/SIGTERM, see
ladderlab.stop) is honoured inside a trial (it checkpoints, as any run does) and between trials; the stopped trial
and those after it are left for ``ladderlab sweep resume``. A failed trial (bad input only it has, out of memory)
is reported and the next one runs, as a comparison's ``on_failure: continue``.
"""

from __future__ import annotations

from pathlib import Path

from .. import stop
from ..errors import RunFailed, error_fields
from ..events import EventSink
from .trials import Trial, TrialReporter, TrialSink, resume_dir_of, run_trial


class LocalBackend:
    writes_run_files = True

    def __init__(self, sink: EventSink):
        self.sink = sink  # the driver's: its stdout mode is the trials' too

    def run(self, trials: list[Trial], reporter: TrialReporter, runs_dir: Path) -> None:
        for trial in trials:
            if stop.requested():
                return  # between trials: the rest stay queued
            sink = TrialSink(trial.trial_id, reporter, self.sink.stdout_mode, self.sink.stdout)
            try:
                summary = run_trial(trial, runs_dir, sink, resume_dir_of(trial, runs_dir))
            except stop.StopRequested:
                reporter.trial_ended(trial.trial_id, "stopped", None, None)
                return
            except RunFailed as e:  # its error event is in its run's events.jsonl already
                reporter.trial_ended(trial.trial_id, "failed", None, e.fields)
                continue
            except Exception as e:  # failed before its run folder existed (e.g. r does not fit this backbone)
                fields = error_fields(e)
                sink.emit("error", **fields)
                reporter.trial_ended(trial.trial_id, "failed", None, fields)
                continue
            reporter.trial_ended(trial.trial_id, "finished", summary, None)
