"""BitFit (Ben Zaken et al., 2022): train only the bias terms, plus the task head.

Backbones without biases (T5) get zero-initialised ones where the LST authors' T5 has them for its BitFit
baseline (their modeling_t5.py with ``bitfit``): on every linear layer, the LM head included, and after every
layer norm (T5's RMS norm only scales). That is 0.13% of T5-base, the paper's Table 1; without the layer-norm
and LM-head biases it would be 0.09%. Zero init keeps the pretrained function unchanged at step 0. The authors'
LoRA baseline trains these same biases (``lora_bias=all`` calls ``add_biases``).
"""

import torch
from torch import nn

from .base import MethodModel, freeze_all, is_norm, unfreeze_modules
from .freeze import NOTHING_FROZEN, FrozenPart, frozen_part


def add_zero_biases(model: nn.Module, skip: tuple[str, ...], frozen: FrozenPart = NOTHING_FROZEN) -> int:
    added = 0
    for name, module in model.named_modules():
        if frozen.holds(name):
            continue
        if isinstance(module, nn.Linear) and module.bias is None and not name.startswith(skip):
            module.bias = nn.Parameter(
                torch.zeros(module.out_features, dtype=module.weight.dtype, device=module.weight.device)
            )
            added += 1
    return added


def _add_norm_bias(module: nn.Module, _inputs, output):
    return output + module.bias


def add_norm_biases(model: nn.Module, skip: FrozenPart = NOTHING_FROZEN) -> int:
    """A zero bias added to the output of every layer norm that has none (outside ``skip``), by a forward hook (so it
    works for any norm class without editing its forward code); the parameter is the norm's own ``bias``."""
    added = 0
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if skip.holds(name):
            continue
        if is_norm(module) and getattr(module, "bias", None) is None and isinstance(weight, torch.Tensor):
            module.bias = nn.Parameter(torch.zeros_like(weight))
            module.register_forward_hook(_add_norm_bias)
            added += 1
    return added


def add_biases(model: nn.Module, family, frozen: FrozenPart = NOTHING_FROZEN) -> int:
    """Every bias BitFit trains, made (zero) where the backbone has none, outside the ``frozen`` layers (where none
    trains: freeze_layers). A new task head keeps its own shape: it trains whole anyway."""
    return add_zero_biases(model, family.head_modules, frozen) + add_norm_biases(model, frozen)


def build(backbone, model, exp) -> MethodModel:
    family = backbone.family
    frozen = frozen_part(family, model, exp.freeze_layers)
    add_biases(model, family, frozen)
    freeze_all(model)
    for name, p in model.named_parameters():
        if name.endswith(".bias"):
            p.requires_grad_(True)
    unfreeze_modules(model, family.head_modules)
    frozen.freeze()  # the biases the backbone has in and below the frozen layers (BERT's, GPT-2's)
    return MethodModel(family, model)
