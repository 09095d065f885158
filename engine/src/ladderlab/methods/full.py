"""Full fine-tuning: every parameter trains (the memory and accuracy reference)."""

from .base import MethodModel


def build(backbone, model, exp) -> MethodModel:
    for p in model.parameters():
        p.requires_grad_(True)
    return MethodModel(backbone.family, model)
