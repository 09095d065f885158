"""The sweep backend on Ray Tune: one Tune trial per sweep trial, on this machine or on an existing cluster.

A Ray cluster runs whatever code reaches it (CVE-2023-48022: Ray had no authentication; recent versions add an
optional token): without ``--ray-address`` the backend starts a local Ray whose every process listens on 127.0.0.1
only (refused before anything starts where Ray would choose another address), with no dashboard and no usage
statistics. With an address it joins that
cluster (``ray.init(address=...)``); the cluster's own start-up decides where it listens.

Each trial asks for what resources.py says (a GPU share from the engine's memory estimate, or cores) and trains as
an ordinary run (trials.run_trial) in a scratch runs_dir on its worker's node. Its events and files come back to
the driver through a ``_Relay`` actor pinned to the driver's node, and the driver writes them into its own run
store (the reporter), so the run folders are complete even when workers share no file system with the driver.
Why an actor and not Tune's reporting (``tune.report`` + a driver callback): Tune records every reported result in
its own logs and hands them to schedulers, which suits metrics, not a run's every event and its binary files; and
the relay's reply to each event is the channel back to the worker: it carries the driver's stop request, so a
stopped sweep checkpoints its running trials as ``ladderlab run`` does on SIGINT. Why pinned to the driver's node:
a worker node may die mid-sweep (the relay must not die with it), and a sweep resumed later reads the driver's run
folders, which only that node has. Each event is sent and acknowledged before the next (``ray.get``), so a trial's
events arrive in order and all of them have arrived when its Tune trial ends.

A trial whose node dies is run again by Tune (``FailureConfig(max_failures)``). Every checkpoint a trial writes is
shipped to the driver as it is written, so the retry continues from the latest one in the same run folder (or
starts that run again from the beginning when it had none): nothing of the first attempt is lost, its events stay
in the run's events.jsonl. A stop (ladderlab.stop, the driver's SIGINT/SIGTERM) reaches running trials through
the relay; they checkpoint and end "stopped", trials not started stay queued, and the Tuner then ends.

Early stopping (the sweep block's ``early_stopping``, asha.py): each trial reports its validation metrics to Tune
after every epoch, ASHA decides, and a trial it stops is told through the relay, as a stop is.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune
from ray.exceptions import RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .. import checkpoint, stop
from ..config import build_experiment
from ..errors import BadInput, RunFailed, error_fields
from ..estimate import gpu_total_bytes
from ..events import EventSink
from .asha import EARLY_STOP, RELAYS, EarlyStopper, report_validation
from .resources import TrialResources, resources_for
from .trials import Trial, TrialReporter, resume_dir_of, run_trial

# A run folder's files that a retried or resumed trial needs on its worker, and those a finished run leaves.
RESUME_FILES = ("config.json", checkpoint.CHECKPOINT, checkpoint.SIDECAR)
FINISHED_FILES = ("config.json", "summary.json", "metrics.json", "trainable.safetensors")
POLL_S = 0.2  # how often the driver collects what the relay holds
NODE_LOG = "Ray: this attempt runs on node "  # + the node's id and address, a log event at the start of each attempt
# Ray's environment switches, set before Ray starts: no usage statistics are sent anywhere; Tune leaves SIGINT to
# ladderlab.stop (its own handler would end the Tuner at once, without the trials' stop checkpoints), writes none of
# its per-result log files (the run folders are the record) and prints nothing (its newer console output prints
# the experiment's table even at verbose=0): the driver's stdout carries the events protocol.
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "TUNE_DISABLE_SIGINT_HANDLER": "1",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
}
# Tune warns that trials reported no metrics: they report through the relay, by design.
QUIET_LOGGERS = ("ray.tune.analysis.experiment_analysis",)
# Sweeps of this process whose driver asks Tune to end now (see _StopWhenIdle).
_ENDING: set[str] = set()
# How to get Ray where a local Ray would be exposed: _init_ray's refusal says it, and backend auto's log (cli_sweep).
SECURE_RAY = (
    "use a Ray cluster you started and secured (--ray-address), or run where a local Ray stays on 127.0.0.1 "
    "(this machine's host name resolves to it, or in a network namespace)"
)


class RayBackend:
    def __init__(
        self,
        sink: EventSink | None = None,
        address: str | None = None,
        max_failures: int = 3,
        early_stopping: dict | None = None,
    ):
        """``address``: an existing cluster (``--ray-address``); None starts a local Ray on 127.0.0.1.
        ``max_failures``: how many times a trial runs again after its worker died (a node lost).
        ``early_stopping``: the sweep block's (spec.SweepSpec.early_stopping, defaults filled in); None: off."""
        self.sink = sink or EventSink("quiet")  # the driver's: trial errors outside any run folder go there
        self.address = address
        self.max_failures = max_failures
        self.early_stopping = early_stopping
        self.resources: dict[str, TrialResources] = {}  # what each trial of the last run asked for

    def run(self, trials: list[Trial], reporter: TrialReporter, runs_dir: Path) -> None:
        if not trials or stop.requested():
            return  # a stop asked for before the backend started: every trial stays as it is
        os.environ.update(RAY_ENV)
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        # Ray prints the cluster's error messages (a node lost: "(raylet) ...") to sys.stdout from a thread of its
        # own; stdout carries the events protocol, so while Ray runs here sys.stdout is stderr (sinks keep theirs).
        with contextlib.redirect_stdout(sys.stderr):
            started_ray = not ray.is_initialized()
            if started_ray:
                _init_ray(self.address)
            scratch = Path(tempfile.mkdtemp(prefix="ladderlab-tune-"))  # Tune's own state; the run store is elsewhere
            try:
                self.resources = plan_resources(trials)
                driver = _Driver(trials, reporter, Path(runs_dir), self.sink, self.max_failures, scratch)
                driver.run(self.resources, self.early_stopping)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
                if started_ray:
                    ray.shutdown()


