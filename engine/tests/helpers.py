"""Helpers shared by the engine tests (import as ``from helpers import ...``)."""

from __future__ import annotations

from pathlib import Path

import torch

from ladderlab.config import build_experiment
from ladderlab.methods import BUILDERS

REPO = Path(__file__).resolve().parents[2]
# Real GLUE rows kept in the repository (fixtures/glue-real/README.md: which rows, source, licence).
REAL_GLUE = Path(__file__).resolve().parent / "fixtures" / "glue-real"
SST2 = REAL_GLUE / "SST-2"
STSB = REAL_GLUE / "STS-B"
SCHEMA = REPO / "protocol" / "events.schema.json"


def experiment(**overrides):
    return build_experiment({}, overrides)


def build_method(backbone, task, method: str, **overrides):
    exp = experiment(methods=[method], **overrides)
    model = BUILDERS[method](backbone, backbone.new_task_model(task.spec, 0), exp)
    return model, exp


def batch_of(backbone, examples, max_length: int = 48) -> dict:
    enc = backbone.tokenizer(
        [e.text_a for e in examples], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
    )
    return {**enc, "labels": torch.tensor([e.label for e in examples])}
