"""Each method's trainable parameters without weights or data: the task model is built from the backbone's config
on the meta device (shapes only, no memory, no initialisation cost), the method's builder applied to it, and the
parameters counted, as a run counts them (``methods.base.count_params`` / ``trainable_pct``). T5-3B takes well
under a second per method."""

from __future__ import annotations

import warnings

import torch

from .backbones import Backbone
from .config import Experiment
from .data import TaskSpec
from .methods import BUILDERS
from .methods.base import count_params, trainable_pct


def count_trainable(backbone: Backbone, spec: TaskSpec, exp: Experiment, method: str) -> dict:
    """``{"backbone_params", "trainable_params", "trainable_pct"}`` of ``method`` under ``exp``'s settings."""
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore", FutureWarning)  # PEFT calls a transformers API deprecated in v5
        task_model = backbone.family.task_model_from_config(backbone.config, spec, backbone.tokenizer)
        backbone_total, _ = count_params(task_model)  # before the builder adds anything (BitFit's biases)
        _, trainable = count_params(BUILDERS[method](backbone, task_model, exp))
    return {
        "backbone_params": backbone_total,
        "trainable_params": trainable,
        "trainable_pct": trainable_pct(trainable, backbone_total),
    }
