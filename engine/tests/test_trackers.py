"""report_to: a real run recorded by TensorBoard, MLflow and W&B at once, each read back with its own reader.

Local stores only, never the network: W&B in offline mode (its run folder is read record by record), MLflow's file
store in the runs folder (queried with MlflowClient), TensorBoard's event file (read with TensorBoard's
EventAccumulator). The run is a sweep trial (its config.json carries the sweep entry, as sweep/trials.py writes it),
so the grid point must reach every tracker. A missing tracker library is refused before anything starts.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import sys
from pathlib import Path

import jsonschema
import pytest

from helpers import SCHEMA, SST2, cli, tiny_lst_run
from ladderlab import cli as ladderlab_cli
from ladderlab.comparison import prepare
from ladderlab.events import EventSink
from ladderlab.trackers import STATE_FILE, RunTrackers
from ladderlab.train import Run

SWEEP = {"sweep": {"sweep_id": "s-test", "trial_id": "t0003", "point": {"r": 4}, "seed": 7}}
STEPS = 8  # tiny_lst_run: 2 epochs of 4 steps


def _local_stores(mp: pytest.MonkeyPatch) -> None:
    """Every tracker at its default local store, whatever the machine's environment says; W&B offline. Deleting
    MLFLOW_ALLOW_FILE_STORE also restores it after the test (trackers.py sets it for its default file store)."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_ALLOW_FILE_STORE", "WANDB_DIR"):
        mp.delenv(name, raising=False)
    for name in ("WANDB_PROJECT", "WANDB_SILENT", "WANDB_API_KEY"):
        mp.delenv(name, raising=False)
    mp.setenv("WANDB_MODE", "offline")


@pytest.fixture
def local_only(monkeypatch):
    _local_stores(monkeypatch)


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    """One real trial-shaped run (preset:bert-tiny, SST-2 rows) reporting to all three; its folder and events."""
    with pytest.MonkeyPatch.context() as mp:
        _local_stores(mp)
        exp = tiny_lst_run(tmp_path_factory.mktemp("tracked"), r=4, report_to=["tensorboard", "mlflow", "wandb"])
        backbone, data = prepare(exp)
        stdout = io.StringIO()
        run = Run(exp, "lst", backbone, data, EventSink("events", stdout))
        run.config.update(SWEEP)  # as run_trial tags a sweep trial
        summary = run.execute()
        run_dir = Path(summary["run_dir"])
        # read while MLFLOW_ALLOW_FILE_STORE (set by trackers.py for its default store) is still in force
        yield run_dir, stdout.getvalue(), _mlflow_view(run_dir.parent / ".mlruns")


def _mlflow_view(store: Path) -> dict:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store.as_uri())
    experiment = client.get_experiment_by_name("ladderlab")
    assert experiment is not None, f"no 'ladderlab' experiment in {store}"
    runs = client.search_runs([experiment.experiment_id])
    return {
        "runs": runs,
        "history": {
            key: [(m.step, m.value) for m in client.get_metric_history(runs[0].info.run_id, key)]
            for key in ("train/loss", "validation/score", "test/score", "memory/train/accounted_bytes")
        },
    }


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _losses(run_dir: Path) -> list[tuple[int, float]]:
    return [(e["step"], e["loss"]) for e in _events(run_dir) if e["type"] == "train_step"]


def test_stdout_stays_the_event_stream_and_says_where_each_tracker_writes(tracked_run):
    run_dir, stdout, _ = tracked_run
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    events = [json.loads(line) for line in stdout.splitlines()]  # nothing a tracker printed is mixed in
    for event in events:
        validator.validate(event)
    notes = [e["message"] for e in events if e["type"] == "log"]
    assert any(n.startswith(f"tensorboard: {run_dir / 'tensorboard'}") for n in notes), notes
    assert any(n.startswith("mlflow: run ") and ".mlruns" in n for n in notes), notes
    assert any(n.startswith("wandb: offline run ") and f"wandb sync {run_dir / 'wandb'}" in n for n in notes), notes
    assert not [e for e in events if e["type"] == "log" and e["level"] == "warning"]
    assert set(json.loads((run_dir / STATE_FILE).read_text())) == {"tensorboard", "mlflow", "wandb"}


