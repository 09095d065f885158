"""Writes fixtures/events/*.jsonl: real engine output that the TypeScript protocol tests validate.

Run from the repository root:  .venv/bin/python engine/tests/make_event_fixture.py
It runs a tiny real comparison (LST and LoRA on SST-2 from ../shared) and a run that fails on bad input.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# Relative paths, run from the repository root: the committed events name no path of one machine.
SST2 = "../shared/data/glue/SST-2"
RUNS = ".ladderlab/fixture-runs"
TINY = ["--max-train-examples", "16", "--max-eval-examples", "8", "--epochs", "1", "--batch-size", "8",
        "--max-length", "32", "--fisher-samples", "4", "--format", "events"]


def capture(name: str, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "ladderlab.cli", *args, *TINY, "--runs-dir", RUNS],
                            cwd=REPO, capture_output=True, text=True, check=False)
    shutil.rmtree(REPO / RUNS, ignore_errors=True)
    out = HERE / "fixtures" / "events" / f"{name}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.stdout)
    print(f"{out.relative_to(HERE.parents[1])}: {len(result.stdout.splitlines())} events (exit {result.returncode})")


if __name__ == "__main__":
    capture("compare-lst-lora", "compare", "--methods", "lst,lora", "--task", "sst2", "--data", SST2)
    capture("bad-input", "run", "--method", "lst", "--task", "sst2", "--data", SST2, "--r", "7")
