"""Structural-pruning initialisation of the side network (LST paper §3.3).

Importance of each backbone weight is its magnitude |W| or its empirical Fisher information (the mean of
squared task-loss gradients over single training examples). A row's score is the sum of the absolute
importance along it; the side network keeps the top 1/r rows and slices the matching columns.

Improvements over the reference implementation (docs/lst-reference.md, "Rules the code relies on"):
- one residual subset R per stack, chosen from every kept layer at once, so every side sublayer reads
  and writes the same residual coordinates (the reference let each sublayer pick its own);
- attention is pruned per head: each head keeps its own top d_head/r query/key dims (shared by q and k,
  whose dot product they form) and value/output dims, so no head is mixed with another;
- a dimension's score counts the matrices that write it (rows) and those that read it (columns).
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import BadInput

# Roles whose index set is chosen per layer, with the number of groups (heads) they are split into.
PER_LAYER_ROLES = ("QK", "VO", "F")


def top_rows(scores: torch.Tensor, keep_per_group: int, groups: int = 1) -> torch.Tensor:
    """Indices (sorted) of the ``keep_per_group`` highest scores in each of ``groups`` equal, consecutive
    blocks of ``scores`` (a block is one attention head)."""
    blocks = scores.reshape(groups, -1)
    if keep_per_group > blocks.shape[1]:
        raise ValueError(f"cannot keep {keep_per_group} of {blocks.shape[1]} rows")
    picked = blocks.topk(keep_per_group, dim=1).indices.sort(dim=1).values
    offsets = torch.arange(groups, device=scores.device).unsqueeze(1) * blocks.shape[1]
    return (picked + offsets).reshape(-1)


def magnitude_importance(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().abs() for n, p in model.named_parameters()}


def fisher_importance(model: nn.Module, forward_loss, examples) -> dict[str, torch.Tensor]:
    """Empirical Fisher: mean over examples of (d loss / d W)^2, one example at a time (per-example
    gradients; squaring a batch gradient would not be the Fisher). Runs the backbone with grads on."""
    params = dict(model.named_parameters())
    flags = {n: p.requires_grad for n, p in params.items()}
    fisher = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}  # fp32 even for a bf16 backbone
    count = 0
    was_training = model.training
    model.eval()  # dropout off: the importance of the function we actually start from
    try:
        for p in params.values():
            p.requires_grad_(True)
        for batch in examples:
            model.zero_grad(set_to_none=True)
            forward_loss(batch).backward()
            for n, p in params.items():
                if p.grad is not None:
                    fisher[n] += p.grad.detach().float() ** 2
            count += 1
    finally:
        model.zero_grad(set_to_none=True)
        for n, p in params.items():
            p.requires_grad_(flags[n])
        model.train(was_training)
    if count == 0:
        raise BadInput(
            "Fisher initialisation needs training examples, and there are none",
            "add training data or use --init magnitude",
        )
    return {n: f / count for n, f in fisher.items()}


def _axis_scores(importance: torch.Tensor, axis: int) -> torch.Tensor:
    """Sum of |importance| over every axis but ``axis``: the score of each index along ``axis``."""
    dims = [d for d in range(importance.dim()) if d != axis]
    return importance.abs().sum(dim=dims) if dims else importance.abs()


def _add_scores(acc: dict, role: str, scores: torch.Tensor) -> None:
    if role == "QKV":  # GPT-2's fused projection: [q | k | v] along one axis
        q, k, v = scores.chunk(3)
        _add_scores(acc, "QK", q + k)
        _add_scores(acc, "VO", v)
    elif role is not None and role != "RX":
        acc[role] = acc[role] + scores if role in acc else scores.clone()


def select_indices(
    layer_importances: list[dict[str, torch.Tensor]], roles: dict, r: int, heads: int
) -> list[dict[str, torch.Tensor]]:
    """Choose the residual set R (one for the stack, from all kept layers) and the QK/VO/F sets of each
    kept layer. Only weight matrices vote, as in the paper (biases and norms follow their rows)."""
    per_layer = []
    for imp in layer_importances:
        acc: dict[str, torch.Tensor] = {}
        for name, axis_roles in roles.items():
            if name in imp and imp[name].dim() == 2:
                for axis, role in enumerate(axis_roles):
                    _add_scores(acc, role, _axis_scores(imp[name], axis))
        per_layer.append(acc)
    residual = per_layer[0]["R"]
    for acc in per_layer[1:]:
        residual = residual + acc["R"]
    r_idx = top_rows(residual, residual.numel() // r)
    chosen = []
    for acc in per_layer:
        sets = {"R": r_idx}
        for role in PER_LAYER_ROLES:
            if role in acc:
                groups = heads if role in ("QK", "VO") else 1
                size = acc[role].numel() // groups
                if size % r:
                    raise BadInput(
                        f"r={r} does not divide the per-head size {size} of the backbone",
                        "choose r dividing the head size, or use --init random",
                    )
                sets[role] = top_rows(acc[role], size // r, groups)
        chosen.append(sets)
    return chosen


def _slice(t: torch.Tensor, axis_roles: tuple, sets: dict) -> torch.Tensor:
    for axis, role in enumerate(axis_roles):
        if role is None:
            continue
        if role == "QKV":
            third = t.shape[axis] // 3
            idx = torch.cat([sets["QK"], sets["QK"] + third, sets["VO"] + 2 * third])
        else:
            idx = sets[role]
        t = t.index_select(axis, idx.to(t.device))
    return t


@torch.no_grad()
def copy_pruned(side_layer: nn.Module, backbone_layer: nn.Module, roles: dict, sets: dict) -> list[str]:
    """Copy the pruned backbone weights into one side block; returns names left at random init."""
    backbone_params = dict(backbone_layer.named_parameters())
    untouched = []
    for name, p in side_layer.named_parameters():
        if name not in roles:
            untouched.append(name)
            continue
        source = _slice(backbone_params[name].detach(), roles[name], sets)
        if source.shape != p.shape:
            raise RuntimeError(f"pruning {name}: backbone slice {tuple(source.shape)} != side {tuple(p.shape)}")
        p.copy_(source)
    return untouched


def layer_importance(importance: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The importances of one block, keyed by the name inside the block."""
    return {n[len(prefix) :]: t for n, t in importance.items() if n.startswith(prefix)}