def _init_ray(address: str | None) -> None:
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}  # stdout carries the events protocol
    if address is not None:
        ray.init(address=address, **quiet)
        return
    exposed = local_ray_exposure()
    if exposed is not None:
        raise BadInput(exposed, f"run the trials here with --backend local; or {SECURE_RAY}")
    ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", **quiet)
    listening = [ray.get_runtime_context().gcs_address.rsplit(":", 1)[0]]
    listening += [n["NodeManagerAddress"] for n in ray.nodes()]
    if not all(ipaddress.ip_address(a.strip("[]")).is_loopback for a in listening):  # never expected: fail closed
        ray.shutdown()
        raise RuntimeError(f"the local Ray listens on {', '.join(sorted(set(listening)))}; it was shut down")


def local_ray_exposure() -> str | None:
    """Why a local Ray is not started here (it would listen on another address than loopback); None: it would
    listen on 127.0.0.1 only.

    ray.init turns a node address of 127.0.0.1 into this machine's own address (Ray's get_node_ip_address: the
    address a packet to the internet would leave from, else the host name's), which would expose the unauthenticated
    cluster on that interface. Where that is not loopback, no local Ray is started."""
    chosen = ray.util.get_node_ip_address()
    if ipaddress.ip_address(chosen).is_loopback:
        return None
    return f"a local Ray would listen on {chosen}, not on 127.0.0.1 only (Ray has no authentication by default)"


