"""``side_block: adapter``: a side network of Adapter blocks with LST's gates (the paper's Appendix A, Table 4).

As the paper's reference code builds it (LadderAdapterModule): the side state keeps the BACKBONE's width d, so a
kept layer's output enters its gate as it is, with no downsample; each side block is a pre-normed two-layer
bottleneck d -> d/r -> d with a residual, which is where the 1/r goes:

    h = embeddings(x) (the backbone's, frozen)
    for each kept layer k:  h = g_k·h + (1-g_k)·backbone_k      g_k = sigmoid(α_k / T), α_k = 0
                            h = h + up(gelu(down(norm(h))))     (up starts at zero: the block starts as identity)
    logits = task head(h)

The blocks have no attention, so they never mix tokens themselves: the ladders carry the backbone's context into
every position. Nothing is pruned: a bottleneck has no counterpart in the backbone to cut it from, and at zero
``up`` the network starts as a gated mix of the backbone's own layers. The backbone runs as under LST (eval mode,
no_grad or inference_mode); the levers that reshape LST's side transformer or its taps do not apply here.
Families: BERT and GPT-2 (one stack). T5's side decoder would need a cross-attention to a side encoder, which the
reference adds at d/r; that is not built, and T5 gets a BadInput saying so.
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import BadInput
from ..adapter import Adapter
from ..base import MethodModel, freeze_all, unfreeze_modules
from .model import TEMPERATURE

FAMILIES = ("encoder", "decoder")
# Levers of LST's side transformer and taps: set to anything but their default they would silently do nothing here.
_NOT_APPLICABLE = {"backbone_dtype": "fp32", "tap_dtype": "fp32", "tap_cache": "off", "side_heads": None}


def problem(family, exp) -> BadInput | None:
    """Why ``exp`` cannot build an adapter side network on ``family``, or None."""
    if family.name not in FAMILIES:
        return BadInput(
            f"side_block adapter is built for BERT-family and GPT-2 backbones, not {family.name} (T5): its side "
            "decoder would need a cross-attention to a side encoder, which this ablation does not build",
            "use side_block transformer on a T5 backbone",
        )
    for name, default in _NOT_APPLICABLE.items():
        if getattr(exp, name) != default:
            return BadInput(
                f"side_block adapter: {name} applies to transformer side blocks only (got {getattr(exp, name)!r})",
                f"leave {name} at its default ({default!r}) with adapter blocks",
            )
    if exp.init == "distillation":
        return BadInput(
            "side_block adapter: init distillation has nothing to distil into (the blocks start as the identity)",
            "use init fisher, magnitude or random (adapter blocks are not pruned: all three start the same)",
        )
    return None


class AdapterSideBlock(nn.Module):
    """Pre-norm bottleneck with a residual: h + up(gelu(down(norm(h)))), the Adapter method's own bottleneck."""

    def __init__(self, width: int, bottleneck: int, eps: float):
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=eps)
        self.bottleneck = Adapter(width, bottleneck)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        a = self.bottleneck
        return h + a.up(a.act(a.down(self.norm(h))))


class AdapterSideNetwork(MethodModel):
    def __init__(self, family, backbone_model: nn.Module, exp, kept: list[int]):
        super().__init__(family, backbone_model)
        if (bad := problem(family, exp)) is not None:
            raise bad
        config = backbone_model.config
        self.stack_info = family.stacks(backbone_model)[0]
        self.kept = kept
        d = family.hidden_size(config)
        eps = getattr(config, "layer_norm_eps", None) or getattr(config, "layer_norm_epsilon", 1e-5)
        self.blocks = nn.ModuleList(AdapterSideBlock(d, d // exp.r, eps) for _ in kept)
        self.gate_alpha = nn.Parameter(torch.zeros(len(kept)))
        self.embed_dropout = nn.Dropout(family.dropout(config))
        freeze_all(backbone_model)
        backbone_model.eval()
        unfreeze_modules(backbone_model, family.head_modules)
        self.inference_backbone = exp.backbone_mode == "inference"
        self._taps: dict | None = None
        layers = self.stack_info.layers
        layers[0].register_forward_pre_hook(self._tap("embed", input_=True), with_kwargs=True)
        for k, i in enumerate(kept):
            layers[i].register_forward_hook(self._tap(k))

    def _tap(self, key, input_: bool = False):
        def take(t):
            if self._taps is not None:
                self._taps[key] = t[0] if isinstance(t, (tuple, list)) else t

        if input_:
            return lambda _m, args, kwargs: take(args[0] if args else kwargs["hidden_states"])
        return lambda _m, _args, output: take(output)

    def gate(self, k: int) -> torch.Tensor:
        return torch.sigmoid(self.gate_alpha[k] / TEMPERATURE)

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()  # the backbone always runs as at inference (dropout off)
        return self

    def forward(self, batch: dict) -> torch.Tensor:
        taps: dict = {}
        self._taps = taps
        try:
            with torch.inference_mode() if self.inference_backbone else torch.no_grad():
                self.family.run_backbone(self.model, batch)
        finally:
            self._taps = None
        if self.inference_backbone:  # inference tensors cannot be saved for backward
            taps = {key: t.clone() for key, t in taps.items()}
        h = self.embed_dropout(taps.pop("embed"))
        for k, block in enumerate(self.blocks):
            g = self.gate(k)
            h = block(g * h + (1 - g) * taps.pop(k))
        return self.family.side_head(self.model, h, batch)
