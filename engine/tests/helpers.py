"""Helpers shared by the engine tests (import as ``from helpers import ...``)."""

from __future__ import annotations

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
RAY_PHASE = "ray test phase:"  # ray_two_node_sweep.py's progress lines on stderr, quoted if it hangs


def cli(*parts: str | Path) -> list[str]:
    """Command-line arguments: text is split at spaces, a Path stays one argument (it may hold spaces)."""
    return [arg for part in parts for arg in ([str(part)] if isinstance(part, Path) else part.split())]


# A run small enough for seconds on a CPU that still goes through every phase.
TINY = cli("--max-train-examples 16 --max-eval-examples 8 --epochs 1 --batch-size 8 --max-length 32")


def load_fails(match: str, *args, **kwargs) -> BadInput:
    """``load_task(*args, **kwargs)`` raises BadInput matching ``match``; returns it (for its hint)."""
    with pytest.raises(BadInput, match=match) as info:
        load_task(*args, **kwargs)
    return info.value


def experiment(**overrides):
    return build_experiment({}, overrides)


def tiny_lst_run(tmp_path: Path, **overrides):
    """A real LST run that takes seconds: bert-tiny shape on 32 SST-2 rows, 2 epochs of 4 steps, runs in tmp_path."""
    values = {
        "methods": "lst",
        "backbone": "preset:bert-tiny",
        "task": "sst2",
        "data": str(SST2),
        "max_train_examples": 32,
        "max_eval_examples": 8,
        "epochs": 2,
        "batch_size": 8,
        "max_length": 32,
        "fisher_samples": 2,
        "runs_dir": str(tmp_path / "runs"),
    }
    return build_experiment({}, {**values, **overrides})


def build_method(backbone, task, method: str, **overrides):
    exp = experiment(methods=[method], **overrides)
    model = BUILDERS[method](backbone, backbone.new_task_model(task.spec, 0), exp)
    return model, exp


def batch_of(backbone, examples, max_length: int = 48) -> dict:
    enc = backbone.tokenizer(
        [e.text_a for e in examples], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
    )
    return {**enc, "labels": torch.tensor([e.label for e in examples])}


def run_folders(runs_dir: Path) -> list[Path]:
    """The run folders under a runs dir (not its dot-folders, e.g. .cache, which hold no run)."""
    return sorted(d for d in Path(runs_dir).iterdir() if d.is_dir() and not d.name.startswith("."))