class _Driver:
    """One sweep under Tune: starts the relay and the Tuner, and pumps the relay into the reporter."""

    def __init__(self, trials, reporter, runs_dir: Path, sink: EventSink, max_failures: int, scratch: Path):
        self.trials: dict[str, Trial] = {t.trial_id: t for t in trials}
        self.reporter, self.runs_dir, self.sink = reporter, runs_dir, sink
        self.max_failures, self.scratch = max_failures, scratch
        self.key = scratch.name  # this sweep's entry in _ENDING
        self.ended: set[str] = set()  # trials the reporter has been told ended
        self.run_ids: dict[str, str] = {}  # trial -> the run folder its latest attempt writes
        self.failure: BaseException | None = None  # the pump's own failure (e.g. the driver's disk is full)

    def run(self, resources: dict[str, TrialResources], early_stopping: dict | None = None) -> None:
        for asks, count in sorted(Counter(map(_asks, resources.values())).items()):
            self.sink.log(f"Ray: {count} trial{'s' if count > 1 else ''} ask{'' if count > 1 else 's'} for {asks}")
        resumable = {t.trial_id: str(d) for t in self.trials.values() if (d := resume_dir_of(t, self.runs_dir))}
        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        # no CPU: it must never take a trial's slot (nor wait for one)
        relay = _Relay.options(num_cpus=0, scheduling_strategy=here).remote(resumable)  # pyright: ignore
        trainable = tune.with_resources(
            tune.with_parameters(_train_trial, trials=self.trials, relay=relay, report=early_stopping is not None),
            lambda config: tune.PlacementGroupFactory([resources[config["trial_id"]].bundle()]),
        )
        scheduler = None
        if early_stopping is not None:
            RELAYS[self.key] = (relay, self.sink)
            epochs = max(build_experiment(t.values, {}).epochs for t in self.trials.values())
            scheduler = EarlyStopper(self.key, max_t=epochs, **early_stopping)
        tuner = tune.Tuner(
            trainable,
            param_space={"trial_id": tune.grid_search(list(self.trials))},
            # An actor runs trial after trial (of the same resources): each new one would import torch and
            # transformers again, seconds per trial. What a trial leaves in its process: torch's thread count (each
            # trial sets its own) and ladderlab.stop's flag, set only once the sweep is stopping (as every later
            # trial would be told anyway).
            tune_config=tune.TuneConfig(reuse_actors=True, scheduler=scheduler),
            run_config=tune.RunConfig(
                name="sweep",
                storage_path=str(self.scratch),
                failure_config=tune.FailureConfig(max_failures=self.max_failures),
                stop=_StopWhenIdle(self.key),
                verbose=0,
            ),
        )
        done = threading.Event()
        pump = threading.Thread(target=self._pump, args=(relay, done), name="ladderlab-ray-relay", daemon=True)
        pump.start()
        try:
            results = tuner.fit()
        finally:
            done.set()
            pump.join()
            _ENDING.discard(self.key)
            RELAYS.pop(self.key, None)
        if self.failure is None:  # every trial had its last message acknowledged before it ended: all are here
            self._take(ray.get(relay.drain.remote())[0])
        ray.kill(relay)  # pyright: ignore[reportArgumentType]  (an actor handle; Ray's stub names another type)
        if self.failure is not None:
            raise self.failure
        for result in results:
            trial_id = result.config["trial_id"] if result.config else None
            if trial_id in self.trials and trial_id not in self.ended and result.error is not None:
                self._ended(trial_id, "failed", None, _ray_error(result.error, self.max_failures))

    def _pump(self, relay, done: threading.Event) -> None:
        told_stop = False
        while not done.is_set():
            try:
                messages, idle = ray.get(relay.drain.remote())
            except RayError as e:  # the relay is gone: no trial can report; end the Tuner now
                self.failure = self.failure or e
                _ENDING.add(self.key)
                return
            try:
                self._take(messages)
            except Exception as e:  # the driver's run store failed (e.g. its disk is full): stop, say why at the end
                self.failure = self.failure or e
            if (stop.requested() or self.failure) and not told_stop:
                relay.request_stop.remote()  # the relay runs its calls in order: the next drain sees it done
                told_stop = True
                continue  # a trial may have begun since that drain: ask again before ending the Tuner
            if told_stop and idle:
                _ENDING.add(self.key)
            done.wait(POLL_S)

    def _take(self, messages: list[dict]) -> None:
        for m in messages:
            trial_id, kind = m["trial_id"], m["kind"]
            if kind == "started":
                self.run_ids[trial_id] = m["run_id"]
                self.reporter.trial_started(trial_id, m["run_id"])
            elif kind == "event":
                self.reporter.trial_event(trial_id, m["event"])
            elif kind == "file":
                self.reporter.trial_file(trial_id, m["name"], m["data"])
            elif kind == "ended":
                if m["error"] is not None and trial_id not in self.run_ids:  # failed before its run folder existed
                    self.sink.emit("error", **m["error"])
                self._ended(trial_id, m["status"], m["summary"], m["error"])
            elif kind == "interrupted":  # its node died, and the retry found the sweep stopping
                self._ended(trial_id, "stopped", None, None)

    def _ended(self, trial_id: str, status: str, summary: dict | None, error: dict | None) -> None:
        self.ended.add(trial_id)
        self.reporter.trial_ended(trial_id, status, summary, error)
        run_id = self.run_ids.get(trial_id)
        if status == "finished" and run_id:  # the run removed its own checkpoint; the driver's copy is spent too
            checkpoint.remove(self.runs_dir / run_id)


def _asks(r: TrialResources) -> str:
    cores = f"{r.cpu:g} CPU core{'s' if r.cpu != 1 else ''}"
    if not r.gpu or r.peak_bytes is None:
        return cores
    return f"{cores} and {r.gpu:g} of a GPU (estimated training peak {r.peak_bytes / 2**30:.2f} GiB)"


def _ray_error(error: BaseException, max_failures: int) -> dict:
    return {
        "kind": "crash",
        "message": f"the trial's Ray worker failed {max_failures + 1} times; the last time: {error}",
        "hint": "check the Ray cluster's nodes (`ray status`) and resume the sweep: `ladderlab sweep resume DIR`",
    }


