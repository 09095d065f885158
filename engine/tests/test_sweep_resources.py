"""What a sweep trial asks Ray for follows the engine's memory estimate (sweep/resources.py); no Ray needed."""

from __future__ import annotations

import torch

from helpers import tiny_lst_run
from ladderlab.backbones import load_backbone
from ladderlab.estimate import ALLOCATOR_SLACK, CUDA_CONTEXT_BYTES, data_length, estimate_run
from ladderlab.sweep.resources import GPU_STEP, gpu_share, resources_for

MIB = 2**20
CPU = torch.device("cpu")
CUDA = torch.device("cuda")


def test_gpu_share_is_the_estimated_peak_with_slack_and_context_rounded_up():
    gpu = 80 * 2**30
    peak = 3 * 2**30
    needed = peak * ALLOCATOR_SLACK + CUDA_CONTEXT_BYTES
    share = gpu_share(peak, gpu, CUDA)
    assert needed / gpu <= share < needed / gpu + GPU_STEP
    assert gpu_share(peak, gpu, CPU) < share  # no CUDA context off CUDA
    assert gpu_share(100 * 2**30, gpu, CUDA) == 1.0  # does not fit: a whole device, never more
    assert gpu_share(2 * peak, gpu, CUDA) > share  # more memory, a larger share


def test_trials_ask_for_what_the_estimator_predicts(tmp_path):
    """LST and full fine-tuning of the tiny BERT, on a device sized so that four LST trials fit in it: LST asks for
    a quarter or less, full fine-tuning (5x LST's peak here) for the whole device, each from estimate_run's own peak
    on the run's longest batch."""
    exp = tiny_lst_run(tmp_path, methods="lst,full")
    batch = data_length(exp, load_backbone(exp.backbone))
    predicted = estimate_run(exp, "lst", CPU, length=batch["length"], rows=batch["rows"])["peak_bytes"]
    device = int(predicted * ALLOCATOR_SLACK * 4.5)  # room for four LST trials and a half
    # traced on the CPU here (no CUDA in CI): the same estimate without the CUDA context
    lst = resources_for(exp, "lst", device, device=CPU)
    full = resources_for(exp, "full", device, device=CPU)
    assert lst.peak_bytes == predicted
    assert full.peak_bytes is not None and full.peak_bytes > 4.5 * predicted
    assert 0.2 < lst.gpu <= 0.25 and int(1 / lst.gpu) == 4
    assert full.gpu == 1.0
    assert lst.cpu == full.cpu == 1
    assert lst.bundle() == {"CPU": 1, "GPU": lst.gpu}


def test_cpu_trials_ask_for_cores_and_estimate_nothing(tmp_path):
    exp = tiny_lst_run(tmp_path)
    assert resources_for(exp, "lst", None).bundle() == {"CPU": 1}  # no GPU in the cluster
    assert resources_for(exp, "lst", None, cpus_per_trial=2).cpu == 2
    on_cpu = tiny_lst_run(tmp_path, device="cpu")  # a trial set to the CPU takes no GPU share on a GPU cluster
    assert resources_for(on_cpu, "lst", 80 * 2**30).peak_bytes is None
