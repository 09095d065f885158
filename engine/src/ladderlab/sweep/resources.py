"""What one sweep trial asks Ray for: the engine's own memory estimate turned into a share of a device.

On a GPU a trial asks for the fraction of the device that its predicted training peak needs: the estimator's peak
(estimate.estimate_run, on the run's longest batch as estimate_all measures it) with the allocator's slack and the
CUDA context every trial process holds (estimate.fits: the same ``needed_bytes`` as the fits verdict). So LST
trials, whose peak is a small part of a device, share one GPU while a full fine-tuning trial that needs most of
it gets a whole one: LST's memory saving becomes sweep throughput. CPU-only (or a trial set to ``device: cpu``),
memory is not what limits a trial, cores are: a trial asks for ``cpus_per_trial`` cores and nothing is estimated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..backbones import load_backbone
from ..config import Experiment
from ..estimate import data_length, estimate_run, fits

GPU_STEP = 1e-4  # Ray's smallest step of a fractional resource: a share is rounded up to it, never down


@dataclass(frozen=True)
class TrialResources:
    cpu: float
    gpu: float = 0.0
    peak_bytes: int | None = None  # the estimator's peak it follows (None: a CPU trial, nothing estimated)

    def bundle(self) -> dict[str, float]:
        """As a Ray resource bundle (a trial's placement group has this one): Ray's names, no zero amounts."""
        return {name: amount for name, amount in (("CPU", self.cpu), ("GPU", self.gpu)) if amount}


def gpu_share(peak_bytes: int, device_total_bytes: int, device: torch.device) -> float:
    """The fraction of a device of ``device_total_bytes`` that a run with this predicted peak needs, at most one
    device (a run that does not fit gets a whole one: it fails with the engine's own out-of-memory hint there)."""
    verdict = fits(peak_bytes, device_total_bytes, device)
    assert verdict is not None  # fits returns None only for an unknown device size
    share = math.ceil(verdict["needed_bytes"] / device_total_bytes / GPU_STEP) * GPU_STEP
    return min(1.0, round(share, 4))


def uses_gpu(exp: Experiment) -> bool:
    """Whether the trial would run on a GPU where one is: ``auto`` or a CUDA device, not ``cpu``."""
    return exp.device == "auto" or exp.device.startswith("cuda")


def resources_for(
    exp: Experiment,
    method: str,
    device_total_bytes: int | None,
    device: torch.device | None = None,
    cpus_per_trial: float = 1,
) -> TrialResources:
    """What a trial of ``method`` under ``exp`` asks for. ``device_total_bytes``: the memory of one GPU of the
    cluster, None where trials run on CPUs. ``device``: where the estimate is traced, CUDA by default (the device
    the trial will train on; tracing needs a torch built with CUDA). A GPU trial also takes one core."""
    if device_total_bytes is None or not uses_gpu(exp):
        return TrialResources(cpu=cpus_per_trial)
    device = device or torch.device("cuda")
    batch = data_length(exp, load_backbone(exp.backbone))  # the run's longest batch, as `ladderlab estimate` traces it
    peak = estimate_run(exp, method, device, length=batch["length"], rows=batch["rows"])["peak_bytes"]
    return TrialResources(cpu=1, gpu=gpu_share(peak, device_total_bytes, device), peak_bytes=peak)
