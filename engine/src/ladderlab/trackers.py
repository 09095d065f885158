"""Experiment trackers researchers already read (``report_to``): TensorBoard, MLflow, W&B, any combination.

The run's ``EventSink`` tees every event here (events.py), so training code knows nothing of trackers: what a
tracker records is what the run reports anyway — losses and learning rate per step (``train_step``), validation and
test metrics (``evaluation``), memory per phase (``phase_memory``), parameter counts (``run_started``), the run's
summary (``run_finished``) — plus the resolved config from the run's config.json, whose ``sweep`` entry (sweep id,
trial id, grid point, seed) a sweep trial carries. Each tracker writes through its library's own API, where its users
look:

    tensorboard  <run folder>/tensorboard: one log directory per run, named by the run id, so ``tensorboard --logdir
                 <runs folder>`` lists every run (transformers' logging_dir lives in its output folder likewise)
    mlflow       MLFLOW_TRACKING_URI, else a file store in <runs folder>/.mlruns (a dot-folder: the run list, here
                 and in the extension, takes every other folder of the runs folder for a run); experiment
                 MLFLOW_EXPERIMENT_NAME, else "ladderlab"
    wandb        W&B's own settings (WANDB_MODE, WANDB_PROJECT, WANDB_DIR...); files in the run folder unless
                 WANDB_DIR says otherwise, project "ladderlab" unless WANDB_PROJECT does

The libraries are optional (``pip install 'ladderlab[trackers]'``) and imported only when a run reports to them.
``trackers.json`` in the run folder keeps each tracker's run id, so a resumed run continues the same MLflow and W&B
runs. A tracker that fails after its run opened is dropped with a warning: a tracker must not cost the training.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from .errors import BadInput, for_client, label

STATE_FILE = "trackers.json"  # in the run folder: tracker -> what reopens its run on resume
STATUS = ("finished", "failed", "stopped")  # how a tracked run ends (the run's last event decides)


class Tracker:
    """One tracker's run. ``module`` is what must be importable, ``pip`` the package that provides it."""

    module = ""
    pip = ""

    def __init__(self, run_dir: Path, config: dict, saved: dict):
        """Open the tracker's run for the run in ``run_dir``; ``saved`` is what ``state()`` returned last time."""

    def log_metrics(self, step: int, metrics: dict[str, float], ts: float) -> None:
        raise NotImplementedError

    def close(self, status: str, final: dict[str, float]) -> None:
        """``final``: the run's final figures (test metrics, duration...), for the trackers that keep a summary."""

    def state(self) -> dict:
        return {}

    def where(self) -> str:
        """One line for the run's log: where to read this run."""
        raise NotImplementedError


class TensorBoard(Tracker):
    module = "tensorboard"
    pip = "tensorboard"

    def __init__(self, run_dir: Path, config: dict, saved: dict):
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = run_dir / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(self.logdir))  # a resumed run adds an events file beside the first
        self.config = config
        self.writer.add_text("config", "```json\n" + json.dumps(config, indent=2) + "\n```")

    def log_metrics(self, step: int, metrics: dict[str, float], ts: float) -> None:
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, global_step=step, walltime=ts)

    def close(self, status: str, final: dict[str, float]) -> None:
        if status == "finished":
            # The HParams dashboard's row for this run: its settings (a sweep trial's grid point among them) against
            # its final figures, whose tags are the scalars logged above.
            from torch.utils.tensorboard.summary import hparams

            file_writer = self.writer.file_writer
            assert file_writer is not None, "the writer is open until this close"
            hparam_values = {k: _scalar(v) for k, v in flat(self.config).items()}
            for summary in hparams(hparam_values, {k: v for k, v in final.items() if k.startswith("test/")}):
                file_writer.add_summary(summary)
        self.writer.close()

    def where(self) -> str:
        return f"tensorboard: {self.logdir} (tensorboard --logdir {self.logdir.parent.parent})"


