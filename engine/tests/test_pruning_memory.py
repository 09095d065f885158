"""Issue 12, item 4: LST's Fisher pass (the pruning init) must not need more memory than LST's training. On the
T5-large shape (random-init preset, fake tensors: no weights, no data) the pass, at the rows a run on an accelerator
gives it (``fisher_rows``: batch_size / r), peaks below the traced training step; at a full batch it would not, which
is why the rows are cut. The scores are kept as per-axis sums, so no full-size accumulator sits beside the weights."""

from __future__ import annotations

import torch

from ladderlab.backbones import load_backbone
from ladderlab.config import build_experiment
from ladderlab.estimate import spec_for, trace_training
from ladderlab.estimate_init import trace_pruning
from ladderlab.methods.lst.pruning import fisher_rows


def test_fisher_pass_peaks_below_lst_training_on_the_t5_large_shape():
    exp = build_experiment(
        {}, {"backbone": "preset:t5-large", "task": "sst2", "methods": "lst", "batch_size": 16, "max_length": 128}
    )
    backbone, spec, cpu = load_backbone(exp.backbone), spec_for(exp), torch.device("cpu")
    training = trace_training(backbone, spec, exp, "lst", cpu, length=128).peak
    rows = fisher_rows(exp.batch_size, exp.r, torch.device("cuda"))
    assert rows == 2  # 16 rows / r=8 where memory binds (a CPU run keeps 16 rows: faster, and RAM is larger)
    pruning = trace_pruning(backbone, spec, exp, cpu, 128, rows)
    assert pruning.peak < training, f"Fisher pass {pruning.peak / 2**20:.0f} MiB >= training {training / 2**20:.0f} MiB"
    assert pruning.peak_by_role["grad"] == 0  # no weight gradient, no full-size accumulator
    full_batch = trace_pruning(backbone, spec, exp, cpu, 128, rows=exp.batch_size).peak
    assert full_batch > training, "at a full batch the pass would outgrow training: the row cut is what keeps it under"