def test_tensorboard_event_file_holds_losses_metrics_memory_and_the_grid_point(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run_dir, _, _ = tracked_run
    acc = EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    loss = [(s.step, s.value) for s in acc.Scalars("train/loss")]
    assert [step for step, _ in loss] == list(range(1, STEPS + 1))
    assert [v for _, v in loss] == pytest.approx([v for _, v in _losses(run_dir)], rel=1e-6)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert acc.Scalars("test/score")[-1].value == pytest.approx(metrics["test"]["score"], rel=1e-6)
    assert len(acc.Scalars("validation/score")) == 2  # one per epoch
    summary = json.loads((run_dir / "summary.json").read_text())
    assert acc.Scalars("memory/train/accounted_bytes")[-1].value == pytest.approx(
        summary["memory"]["accounted_bytes"], rel=1e-6
    )
    # HParams dashboard: the run's settings, the sweep's grid point among them
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["sweep.point.r"].number_value == 4
    assert start.hparams["sweep.sweep_id"].string_value == "s-test"
    assert start.hparams["method"].string_value == "lst"


def test_mlflow_file_store_holds_the_run_its_params_and_metrics(tracked_run):
    run_dir, _, view = tracked_run
    (run,) = view["runs"]
    assert run.info.run_name == run_dir.name
    assert run.info.status == "FINISHED"
    assert run.data.tags["sweep_id"] == "s-test" and run.data.tags["trial_id"] == "t0003"
    params = run.data.params
    assert params["sweep.point.r"] == "4" and params["r"] == "4" and params["sweep.seed"] == "7"
    assert params["method"] == "lst" and params["max_length"] == "32" and params["backbone"] == "preset:bert-tiny"
    history = view["history"]
    assert [s for s, _ in history["train/loss"]] == list(range(1, STEPS + 1))
    assert [v for _, v in history["train/loss"]] == pytest.approx([v for _, v in _losses(run_dir)], rel=1e-9)
    assert len(history["validation/score"]) == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert history["test/score"] == [(STEPS, pytest.approx(metrics["test"]["score"]))]
    assert history["memory/train/accounted_bytes"][0][1] > 0


def test_wandb_offline_run_holds_history_summary_and_config(tracked_run):
    run_dir, _, _ = tracked_run
    (offline,) = (run_dir / "wandb").glob("offline-run-*")
    records = wandb_records(next(offline.glob("run-*.wandb")))
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    assert run.display_name == run_dir.name and run.run_group == "s-test" and run.project == "ladderlab"
    assert list(run.tags) == ["lst", "t0003"] and run.job_type == "lst"
    config = _items(run.config.update)
    assert config["sweep"]["point"] == {"r": 4} and config["sweep"]["sweep_id"] == "s-test"
    assert config["max_length"] == 32 and config["method"] == "lst"
    history = [_items(r.history.item) for r in records if r.HasField("history")]
    losses = [(h["_step"], h["train/loss"]) for h in history if "train/loss" in h]
    # W&B's core writes floats with 6 significant digits, as the events carry losses (rounded to 6 decimals)
    assert losses == [(s, pytest.approx(v, rel=1e-5)) for s, v in _losses(run_dir)]
    assert [h["_step"] for h in history if "validation/score" in h] == [STEPS // 2, STEPS]
    summary: dict = {}
    for r in records:
        if r.HasField("summary"):
            summary.update(_items(r.summary.update))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert summary["test/score"] == pytest.approx(metrics["test"]["score"], rel=1e-5)
    assert summary["memory/accounted_bytes"] > 0


def _items(items) -> dict:
    """W&B record items as a dict: a key is in ``key`` or, path by path, in ``nested_key``."""
    return {item.key or ".".join(item.nested_key): json.loads(item.value_json) for item in items}


def wandb_records(path: Path) -> list:
    """The records of a W&B run file (run-<id>.wandb): LevelDB's log format, W&B's header first; each record a
    protobuf ``Record``. W&B ships no Python reader of it any more (its core, in Go, writes and syncs it)."""
    from wandb.proto import wandb_internal_pb2

    block, full, first, middle, last = 32768, 1, 2, 3, 4
    data = path.read_bytes()
    assert data[:7] == struct.pack("<4sHB", b":W&B", 0xBEE1, 0), f"{path} is not a W&B run file"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        room = block - pos % block
        if room < 7:  # a block's tail too short for a header is padding
            pos += room
            continue
        _checksum, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (full, first):
            pending = chunk
        elif kind in (middle, last):
            pending += chunk
        else:
            break  # zeros: the end of what was written
        if kind in (full, last):
            records.append(wandb_internal_pb2.Record.FromString(pending))
    return records


def test_a_resumed_run_continues_its_mlflow_and_wandb_runs(tmp_path, local_only):
    """trackers.json: the second session of a run (as after ``ladderlab resume``) logs to the same tracker runs."""
    from mlflow.tracking import MlflowClient

    run_dir = tmp_path / "runs" / "20261201-000000-lst-abcd"
    run_dir.mkdir(parents=True)
    config = {"method": "lst", "r": 8, "report_to": ["mlflow", "wandb"]}
    ids = []
    for session, steps in enumerate(((1, 2), (3, 4))):
        trackers = RunTrackers(["mlflow", "wandb"], run_dir, config)
        for step in steps:
            trackers.record(_train_step(step, loss=1.0 / step))
        if session == 1:
            trackers.record({"type": "run_finished", "ts": 0.0, "summary": {"duration_s": 1.0, "memory": {}}})
        trackers.close()
        ids.append(json.loads((run_dir / STATE_FILE).read_text()))
    assert ids[0] == ids[1]
    client = MlflowClient(tracking_uri=ids[0]["mlflow"]["tracking_uri"])
    assert [m.step for m in client.get_metric_history(ids[0]["mlflow"]["run_id"], "train/loss")] == [1, 2, 3, 4]
    assert client.get_run(ids[0]["mlflow"]["run_id"]).info.status == "FINISHED"
    assert list((run_dir / "wandb").glob(f"offline-run-*-{ids[0]['wandb']['id']}"))  # both sessions: one W&B id


def _train_step(step: int, loss: float) -> dict:
    return {
        "type": "train_step",
        "ts": 1796000000.0 + step,
        "step": step,
        "loss": loss,
        "lr": 1e-3,
        "step_s": 0.1,
        "memory": {"allocated_bytes": None, "reserved_bytes": None, "saved_for_backward_bytes": 1024},
    }


def test_a_missing_tracker_library_is_refused_before_anything_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # how Python marks a module as not importable
    monkeypatch.chdir(tmp_path)
    code = ladderlab_cli.main(
        cli("run --method lst --backbone preset:bert-tiny --task sst2 --data", SST2, "--report-to tensorboard,wandb")
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "report_to names wandb, but its library is not installed" in err, err
    assert "pip install wandb" in err and "ladderlab[trackers]" in err and "--report-to tensorboard" in err, err
    assert not (tmp_path / ".ladderlab").exists()  # no run folder: nothing started


def test_report_to_refuses_an_unknown_tracker(tmp_path, capsys):
    code = ladderlab_cli.main(cli("run --method lst --task sst2 --report-to tensorboard,comet --runs-dir", tmp_path))
    assert code == 2
    assert "comet" in capsys.readouterr().err


def test_a_tracker_that_fails_mid_run_is_dropped_with_a_warning_and_the_run_goes_on(tmp_path, local_only):
    """The MLflow store vanishes under a running run: the next event is still written, the run's log says which
    tracker stopped and why, and no later event reaches it (nor raises)."""
    run_dir = tmp_path / "runs" / "20261201-000000-lst-abcd"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"method": "lst", "report_to": ["mlflow"]}))
    sink = EventSink("quiet")
    sink.attach_run(run_dir.name, run_dir / "events.jsonl")
    step = _train_step(1, loss=0.5)
    sink.emit("train_step", **{k: v for k, v in step.items() if k not in ("type", "ts")})
    shutil.rmtree(tmp_path / "runs" / ".mlruns")
    for n in (2, 3):
        step = _train_step(n, loss=0.5)
        sink.emit("train_step", **{k: v for k, v in step.items() if k not in ("type", "ts")})
    sink.detach_run()
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["type"] == "train_step"] == [1, 2, 3]
    warnings = [e["message"] for e in events if e["type"] == "log" and e["level"] == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith("mlflow stopped recording this run:"), warnings
