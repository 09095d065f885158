"""Full fine-tuning: every parameter trains (the memory and accuracy reference), but for the first ``freeze_layers``
layers and the embeddings (freeze.py)."""

from .base import MethodModel
from .freeze import frozen_part


def build(backbone, model, exp) -> MethodModel:
    frozen = frozen_part(backbone.family, model, exp.freeze_layers)
    for p in model.parameters():
        p.requires_grad_(True)
    frozen.freeze()
    return MethodModel(backbone.family, model)