class _StopWhenIdle(tune.Stopper):
    """Ends the Tuner once a requested stop has reached every running trial and they all ended (checkpointed): Tune
    would otherwise kill them at once. State is looked up by key: Tune pickles the stopper with its settings."""

    def __init__(self, key: str):
        self.key = key

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.key in _ENDING


def plan_resources(trials: list[Trial]) -> dict[str, TrialResources]:
    """Each trial's resources (resources.resources_for). The estimate needs a CUDA device: on this machine when it
    has one, else on one of the cluster's GPUs (a task holding the smallest share Ray gives). Trials that differ
    only by seed share one estimate (the seed changes no tensor's size)."""
    if not ray.cluster_resources().get("GPU"):
        return {t.trial_id: TrialResources(cpu=1) for t in trials}
    keys: dict[str, tuple[str, str]] = {}  # trial -> its estimate's key (method + experiment without the seed)
    wanted: dict[tuple[str, str], tuple[dict, str]] = {}
    for t in trials:
        values = {**t.values, "seed": 0}
        keys[t.trial_id] = key = (t.method, repr(sorted(values.items())))
        wanted.setdefault(key, (values, t.method))
    if torch.cuda.is_available():
        planned = _plan_on_gpu(list(wanted.values()))
    else:
        remote = ray.remote(num_gpus=0.0001, num_cpus=0)(_plan_on_gpu)
        planned = ray.get(remote.remote(list(wanted.values())))
    by_key = dict(zip(wanted, planned, strict=True))
    return {trial_id: by_key[key] for trial_id, key in keys.items()}


def _plan_on_gpu(wanted: list[tuple[dict, str]]) -> list[TrialResources]:
    total = gpu_total_bytes(torch.device("cuda"))
    return [resources_for(build_experiment(values, {}), method, total) for values, method in wanted]


@ray.remote
class _Relay:
    """Lives on the driver's node. Holds what trials send until the driver drains it, the latest checkpoint of each
    running trial (a retry on another node continues from it), and the driver's stop request."""

    def __init__(self, resumable: dict[str, str]):
        self.inbox: list[dict] = []
        self.active: set[str] = set()  # trials begun and not ended
        self.begun: set[str] = set()
        self.bundles: dict[str, dict] = {}  # trial -> {"run_id", "files": {name: bytes}} of its latest attempt
        self.resumable = resumable  # trial -> its run folder on this node, to continue in (a resumed sweep)
        self.stopping = False
        self.early: set[str] = set()  # trials ASHA stopped (asha.EarlyStopper), told so at their next message

    def begin(self, trial_id: str) -> dict:
        """A worker starts the trial: whether to stop instead, and the run folder's files to continue from."""
        if self.stopping:
            self.active.discard(trial_id)
            if trial_id in self.begun:
                self.inbox.append({"trial_id": trial_id, "kind": "interrupted"})
            return {"stop": True, "resume": None}
        self.active.add(trial_id)
        self.begun.add(trial_id)
        return {"stop": False, "resume": self.bundles.get(trial_id) or self._from_disk(trial_id)}

    def _from_disk(self, trial_id: str) -> dict | None:
        folder = self.resumable.pop(trial_id, None)
        if folder is None:
            return None
        path = Path(folder)
        return {
            "run_id": path.name,
            "files": {n: (path / n).read_bytes() for n in RESUME_FILES if (path / n).is_file()},
        }

    def put(self, message: dict) -> str | None:
        """One message from a trial; the reply is the stop the trial is asked for: "SIGINT" (the driver's stop, as
        ``ladderlab.stop.request`` names it), EARLY_STOP (ASHA's), or None."""
        self.inbox.append(message)
        trial_id, kind = message["trial_id"], message["kind"]
        if kind == "started":
            bundle = self.bundles.get(trial_id)
            if bundle is None or bundle["run_id"] != message["run_id"]:
                self.bundles[trial_id] = {"run_id": message["run_id"], "files": {}}
        elif kind == "file" and message["name"] in RESUME_FILES and trial_id in self.bundles:
            self.bundles[trial_id]["files"][message["name"]] = message["data"]
        elif kind == "ended":
            self.active.discard(trial_id)
            self.bundles.pop(trial_id, None)
            self.early.discard(trial_id)
        if self.stopping:
            return "SIGINT"
        return EARLY_STOP if trial_id in self.early else None

    def drain(self) -> tuple[list[dict], bool]:
        """What arrived since the last drain, and whether no trial is running."""
        messages, self.inbox = self.inbox, []
        return messages, not self.active

    def request_stop(self) -> None:
        self.stopping = True

    def early_stop(self, trial_id: str) -> None:
        self.early.add(trial_id)


