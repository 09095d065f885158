"""Helpers shared by the engine tests (import as ``from helpers import ...``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from ladderlab.config import build_experiment
from ladderlab.data import load_task
from ladderlab.errors import BadInput
from ladderlab.methods import BUILDERS

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Real GLUE rows kept in the repository (fixtures/glue-real/README.md: which rows, source, licence).
REAL_GLUE = FIXTURES / "glue-real"
SST2 = REAL_GLUE / "SST-2"
STSB = REAL_GLUE / "STS-B"
SCHEMA = REPO / "protocol" / "events.schema.json"
RAY_PHASE = "ray test phase:"  # the Ray scripts' progress lines on stderr, quoted if one hangs
# The namespace's loopback comes up, then the script replaces the shell: "$0" "$@" are the argument list as given.
IN_LOOPBACK_NAMESPACE = ["unshare", "-n", "sh", "-c", 'ip link set lo up; exec "$0" "$@"']


def cli(*parts: str | Path) -> list[str]:
    """Command-line arguments: text is split at spaces, a Path stays one argument (it may hold spaces)."""
    return [arg for part in parts for arg in ([str(part)] if isinstance(part, Path) else part.split())]


def cli_here(*args: str, cwd: Path, monkeypatch, capsys) -> subprocess.CompletedProcess:
    """``ladderlab *args`` through cli.main in this process, run from ``cwd``, as a CompletedProcess (exit status,
    stdout, stderr): the code path a ``python -m ladderlab.cli`` process runs, without its seconds of imports."""
    from ladderlab import cli as ladderlab_cli

    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = ladderlab_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["ladderlab", *args], code, out, err)


# A run small enough for seconds on a CPU that still goes through every phase.
TINY = cli("--max-train-examples 16 --max-eval-examples 8 --epochs 1 --batch-size 8 --max-length 32")


def load_fails(match: str, *args, **kwargs) -> BadInput:
    """``load_task(*args, **kwargs)`` raises BadInput matching ``match``; returns it (for its hint)."""
    with pytest.raises(BadInput, match=match) as info:
        load_task(*args, **kwargs)
    return info.value


def experiment(**overrides):
    return build_experiment({}, overrides)


# A real LST run that takes seconds: bert-tiny shape on 32 SST-2 rows, 2 epochs of 4 steps (an experiment file's
# values; runs_dir apart).
TINY_LST = {
    "methods": ["lst"],
    "backbone": "preset:bert-tiny",
    "task": "sst2",
    "data": str(SST2),
    "max_train_examples": 32,
    "max_eval_examples": 8,
    "epochs": 2,
    "batch_size": 8,
    "max_length": 32,
    "fisher_samples": 2,
}


def tiny_lst_run(tmp_path: Path, **overrides):
    """TINY_LST as an Experiment that runs in tmp_path."""
    return build_experiment({}, {**TINY_LST, "runs_dir": str(tmp_path / "runs"), **overrides})


def build_method(backbone, task, method: str, **overrides):
    exp = experiment(methods=[method], **overrides)
    model = BUILDERS[method](backbone, backbone.new_task_model(task.spec, 0, exp.pooling), exp)
    return model, exp


def batch_of(backbone, examples, max_length: int = 48) -> dict:
    enc = backbone.tokenizer(
        [e.text_a for e in examples], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
    )
    return {**enc, "labels": torch.tensor([e.label for e in examples])}


def run_folders(runs_dir: Path) -> list[Path]:
    """The run folders under a runs dir (not its dot-folders, e.g. .cache, which hold no run)."""
    return sorted(d for d in Path(runs_dir).iterdir() if d.is_dir() and not d.name.startswith("."))


def phase(name: str, began: float) -> None:
    """A Ray script's line on stderr that run_in_loopback_namespace quotes if the script hangs: which phase it reached,
    and when."""
    print(f"{RAY_PHASE} {name} at {time.time() - began:.1f} s", file=sys.stderr, flush=True)


def run_in_loopback_namespace(script: Path, folder: Path, timeout: int, attempts: int = 2) -> dict:
    """``python script RUNS_DIR REPORT_JSON`` inside a network namespace that has only loopback (``unshare -n``, root:
    CI runs as root), so Ray can reach no other address; returns the report it wrote, with its stdout as "stdout".
    Skips the test where no such namespace can be made. A script that does not end within ``timeout`` is killed with
    everything it started and runs again in a fresh folder, at most ``attempts`` times in all, each hang reported as
    a warning with the phases it reached (its RAY_PHASE lines): Ray itself hung here now and then (CI, 2026-12-01:
    "Failed to connect to the observability pubsub", while the same script passed in 45 s before and after). A
    script that fails, or hangs every time, fails the test with its stderr's tail."""
    if os.geteuid() != 0:
        pytest.skip("the Ray tests run Ray in a network namespace with only loopback: it needs root (CI runs as root)")
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the Ray tests run Ray in a network namespace with only loopback: {' and '.join(missing)} missing")
    hangs = []
    for attempt in range(1, attempts + 1):
        here = folder / f"attempt-{attempt}"
        here.mkdir(parents=True)
        runs, report = here / "runs", here / "report.json"
        command = [*IN_LOOPBACK_NAMESPACE, sys.executable, str(script), str(runs), str(report)]
        # A session of its own: on a hang, the whole process group (the namespace's Ray processes too) is killed.
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            phases = [line for line in stderr.splitlines() if line.startswith(RAY_PHASE)]
            hangs.append(f"{script.name} hung after {timeout} s (attempt {attempt}); its phases: {phases}")
            warnings.warn(hangs[-1], stacklevel=2)
            continue
        assert process.returncode == 0, stderr[-4000:]
        return {**json.loads(report.read_text()), "stdout": stdout}
    pytest.fail("; ".join(hangs) + f"; stderr ends:\n{stderr[-3000:]}")