class MLflow(Tracker):
    module = "mlflow"
    pip = "mlflow-skinny"

    def __init__(self, run_dir: Path, config: dict, saved: dict):
        from mlflow.entities import Param, RunTag
        from mlflow.tracking import MlflowClient

        uri = os.environ.get("MLFLOW_TRACKING_URI") or saved.get("tracking_uri")
        if not uri:
            uri = (run_dir.parent / ".mlruns").resolve().as_uri()
            # MLflow 3 keeps the file store in maintenance mode and refuses it unless this is set; it is the store
            # that needs no server and no database library (mlflow-skinny has none).
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.uri = uri
        self.client = client = MlflowClient(tracking_uri=uri)
        if saved.get("run_id"):  # a resumed run goes on in its MLflow run
            self.run_id = saved["run_id"]
            client.update_run(self.run_id, status="RUNNING")
            return
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "ladderlab"
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else _create_experiment(client, name)
        tags = {**identity(config), "run_dir": str(run_dir)}
        self.run_id = client.create_run(experiment_id, run_name=run_dir.name, tags=tags).info.run_id
        params = [Param(k, str(_scalar(v))[:6000]) for k, v in flat(config).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            client.log_batch(self.run_id, params=params[i : i + 100])
        client.log_batch(self.run_id, tags=[RunTag("mlflow.note.content", f"Ladder Lab run {run_dir}")])

    def log_metrics(self, step: int, metrics: dict[str, float], ts: float) -> None:
        from mlflow.entities import Metric

        ms = int(ts * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, ms, step) for k, v in metrics.items()])

    def close(self, status: str, final: dict[str, float]) -> None:
        self.client.set_terminated(self.run_id, {"finished": "FINISHED", "failed": "FAILED"}.get(status, "KILLED"))

    def state(self) -> dict:
        return {"tracking_uri": self.uri, "run_id": self.run_id}

    def where(self) -> str:
        return f"mlflow: run {self.run_id} in {self.uri}"


class WandB(Tracker):
    module = "wandb"
    pip = "wandb"

    def __init__(self, run_dir: Path, config: dict, saved: dict):
        import wandb

        tags = identity(config)
        # silent unless WANDB_SILENT says otherwise: stderr carries the engine's own messages
        silent = os.environ.get("WANDB_SILENT", "true").lower() in ("true", "1", "yes")
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT") or "ladderlab",
            dir=None if os.environ.get("WANDB_DIR") else str(run_dir),
            name=run_dir.name,
            id=saved.get("id"),
            resume="allow" if saved.get("id") else None,
            group=tags.get("sweep_id"),
            job_type=tags["method"],
            tags=[tags[k] for k in ("method", "trial_id") if k in tags],
            config=config,
            # console capture off: stdout is the engine's event stream, left exactly as the extension reads it
            settings=wandb.Settings(console="off", silent=silent),
            reinit="create_new",  # a comparison runs its methods one after another in one process
        )

    def log_metrics(self, step: int, metrics: dict[str, float], ts: float) -> None:
        self.run.log(metrics, step=step)

    def close(self, status: str, final: dict[str, float]) -> None:
        self.run.summary.update(final)
        self.run.finish(exit_code=0 if status == "finished" else 1)

    def state(self) -> dict:
        return {"id": self.run.id}

    def where(self) -> str:
        if self.run.offline:
            folder = Path(self.run.dir).parent  # run.dir is the run's files/ folder
            return f"wandb: offline run {self.run.id} in {folder} (wandb sync {folder} uploads it)"
        return f"wandb: run {self.run.id} at {self.run.url}"


# The registry: report_to's choices, in the order the form lists them.
TRACKERS: dict[str, type[Tracker]] = {"tensorboard": TensorBoard, "mlflow": MLflow, "wandb": WandB}
EXTRA = "ladderlab[trackers]"  # the optional extra that installs them all (engine/pyproject.toml)


def require(names: list[str]) -> None:
    """BadInput naming report_to and the pip command for each named tracker whose library is not installed, so an
    experiment fails before anything starts, not after a backbone loaded."""
    missing = [name for name in names if importlib.util.find_spec(TRACKERS[name].module) is None]
    if missing:
        packages = " ".join(TRACKERS[name].pip for name in missing)
        keep = [name for name in names if name not in missing]
        leave = for_client(
            cli=f"--report-to {','.join(keep)}" if keep else "no --report-to",
            vscode=f"leave {', '.join(missing)} out of {label('report_to')} in the Experiment view",
        )
        libraries = "its library is" if len(missing) == 1 else "their libraries are"
        raise BadInput(
            f"report_to names {', '.join(missing)}, but {libraries} not installed in this Python "
            f"({', '.join(TRACKERS[n].module for n in missing)})",
            f"pip install {packages} (or pip install '{EXTRA}' for every tracker); or run without it: {leave}",
        )


def identity(config: dict) -> dict[str, str]:
    """What a tracker files a run under (MLflow tags, W&B group, job type and tags): its method and, for a sweep
    trial, its sweep id and trial id."""
    sweep = config.get("sweep") or {}
    return {"method": str(config.get("method")), **{k: str(sweep[k]) for k in ("sweep_id", "trial_id") if k in sweep}}


