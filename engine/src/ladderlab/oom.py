"""Running out of memory: what a failed run reports, and the test hook that makes it happen on a CPU.

The ``error`` event of kind ``oom`` carries what the run held when memory ran out (torch's CUDA counters,
the accounted bytes of its model and optimizer, the process's resident memory) and what the estimator
predicted for these settings, so the user sees how far off the budget was (errors.error_fields words it).
"""

from __future__ import annotations

import contextlib
import os

import torch

from .config import Experiment
from .estimate import estimate_run
from .memory import PhaseMemory

# Test-only: "K" or "METHOD:K" raises an out-of-memory error inside train step K (of that method only), so the
# real OOM path (error event, memory released, exit 3, other methods still run) is testable on a CPU.
FAIL_ALLOC_ENV = "LADDERLAB_TEST_FAIL_ALLOC_AT_STEP"


def fail_alloc_step(method: str) -> int:
    """The training step at which the test hook fails ``method`` (0: never)."""
    value = os.environ.get(FAIL_ALLOC_ENV, "")
    target, _, step = value.rpartition(":")
    return int(step) if step.isdigit() and target in ("", method) else 0


def oom_memory(
    exp: Experiment,
    method: str,
    device: torch.device,
    memory: PhaseMemory,
    model: torch.nn.Module | None,
    optimizer: torch.optim.Optimizer | None,
    training: bool,
) -> dict:
    """The ``memory`` object of an oom error event."""
    report = {
        "allocated_bytes": None,
        "max_allocated_bytes": None,
        "reserved_bytes": None,
        "accounted_bytes": None,
        "rss_bytes": _rss_bytes(),
        "predicted_peak_bytes": _predicted_peak(exp, method, device),
    }
    if device.type == "cuda":
        report.update(
            allocated_bytes=int(torch.cuda.memory_allocated(device)),
            max_allocated_bytes=int(torch.cuda.max_memory_allocated(device)),
            reserved_bytes=int(torch.cuda.memory_reserved(device)),
        )
    if model is not None:
        with contextlib.suppress(Exception):  # best effort: the report must not hide the out-of-memory error
            report["accounted_bytes"] = memory.report(model, optimizer, with_grads=training)["accounted_bytes"]
    return report


def _rss_bytes() -> int | None:
    """This process's resident memory (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _predicted_peak(exp: Experiment, method: str, device: torch.device) -> int | None:
    """The estimator's predicted training peak (fake tensors in a child process: it needs no device memory);
    None if it cannot size this config: the estimate only enriches the out-of-memory report."""
    try:
        return int(estimate_run(exp, method, device)["peak_bytes"])
    except Exception:
        return None
