"""The memory of LST's Fisher pass (the pruning init), traced as ``estimate`` traces training: fake tensors, no weights.

The pass runs the whole backbone forward with a graph (from the embeddings' outputs up) and backward to every scored
layer, so it saves the backbone's activations for its rows, which LST's own training never does. Its peak is
therefore kept below the training step's by giving it fewer rows per pass (``fisher_rows``); this module measures
both, so a test can show it on the paper's large shapes (engine/tests/test_pruning_memory.py).
"""

from __future__ import annotations

import dataclasses
import warnings

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from .backbones import Backbone
from .config import Experiment
from .data import TaskSpec
from .estimate import _no_op_module_moves
from .memory_trace import LiveTensorTracer
from .methods import BUILDERS
from .methods.lst.model import LadderSideNetwork
from .methods.lst.pruning import fisher_importance_batched, fisher_rows
from .step import loss_for, synthetic_batch


def trace_pruning(
    backbone: Backbone, spec: TaskSpec, exp: Experiment, device: torch.device, length: int, rows: int | None = None
) -> LiveTensorTracer:
    """The Fisher pass over one synthetic batch of ``rows`` (default: as a run on ``device`` has them,
    ``fisher_rows``) x ``length`` tokens, traced."""

    exp = dataclasses.replace(exp, init="random", tap_cache="off")  # the pass below is the init being measured
    tracer = LiveTensorTracer()
    warnings.filterwarnings("ignore", message="Accessing the data pointer of FakeTensor", category=UserWarning)
    with FakeTensorMode(allow_non_fake_inputs=True), torch.device(device), _no_op_module_moves():
        torch.manual_seed(exp.seed)
        task_model = backbone.family.task_model_from_config(backbone.config, spec, backbone.tokenizer)
        lst = BUILDERS["lst"](backbone, task_model, exp)
        assert isinstance(lst, LadderSideNetwork)  # the default side network: the one with a Fisher pass
        batch = synthetic_batch(backbone, spec, rows or fisher_rows(exp.batch_size, exp.r, device), length, device)
        with tracer.tracking(lst):
            for t in batch.values():
                tracer.retag(t, "transient")

            def logits(b):
                return lst.family.logits(lst.model, b)

            fisher_importance_batched(lst.model, logits, loss_for(spec), [batch], lst._scored_parameters())
    return tracer
