"""The shape every method takes: a module that maps a batch to logits and knows what it trains."""

from __future__ import annotations

from collections.abc import Callable

import torch
from peft import PeftConfig, get_peft_model
from torch import nn

from ..families import Family

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, labels) -> the task's loss


class MethodModel(nn.Module):
    """A task model adapted by one method. ``forward(batch)`` returns logits ((B, K), or (B,) for regression)."""

    method: str = ""  # the method's name, where a finished run is rebuilt (export.load_run)

    def __init__(self, family: Family, model: nn.Module):
        super().__init__()
        self.family = family
        self.model = model

    def forward(self, batch: dict):
        return self.family.logits(self.model, batch)

    def initialize(
        self, init_batches, on_phase, *, init: str, loss_fn: LossFn | None, cache=None, progress=None
    ) -> None:
        """Data-dependent initialisation before training (LST's pruning); nothing for most methods."""

    def optimizer_groups(self, lr: float) -> list[dict]:
        """AdamW's parameter groups: every trainable parameter at the method's rate (prompt tuning splits them)."""
        return [{"params": list(self.trainable_named_parameters().values()), "lr": lr}]

    def trainable_named_parameters(self) -> dict[str, nn.Parameter]:
        return {n: p for n, p in self.named_parameters() if p.requires_grad}

    def trainable_mismatch(self, saved: dict[str, torch.Tensor]) -> list[str]:
        """Names where ``saved`` (trained weights read back) does not fit this model's trainable parameters:
        missing, extra, or of another shape. Empty when ``load_trainable`` can take it."""
        params = self.trainable_named_parameters()
        return sorted(set(params) ^ set(saved)) + sorted(
            n for n in set(params) & set(saved) if params[n].shape != saved[n].shape
        )

    @torch.no_grad()
    def load_trainable(self, saved: dict[str, torch.Tensor]) -> None:
        for name, p in self.trainable_named_parameters().items():
            p.copy_(saved[name])


def count_params(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters) of a module; a tied weight (T5's embedding and LM head) counts once."""
    return sum(p.numel() for p in model.parameters()), sum(p.numel() for p in model.parameters() if p.requires_grad)


def trainable_pct(trainable: int, backbone_total: int) -> float:
    """Trainable parameters as % of the backbone: the LST paper's "Update Param. per Task (%)" (Table 1). The
    divisor is the backbone task model's own parameter count (T5-base 222.9M), before a method adds anything:
    that convention reproduces each of the paper's numbers (Adapter 3.63M / 222.9M = 1.63%; counting the
    additions in the divisor would give 1.60%)."""
    return round(100.0 * trainable / backbone_total, 4)


def peft_method(family: Family, model: nn.Module, config: PeftConfig) -> MethodModel:
    """A method PEFT implements: the task model wrapped by PEFT with ``config``. PEFT freezes the backbone
    and, for SEQ_CLS, keeps a trainable copy of the classification head itself (modules_to_save)."""
    return MethodModel(family, get_peft_model(model, config))


def is_norm(module: nn.Module) -> bool:
    """A layer norm of any family (nn.LayerNorm, T5's RMS-style T5LayerNorm, RMSNorm classes)."""
    return isinstance(module, (nn.LayerNorm, nn.RMSNorm)) or type(module).__name__.endswith(("LayerNorm", "RMSNorm"))


def freeze_all(model: nn.Module) -> None:
    for p in model.parameters():
        p.requires_grad_(False)


def unfreeze_modules(model: nn.Module, names: tuple[str, ...]) -> None:
    """Make the named submodules (e.g. the task head ``classifier``) trainable."""
    for name in names:
        module = model.get_submodule(name) if _has(model, name) else None
        if module is not None:
            for p in module.parameters():
                p.requires_grad_(True)


def _has(model: nn.Module, name: str) -> bool:
    try:
        model.get_submodule(name)
        return True
    except AttributeError:
        return False
