"""Ladders fused by cross-attention instead of gates: the LST paper's Appendix A variant ("Transformer block + cross
attention", Table 4), selected with ``fusion=cross_attention``.

Before side block k, in place of the gate ``g·h + (1-g)·down_k(tap_k)``, one attention layer reads the ladder:

    h  <-  h + CrossAttention(query = LayerNorm(h), keys = values = down_k(tap_k))

so each side block gains one attention layer (torch's nn.MultiheadAttention at the side's width and heads: its
q/k/v/o projections with biases, plus the query's layer norm) and loses its gate scalar. Explicit choices:
- keys/values are the DOWNSAMPLED backbone activations (the paper's "backbone network's representation" at the side's
  width), so the ladder's downsample is kept and the pruning init of the ladders still applies;
- pre-norm on the query and a residual connection, as in the backbone's own blocks; the output projection starts at
  zero, so at step 0 the side network is exactly what its init made it (the paper found this variant unstable and
  sensitive to the learning rate: it starts from the identity rather than from random mixing of the ladder);
- padding keys are masked; a decoder stack (GPT-2, T5's decoder) attends causally, so the side stays a decoder;
  every query may also attend to its own position, so a left-padded row's padding never attends to nothing (NaN).
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import BadInput

CAUSAL_STACKS = ("decoder",)  # stacks whose positions may not read later ones (families' StackInfo.name)


class CrossAttentionFusion(nn.Module):
    """One side block's ladder read by cross-attention (queries from the side, keys/values from the ladder)."""

    def __init__(self, width: int, heads: int, causal: bool):
        super().__init__()
        self.causal = causal
        self.heads = heads
        self.norm = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        nn.init.zeros_(self.attn.out_proj.weight)  # starts as the identity (see the module docstring)
        nn.init.zeros_(self.attn.out_proj.bias)

    def forward(self, h: torch.Tensor, ladder: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """``h`` (B, L, d) side states, ``ladder`` (B, L, d) the downsampled tap at the same positions,
        ``attention_mask`` (B, L') of the batch, 1 for real tokens: it masks the keys when it covers this stack's
        positions (L' == L; T5's decoder stack runs one start token, which is never padding)."""
        blocked = self._blocked(h.shape[0], h.shape[1], attention_mask, h.device)
        out, _ = self.attn(self.norm(h), ladder, ladder, attn_mask=blocked, need_weights=False)
        return h + out

    def _blocked(self, batch: int, length: int, attention_mask: torch.Tensor | None, device) -> torch.Tensor:
        """(B·heads, L, L) True where a query may NOT read a key (nn.MultiheadAttention's boolean convention)."""
        allowed = torch.ones(batch, length, length, dtype=torch.bool, device=device)
        if attention_mask is not None and attention_mask.shape[-1] == length:
            allowed = allowed & attention_mask.bool()[:, None, :]
        if self.causal:
            allowed = allowed & torch.ones(length, length, dtype=torch.bool, device=device).tril()
        allowed = allowed | torch.eye(length, dtype=torch.bool, device=device)
        return (~allowed).repeat_interleave(self.heads, dim=0)


def cross_attention_layers(stacks: list[str], n_kept: int, width: int, heads: int) -> nn.ModuleDict:
    """One fusion layer per side block of each stack (the side's own width and heads)."""
    if width % heads:  # the side's own attention may be narrower or wider than its residual width (T5's d_kv)
        raise BadInput(
            f"fusion cross_attention: the side network's width {width} does not split into its {heads} attention heads",
            f"set side_heads to a divisor of {width}, or fusion to gates",
        )
    layers = {s: [CrossAttentionFusion(width, heads, s in CAUSAL_STACKS) for _ in range(n_kept)] for s in stacks}
    return nn.ModuleDict({s: nn.ModuleList(stack) for s, stack in layers.items()})
