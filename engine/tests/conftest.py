"""Shared fixtures: the real MiniLM backbone and real SST-2 examples (fixtures/glue-real; no mocks)."""

from __future__ import annotations

import pytest

from helpers import SST2
from ladderlab.backbones import load_backbone
from ladderlab.data import load_task


@pytest.fixture(scope="session")
def minilm():
    return load_backbone("default")


@pytest.fixture(scope="session")
def sst2():
    return load_task("sst2", str(SST2), seed=0, max_train_examples=64, max_eval_examples=32)