class _RelaySink(EventSink):
    """A trial's sink on its worker: the run's events and files go to the relay as they happen. The reply to each
    carries the driver's stop request (or ASHA's), which becomes this process's ladderlab.stop request (the run
    checkpoints). With early stopping, each validation's metrics also go to Tune (``tune.report``) for ASHA."""

    tracks_runs = False  # this folder is scratch: the driver's SweepStore records the trial to its report_to

    def __init__(self, trial_id: str, relay, report: bool = False):
        super().__init__("quiet")  # a worker's stdout is Ray's log, not the driver's
        self.trial_id, self.relay, self.report = trial_id, relay, report
        self.run_dir: Path | None = None
        self.epochs = 0  # the run's, from its run_started event

    def send(self, kind: str, **fields: Any) -> None:
        asked: str | None = ray.get(self.relay.put.remote({"trial_id": self.trial_id, "kind": kind, **fields}))
        if asked and stop.requested() != asked:
            stop.request(asked)

    def send_files(self, names: tuple[str, ...]) -> None:
        for name in names:
            if self.run_dir is not None and (self.run_dir / name).is_file():
                self.send("file", name=name, data=(self.run_dir / name).read_bytes())

    def attach_run(self, run_id: str, events_path: Path) -> None:
        super().attach_run(run_id, events_path)
        self.run_dir = events_path.parent
        self.send("started", run_id=run_id)
        self.send_files(("config.json",))  # the driver's folder is a run folder from its first event
        # which machine this attempt trains on: a cluster sweep's run says where to look (and a retry, where it moved)
        context = ray.get_runtime_context()
        self.log(f"{NODE_LOG}{context.get_node_id()} ({ray.util.get_node_ip_address()})")

    def emit(self, type_: str, **fields: Any) -> dict:
        event = super().emit(type_, **fields)
        if self.run_id is not None:
            self.send("event", event=event)
            if type_ == "checkpoint_saved":
                self.send_files((checkpoint.CHECKPOINT, checkpoint.SIDECAR))
        if type_ == "run_started":
            self.epochs = fields["config"]["epochs"]
        elif self.report and type_ == "evaluation" and fields["split"] == "validation":
            report_validation(fields, self.epochs)
        return event


def _train_trial(config: dict, trials: dict[str, Trial], relay, report: bool = False) -> None:
    """The Tune trainable: one sweep trial on a worker, in a scratch runs_dir of its own node."""
    trial = trials[config["trial_id"]]
    cores = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cores)))  # as many threads as cores asked for: trials on a node do not contend
    start: dict = ray.get(relay.begin.remote(trial.trial_id))
    if start["stop"]:
        return  # the sweep is stopping: this trial stays queued (or, begun before on a lost node, is "stopped")
    scratch = Path(tempfile.mkdtemp(prefix="ladderlab-trial-"))
    sink = _RelaySink(trial.trial_id, relay, report)
    # ladderlab.stop's flag is this process's, and the actor goes on to the next trial: it is cleared when this one
    # ends, so an early stop stops this trial only (a sweep's stop reaches later trials through the relay's begin).
    # Tune runs the trainable in a thread of its own, where graceful_signals installs no handler, only clears it.
    with stop.graceful_signals():
        try:
            resume_dir = _unpack(start["resume"], scratch)
            try:
                summary = run_trial(trial, scratch, sink, resume_dir)
            except stop.StopRequested as e:
                status = "early_stopped" if e.signal_name == EARLY_STOP else "stopped"
                sink.send("ended", status=status, summary=None, error=None)
                return
            except RunFailed as e:  # its error event went with the run's events
                sink.send("ended", status="failed", summary=None, error=e.fields)
                return
            except Exception as e:  # failed before its run folder existed (e.g. the data is not on this node)
                sink.send("ended", status="failed", summary=None, error=error_fields(e))
                return
            sink.send_files(FINISHED_FILES)
            sink.send("ended", status="finished", summary=summary, error=None)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _unpack(bundle: dict | None, scratch: Path) -> Path | None:
    """An earlier attempt's run folder rebuilt in the scratch runs_dir (same run id), to resume; None: none."""
    if not bundle or "config.json" not in bundle["files"]:
        return None  # it never got as far as its run folder: start afresh
    folder = scratch / bundle["run_id"]
    folder.mkdir()
    for name, data in bundle["files"].items():
        (folder / name).write_bytes(data)
    return folder
