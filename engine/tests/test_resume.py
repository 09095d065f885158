"""Nothing lost: a run killed with SIGKILL (twice) or stopped with SIGINT/SIGTERM and then resumed ends with
exactly the test metrics and trainable weights of the same run left alone; out of memory and a full disk are
reported cleanly and leave the earlier results and the previous checkpoint intact.

Real engine processes (python -m ladderlab.cli), LST on the BERT architecture (the bert-tiny preset keeps each
run to seconds; resuming does not depend on the backbone's size), real SST-2 rows; CPU. Equality is exact
(tolerance 0): the resumed run reloads the same bytes and replays the same seeded batch order.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import torch
from safetensors.torch import load_file

import helpers
from helpers import SCHEMA, SST2, tiny_lst_run
from ladderlab import checkpoint, cli, stop
from ladderlab.comparison import resume_run, run_comparison
from ladderlab.errors import CLIENT_ENV, BadInput
from ladderlab.events import EventSink

# 2 epochs x 12 steps; a checkpoint every 4 steps and at each epoch end.
CONFIG = helpers.cli(
    "--method lst --backbone preset:bert-tiny --task sst2 --data",
    SST2,
    "--max-train-examples 96 --max-eval-examples 16 --epochs 2 --batch-size 8 --max-length 32 --fisher-samples 4",
    "--checkpoint-every 4",
)
TOTAL_STEPS = 24
# One 4-step epoch, for the failure cases.
SMALL = helpers.cli(
    "--max-train-examples 32 --max-eval-examples 8 --epochs 1 --batch-size 8 --max-length 32 --fisher-samples 2",
    "--runs-dir runs --format events",
)


def start(*args: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    # An argument list, never a shell string.
    return subprocess.Popen(
        [sys.executable, "-m", "ladderlab.cli", *args, "--format", "events"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def read_until(proc: subprocess.Popen, predicate, timeout: float = 240) -> list[dict]:
    """Events from the process's stdout up to and including the first one the predicate accepts."""
    events, deadline = [], time.monotonic() + timeout
    for line in proc.stdout:
        events.append(json.loads(line))
        if predicate(events[-1]):
            return events
        assert time.monotonic() < deadline, "timed out waiting for the event"
    raise AssertionError(
        f"the process ended (exit {proc.wait()}) before the awaited event: {proc.stderr.read()[-2000:]}"
    )