def flat(values: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys ({"sweep": {"point": {"r": 8}}} -> {"sweep.point.r": 8}): how trackers that take
    flat parameters (MLflow, TensorBoard's HParams) show the config and a sweep trial's grid point."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _scalar(value: Any) -> Any:
    """A parameter value as the trackers take it: numbers, text and booleans as they are, anything else as JSON."""
    return value if isinstance(value, (bool, int, float, str)) else json.dumps(value)


def _create_experiment(client, name: str) -> str:
    try:
        return client.create_experiment(name)
    except Exception:  # another run (a parallel sweep trial) created it in between
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def metrics_of(event: dict) -> dict[str, float]:
    """The figures an event carries, named as the trackers show them (train/loss, validation/score,
    memory/train/accounted_bytes...); {} for events that carry none."""
    kind = event["type"]
    if kind == "train_step":
        memory = event["memory"]
        figures = {"train/loss": event["loss"], "train/lr": event["lr"], "train/step_s": event["step_s"]}
        figures.update({f"train/{k}": v for k, v in memory.items()})
    elif kind == "evaluation":
        figures = {f"{event['split']}/{k}": v for k, v in event["metrics"].items()}
    elif kind == "phase_memory":
        figures = {f"memory/{event['phase']}/{k}": v for k, v in event["memory"].items()}
    elif kind == "run_started":
        figures = {f"params/{k}": v for k, v in event["params"].items()}
    elif kind == "run_finished":
        summary = event["summary"]
        figures = {k: summary[k] for k in ("trainable_pct", "duration_s", "best_epoch") if k in summary}
    else:
        return {}
    return numbers(figures)


def numbers(figures: dict[str, Any]) -> dict[str, float]:
    """The figures that are numbers: null (a CUDA-only figure on a CPU, a non-finite value) is no point on a chart."""
    return {k: float(v) for k, v in figures.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class RunTrackers:
    """The trackers of one run, fed every event of it by the run's EventSink."""

    def __init__(self, names: list[str], run_dir: Path, config: dict):
        require(names)
        self.run_dir = run_dir
        self.step = 0  # the latest training step: the x of figures from events without one (memory, summary)
        self.final: dict[str, float] = {}  # the run's final figures (test metrics, summary), for run summaries
        self.status = "failed"  # until the run's last event says otherwise
        self.warnings: list[str] = []  # for the sink to log: trackers that failed and were dropped
        self.open: dict[str, Tracker] = {}
        saved = _read_state(run_dir)
        try:
            for name in names:
                self.open[name] = _opened(name, run_dir, config, saved.get(name, {}))
        except BaseException:
            self.close()  # the ones already open end as failed
            raise
        self._save_state()

    def notes(self) -> list[str]:
        return [tracker.where() for tracker in self.open.values()]

    def record(self, event: dict) -> None:
        kind = event["type"]
        self.step = event.get("step", self.step)
        self.status = {"run_finished": "finished", "run_stopped": "stopped", "error": "failed"}.get(kind, self.status)
        figures = metrics_of(event)
        if kind == "evaluation" and event["split"] == "test" or kind == "run_finished":
            self.final.update(figures)
        if kind == "run_finished":
            self.final.update(numbers(flat(event["summary"]["memory"], "memory/")))
        if not figures:
            return
        for name, tracker in list(self.open.items()):
            try:
                tracker.log_metrics(self.step, figures, event["ts"])
            except Exception as e:  # the run goes on without it
                del self.open[name]
                self.warnings.append(f"{name} stopped recording this run: {type(e).__name__}: {e}")

    def close(self) -> None:
        for name, tracker in self.open.items():
            try:
                tracker.close(self.status, self.final)
            except Exception as e:
                self.warnings.append(f"{name} could not close its run: {type(e).__name__}: {e}")
        self.open = {}

    def _save_state(self) -> None:
        from .runstore import write_json_atomic

        state = _read_state(self.run_dir)
        state.update({name: tracker.state() for name, tracker in self.open.items()})
        write_json_atomic(self.run_dir / STATE_FILE, state)


def _opened(name: str, run_dir: Path, config: dict, saved: dict) -> Tracker:
    try:
        return TRACKERS[name](run_dir, config, saved)
    except BadInput:
        raise
    except Exception as e:  # credentials, an unreachable server, a store it cannot write: the user's to fix
        raise BadInput(
            f"report_to {name}: its run could not be opened ({type(e).__name__}: {e})",
            {
                "tensorboard": "check that the run folder is writable",
                "mlflow": "check MLFLOW_TRACKING_URI (unset, runs go to a file store in the runs folder)",
                "wandb": "run `wandb login`, or set WANDB_MODE=offline to keep the run on this machine",
            }[name],
        ) from e


def _read_state(run_dir: Path) -> dict:
    path = run_dir / STATE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
