"""BitFit (Ben Zaken et al., 2022): train only the bias terms, plus the task head.

Backbones without biases (T5) get zero-initialised biases on every linear layer of their blocks, as the
LST paper does for its BitFit baseline; zero init keeps the pretrained function unchanged at step 0.
"""

import torch
from torch import nn

from .base import MethodModel, freeze_all, unfreeze_modules


def add_zero_biases(model: nn.Module, skip: tuple[str, ...]) -> int:
    added = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and module.bias is None and not name.startswith(skip):
            module.bias = nn.Parameter(
                torch.zeros(module.out_features, dtype=module.weight.dtype, device=module.weight.device)
            )
            added += 1
    return added


def build(backbone, model, exp) -> MethodModel:
    family = backbone.family
    add_zero_biases(model, skip=family.head_modules + ("lm_head",))
    freeze_all(model)
    for name, p in model.named_parameters():
        if name.endswith(".bias"):
            p.requires_grad_(True)
    unfreeze_modules(model, family.head_modules)
    return MethodModel(family, model)
