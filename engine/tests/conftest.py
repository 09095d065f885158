"""Shared fixtures: the real MiniLM backbone and real SST-2 examples (fixtures/glue-real; no mocks)."""

from __future__ import annotations

import pytest
import torch

from helpers import SST2
from ladderlab.backbones import load_backbone
from ladderlab.data import load_task


def pytest_configure(config):
    # test_cuda.py: what only a CUDA device shows; skipped without one, run on a GPU machine by scripts/gpu-check
    config.addinivalue_line("markers", "cuda: needs a CUDA device (scripts/gpu-check runs these on a GPU machine)")


@pytest.fixture(scope="session")
def minilm():
    return load_backbone("default")


@pytest.fixture(scope="session")
def sst2():
    return load_task("sst2", str(SST2), seed=0, max_train_examples=64, max_eval_examples=32)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny matrices gain nothing from intra-op threads, and on a shared machine every op waits for them. A module of
    tiny-preset tests uses it with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
