"""Writes fixtures/events/*.jsonl: real engine output that the TypeScript protocol tests validate.

Run from the repository root:  .venv/bin/python engine/tests/make_event_fixture.py
It runs a tiny real comparison (LST and LoRA on the SST-2 rows in fixtures/glue-real), a run that fails on bad
input, an LST run whose pruning init comes from the init cache, a run stopped by SIGINT and then resumed
(checkpoint_saved, run_stopped, run_started with resumed), and a comparison whose second method runs out of memory
(the test-only allocation failure hook; error kind oom with its memory figures).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import helpers

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# Relative paths, run from the repository root: the committed events name no path of one machine.
SST2 = "engine/tests/fixtures/glue-real/SST-2"
RUNS = ".ladderlab/fixture-runs"
TINY = [*helpers.TINY, "--fisher-samples", "4", "--format", "events"]


def capture(name: str, *args: str, env: dict | None = None, times: int = 1) -> None:
    """The command's events (of its last run when ``times`` > 1: the runs dir, and so the init cache, is kept)."""
    for _ in range(times):
        result = subprocess.run(
            [sys.executable, "-m", "ladderlab.cli", *args, *TINY, "--runs-dir", RUNS],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
        )
    shutil.rmtree(REPO / RUNS, ignore_errors=True)
    write(name, result.stdout, result.returncode)


def write(name: str, stdout: str, code: int) -> None:
    out = HERE / "fixtures" / "events" / f"{name}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(stdout)
    print(f"{out.relative_to(HERE.parents[1])}: {len(stdout.splitlines())} events (exit {code})")


def capture_stop_and_resume(name: str, *args: str) -> None:
    """SIGINT after step 2, then `ladderlab resume` of that run folder: both outputs, one after the other."""
    cmd = [sys.executable, "-m", "ladderlab.cli", args[0], *TINY, "--runs-dir", RUNS, *args[1:]]  # args win
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if json.loads(line).get("step") == 2 and json.loads(line)["type"] == "train_step":
            proc.send_signal(signal.SIGINT)
    proc.wait()
    run_dir = json.loads(lines[0])["run_dir"]
    resumed = subprocess.run(
        [sys.executable, "-m", "ladderlab.cli", "resume", run_dir, "--format", "events"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    shutil.rmtree(REPO / RUNS, ignore_errors=True)
    write(name, "".join(lines) + resumed.stdout, resumed.returncode)


if __name__ == "__main__":
    capture("compare-lst-lora", "compare", "--methods", "lst,lora", "--task", "sst2", "--data", SST2)
    # the same LST run twice: the second reads its pruning init from the cache (init_progress source cache)
    capture("cached-init", "run", "--method", "lst", "--task", "sst2", "--data", SST2, times=2)
    capture("bad-input", "run", "--method", "lst", "--task", "sst2", "--data", SST2, "--r", "7")
    # LST initialised by distilling the backbone: its own phase (distillation_init) and progress events
    capture(
        "distillation-init",
        "run",
        *("--method", "lst", "--task", "sst2", "--data", SST2, "--init", "distillation", "--distill-steps", "3"),
    )
    capture_stop_and_resume(
        "stop-resume",
        "run",
        "--method",
        "lst",
        "--task",
        "sst2",
        "--data",
        SST2,
        "--max-train-examples",
        "48",
        "--checkpoint-every",
        "2",
    )
    capture(
        "oom",
        "compare",
        "--methods",
        "bitfit,lst",
        "--task",
        "sst2",
        "--data",
        SST2,
        env={"LADDERLAB_TEST_FAIL_ALLOC_AT_STEP": "lst:2"},
    )