def final_result(run_dir: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return metrics, load_file(run_dir / "trainable.safetensors")


def assert_same_result(run_dir: Path, reference: tuple[dict, dict]) -> None:
    metrics, weights = final_result(run_dir)
    ref_metrics, ref_weights = reference
    assert metrics == ref_metrics
    assert weights.keys() == ref_weights.keys()
    for name, tensor in weights.items():
        assert torch.equal(tensor, ref_weights[name]), f"{name} differs after resume"


def events_file(run_dir: Path) -> list[dict]:
    """Every line of events.jsonl is whole JSON, except perhaps a torn last line (a write cut by the kill)."""
    lines = (run_dir / "events.jsonl").read_text().split("\n")
    events = [json.loads(line) for line in lines[:-1]]
    if lines[-1]:
        with pytest.raises(json.JSONDecodeError):
            json.loads(lines[-1])
    return events


def resume_in_process(run_dir: Path, capsys) -> tuple[int, list[dict]]:
    capsys.readouterr()
    code = cli.main(["resume", str(run_dir), "--format", "events"])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same run, never interrupted."""
    cwd = tmp_path_factory.mktemp("reference")
    proc = start("run", *CONFIG, "--runs-dir", "runs", cwd=cwd)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    run_dir = helpers.run_folders(cwd / "runs")[0]
    assert not (run_dir / checkpoint.CHECKPOINT).exists()  # removed once the run finished
    return final_result(run_dir)


def test_killed_twice_then_resumed_equals_the_uninterrupted_run(tmp_path, reference, validator, capsys):
    # Kill 1: SIGKILL just after the step-4 checkpoint (epoch 0).
    proc = start("run", *CONFIG, "--runs-dir", "runs", cwd=tmp_path)
    events = read_until(proc, lambda e: e["type"] == "checkpoint_saved" and e["step"] >= 4)
    proc.kill()
    proc.wait()
    run_dir = tmp_path / events[0]["run_dir"]  # relative to the cwd (runs_dir is relative)
    written = events_file(run_dir)
    assert written[0]["type"] == "run_started" and not any(e["type"] == "run_finished" for e in written)
    payload = checkpoint.load(run_dir)  # the checkpoint loads
    assert payload["state"]["step"] >= 4 and payload["trainable"]
    # A kill during a write can leave a torn last line; make sure there is one, as the worst case for resume.
    if (run_dir / "events.jsonl").read_bytes().endswith(b"\n"):
        with open(run_dir / "events.jsonl", "a") as f:
            f.write('{"v":1,"type":"train_step","ts":17957')

    # Kill 2: the resumed process is killed right after the train_step of an interval checkpoint, i.e. while
    # (or just after) it writes checkpoint.pt; atomic replacement must leave a loadable one either way.
    proc = start("resume", str(run_dir), cwd=tmp_path)
    events = read_until(proc, lambda e: e["type"] == "train_step" and e["step"] == 16)
    proc.kill()
    proc.wait()
    started = events[0]
    assert started["type"] == "run_started" and started["resumed"]["step"] == payload["state"]["step"]
    warning = next(e for e in events if e["type"] == "log" and "torn" in e["message"])
    assert warning["level"] == "warning" and "removed" in warning["message"]
    steps = [e["step"] for e in events if e["type"] == "train_step"]
    assert steps[0] == payload["state"]["step"] + 1  # exactly the batches not yet done
    events_file(run_dir)
    assert checkpoint.load(run_dir)["state"]["step"] in (12, 16)

    # The final resume runs to the end; the result is bit-identical to the uninterrupted run.
    code, events = resume_in_process(run_dir, capsys)
    assert code == 0
    for event in events:
        validator.validate(event)
    assert events[-1]["type"] == "run_finished"
    assert_same_result(run_dir, reference)
    whole = events_file(run_dir)
    assert [e["type"] for e in whole].count("run_started") == 3
    assert {e["step"] for e in whole if e["type"] == "train_step"} == set(range(1, TOTAL_STEPS + 1))
    assert not (run_dir / checkpoint.CHECKPOINT).exists()

    # A finished run is not resumed again.
    code, events = resume_in_process(run_dir, capsys)
    assert code == 2 and events[-1]["kind"] == "bad_input" and "already finished" in events[-1]["message"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signal_checkpoints_exits_130_and_resume_completes(tmp_path, reference, validator, capsys, sig):
    proc = start("run", *CONFIG, "--runs-dir", "runs", cwd=tmp_path)
    events = read_until(proc, lambda e: e["type"] == "train_step" and e["step"] == 6)
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    exit_s = time.monotonic() - sent
    events += [json.loads(line) for line in out.splitlines()]
    assert proc.returncode == 130, err[-2000:]
    assert exit_s < 10, f"took {exit_s:.1f}s to stop"  # the current step, a checkpoint, and out
    print(f"{sig.name}: exited {exit_s:.2f}s after the signal")
    for event in events:
        validator.validate(event)
    stopped = events[-1]
    assert stopped["type"] == "run_stopped" and stopped["signal"] == sig.name
    assert not any(e["type"] == "run_finished" for e in events)
    run_dir = tmp_path / events[0]["run_dir"]
    assert stopped["checkpoint"] == str(Path(events[0]["run_dir"]) / checkpoint.CHECKPOINT)  # as run_dir is given
    assert checkpoint.load(run_dir)["state"]["step"] == stopped["step"] >= 6
    saved = [e for e in events if e["type"] == "checkpoint_saved"]
    assert saved[-1]["step"] == stopped["step"] and saved[-1]["reason"] in ("stop", "interval")
    assert "Traceback" not in err

    code, events = resume_in_process(run_dir, capsys)
    assert code == 0 and events[-1]["type"] == "run_finished"
    assert [e["step"] for e in events if e["type"] == "train_step"][0] == stopped["step"] + 1
    assert_same_result(run_dir, reference)


def test_second_signal_stops_at_once_and_the_last_checkpoint_still_resumes(tmp_path, reference, capsys):
    """SIGINT then SIGTERM 50 ms later (the extension escalates the same way): no waiting for the step's end; exit
    130; whatever the second signal interrupted, the checkpoint on disk is whole and the resume is exact."""
    proc = start("run", *CONFIG, "--runs-dir", "runs", cwd=tmp_path)
    events = read_until(proc, lambda e: e["type"] == "checkpoint_saved" and e["step"] >= 4)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    run_dir = tmp_path / events[0]["run_dir"]
    events_file(run_dir)
    assert checkpoint.load(run_dir)["state"]["step"] >= 4
    code, _ = resume_in_process(run_dir, capsys)
    assert code == 0
    assert_same_result(run_dir, reference)


def test_out_of_memory_is_one_event_exit_3_and_earlier_runs_stay(tmp_path, monkeypatch, capsys, validator):
    """The forced allocation failure goes through the real OOM path (oom.FAIL_ALLOC_ENV is test-only)."""
    monkeypatch.setenv("LADDERLAB_TEST_FAIL_ALLOC_AT_STEP", "lst:3")
    monkeypatch.chdir(tmp_path)
    code = cli.main(
        helpers.cli("compare --methods bitfit,lst --backbone preset:bert-tiny --task sst2 --data", SST2, *SMALL)
    )
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    for event in events:
        validator.validate(event)
    assert code == 3
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1
    oom = errors[0]
    assert oom["kind"] == "oom" and oom["phase"] == "train" and oom["step"] == 3
    assert "out of memory during train (step 3)" in oom["message"]
    assert "--batch-size" in oom["hint"] and "--r" in oom["hint"] and "--keep-layers" in oom["hint"]
    memory = oom["memory"]
    assert memory["accounted_bytes"] > 0 and memory["rss_bytes"] > 0
    assert memory["allocated_bytes"] is None  # CPU: no CUDA figures, none invented
    assert memory["predicted_peak_bytes"] > 0 and "estimator predicted a peak" in oom["hint"]  # ladderlab.estimate
    assert "Traceback" not in captured.err and "out of memory" in captured.err
    finished = [e["summary"] for e in events if e["type"] == "run_finished"]
    assert [s["method"] for s in finished] == ["bitfit"]
    bitfit_dir = Path(finished[0]["run_dir"])
    assert (bitfit_dir / "summary.json").is_file() and (bitfit_dir / "trainable.safetensors").is_file()
    lst_dir = next(d for d in Path("runs").iterdir() if "-lst-" in d.name)
    assert events_file(lst_dir)[-1]["kind"] == "oom"
    assert not (lst_dir / "summary.json").exists()


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    """ENOSPC while writing the second checkpoint: a clear bad_input, exit 2, the first checkpoint intact."""
    real_save, calls = torch.save, []

    def save_until_disk_full(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 1:
            return real_save(obj, f, *args, **kwargs)
        Path(f).write_bytes(b"half a checkpoint")  # the disk fills up mid-write
        raise OSError(errno.ENOSPC, "No space left on device", str(f))

    monkeypatch.setattr(torch, "save", save_until_disk_full)
    monkeypatch.chdir(tmp_path)
    code = cli.main(
        helpers.cli(
            "run --method lst --backbone preset:bert-tiny --task sst2 --data", SST2, *SMALL, "--checkpoint-every 1"
        )
    )
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    run_dir = helpers.run_folders(Path("runs"))[0]
    assert f"no space left writing a checkpoint to {run_dir / checkpoint.CHECKPOINT}" in captured.err
    assert "free space" in captured.err and "--runs-dir" in captured.err
    error = [json.loads(line) for line in captured.out.splitlines() if '"error"' in line]
    assert len(error) == 1 and error[0]["kind"] == "bad_input"
    monkeypatch.setattr(torch, "save", real_save)
    assert checkpoint.load(run_dir)["state"]["step"] == 1  # the first checkpoint, whole
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []  # no temp file left


class StopWhen(EventSink):
    """A real sink that asks for a stop (as the signal handler does) right after a chosen event."""

    def __init__(self, when):
        super().__init__("quiet")
        self.when, self.events = when, []

    def emit(self, type_, **fields):
        event = super().emit(type_, **fields)
        self.events.append(event)
        if self.when(event):
            stop.request("SIGTERM")
        return event


def test_stop_before_validation_resumes_with_the_validation(tmp_path):
    """Stopped after the epoch's last step: the checkpoint's position is 'batches done, validation pending', and the
    resumed run validates first, then trains epoch 2, ending as the uninterrupted run does."""
    exp = tiny_lst_run(tmp_path)
    reference = run_comparison(exp, EventSink("quiet")).rows[0]
    sink = StopWhen(lambda e: e["type"] == "train_step" and e["step"] == 4)  # 4 steps per epoch
    with stop.graceful_signals(), pytest.raises(stop.StopRequested):
        run_comparison(exp, sink)
    assert [e["type"] for e in sink.events[-2:]] == ["checkpoint_saved", "run_stopped"]
    assert sink.events[-2]["reason"] == "stop" and (sink.events[-2]["epoch"], sink.events[-2]["step_in_epoch"]) == (
        0,
        4,
    )
    run_dir = Path(sink.events[-1]["checkpoint"]).parent

    resumed = StopWhen(lambda e: False)
    with stop.graceful_signals():
        row = resume_run(run_dir, resumed).rows[0]
    after_start = [e["type"] for e in resumed.events if e["type"] in ("evaluation", "train_step")]
    assert after_start[0] == "evaluation" and after_start[1] == "train_step"
    assert row["metrics"] == reference["metrics"] and row["validation_metrics"] == reference["validation_metrics"]
    ref_weights = load_file(Path(reference["run_dir"]) / "trainable.safetensors")
    for name, tensor in load_file(run_dir / "trainable.safetensors").items():
        assert torch.equal(tensor, ref_weights[name])


def test_a_stop_in_vscode_names_the_command_not_the_cli(tmp_path, monkeypatch):
    """The extension runs the engine with LADDERLAB_CLIENT=vscode: the monitor shows run_stopped's message, so it names
    the Resume Run command a VS Code user clicks, not a terminal command."""
    monkeypatch.setenv(CLIENT_ENV, "vscode")
    sink = StopWhen(lambda e: e["type"] == "phase_started" and e["phase"] == "pruning_init")
    with stop.graceful_signals(), pytest.raises(stop.StopRequested):
        run_comparison(tiny_lst_run(tmp_path), sink)
    assert sink.events[-1]["message"] == "stopped before the first checkpoint; Resume Run starts it again"


def test_stop_during_pruning_init_leaves_no_checkpoint_and_resume_starts_it_again(tmp_path, validator):
    """Stopped before anything could be saved: resume trains the run again from the start in its own folder, and its
    events say so (a run_started resumed from step 0 with no checkpoint, and a log line)."""
    sink = StopWhen(lambda e: e["type"] == "phase_started" and e["phase"] == "pruning_init")
    with stop.graceful_signals(), pytest.raises(stop.StopRequested):
        run_comparison(tiny_lst_run(tmp_path), sink)
    stopped = sink.events[-1]
    assert stopped["type"] == "run_stopped" and stopped["checkpoint"] is None and stopped["step"] == 0
    run_dir = tmp_path / "runs" / stopped["run_id"]
    assert f"ladderlab resume {run_dir}` starts it again" in stopped["message"]

    resumed = StopWhen(lambda e: False)
    with stop.graceful_signals():
        row = resume_run(run_dir, resumed).rows[0]
    assert row["run_dir"] == str(run_dir) and helpers.run_folders(tmp_path / "runs") == [run_dir]
    whole = events_file(run_dir)
    for event in whole:
        validator.validate(event)
    restarts = [e for e in whole if e["type"] == "run_started"]
    assert len(restarts) == 2 and "resumed" not in restarts[0]
    assert restarts[1]["resumed"] == {"step": 0, "epoch": 0, "step_in_epoch": 0, "checkpoint": None}
    assert any(e["type"] == "log" and e["message"].startswith("restarted from the beginning") for e in whole)
    assert [e["step"] for e in whole if e["type"] == "train_step"] == list(range(1, 9))  # 2 epochs x 4, once
    assert whole[-1]["type"] == "run_finished" and not (run_dir / checkpoint.CHECKPOINT).exists()


def test_killed_before_its_first_checkpoint_resumes_from_elsewhere_to_the_same_result(tmp_path, reference, capsys):
    """SIGKILL at step 1 (the first checkpoint would come at step 4), relative --data and --runs-dir; resumed from
    another working folder: the run starts again in its folder, reads the same data, and ends bit-identical to the
    uninterrupted run."""
    started_in = tmp_path / "project"
    shutil.copytree(SST2, started_in / "data" / "SST-2")
    relative = [("data/SST-2" if arg == str(SST2) else arg) for arg in CONFIG]
    proc = start("run", *relative, "--runs-dir", "runs", cwd=started_in)
    events = read_until(proc, lambda e: e["type"] == "train_step")
    proc.kill()
    proc.wait()
    run_dir = started_in / events[0]["run_dir"]
    assert not (run_dir / checkpoint.CHECKPOINT).exists() and not any(e["type"] == "checkpoint_saved" for e in events)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(elsewhere)
        code, events = resume_in_process(run_dir, capsys)
    assert code == 0 and events[-1]["type"] == "run_finished", events[-1]
    assert events[0]["type"] == "run_started" and events[0]["resumed"]["checkpoint"] is None
    assert_same_result(run_dir, reference)
    assert not (elsewhere / "runs").exists()  # runs_dir (LST's init cache) read from where the run began


def test_a_finished_run_and_a_folder_that_is_no_run_are_refused(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(BadInput, match="not a Ladder Lab run folder"):
        resume_run(tmp_path / "notes", EventSink("quiet"))
    run_dir = Path(run_comparison(tiny_lst_run(tmp_path, epochs=1), EventSink("quiet")).rows[0]["run_dir"])
    with pytest.raises(BadInput, match="already finished"):
        resume_run(run_dir, EventSink("quiet"))
