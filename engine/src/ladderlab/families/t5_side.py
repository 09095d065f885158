"""The LST side network's T5 stacks, run without batch-sized attention tensors kept for backward.

transformers' T5Stack merges the relative position bias (1 x H x L x L) and the padding mask into one float mask per
layer (B x H x L x L), which autograd then keeps for every layer, and which keeps SDPA off its fused kernels; the
math kernel it falls back to keeps the scores and probabilities (B x H x L x L each) too. T5's Python RMSNorm keeps
several (B, L, d) tensors per norm. At the paper's T5-base shape those were most of LST's peak. Here, with the
family's unmodified T5Block modules (the ladders' hooks and the pruning's parameter names need them):

- ``run_stack`` computes the position bias once per forward (1 x H x L x L) and hands each block a key-padding mask
  of (B, 1, 1, L) booleans; the decoder's self-attention is causal, its cross-attention has no bias;
- ``side_attention`` (registered with transformers' AttentionInterface) builds the per-batch float mask only inside
  a checkpointed region around ``scaled_dot_product_attention``: backward keeps q, k, v, the bias and the padding
  mask, and recomputes the attention of one layer at a time (with the same dropout: checkpoint replays the RNG).
  SDPA takes T5's own choices: scale 1 (T5 does not divide by sqrt(d_kv)) and the bias as an additive mask;
- ``SideRMSNorm`` is T5LayerNorm through ``torch.nn.functional.rms_norm`` (one saved input and its rstd);
- ``SideDenseReluDense``: the FFN's ReLU and dropout keep only their output (T5's keep three tensors of d_ff).

``side_attention: eager`` keeps transformers' eager T5 attention (the old formulation) with the same runner.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import AttentionInterface
from transformers.modeling_outputs import BaseModelOutput
from transformers.models.t5.modeling_t5 import T5DenseActDense, T5LayerNorm, T5Stack

from .base import ArchModule

FUSED = "ladderlab_t5_side"  # the side stacks' attention implementation (config._attn_implementation)
CROSS = "ladderlab_cross_attention"  # set on the decoder blocks' cross-attention modules: no position bias there
HALF = (torch.float16, torch.bfloat16)
# The attention scores of one checkpointed chunk of rows: recomputing a layer's attention in backward holds a few
# tensors of this size (the math kernel's scores and probabilities, the float mask and their gradients) rather
# than a few batch-sized ones. T5-base at batch 100 x 128 tokens: 3 chunks of 34 rows.
CHUNK_BYTES = 32 * 2**20


class SideRMSNorm(nn.Module):
    """T5LayerNorm's numerics (no mean, no bias; the variance in fp32 whatever the input; the result in the weight's
    dtype when that is half, else fp32) through torch's fused RMSNorm, which saves the input and its rstd only."""

    def __init__(self, weight: torch.Tensor, eps: float):
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone())
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        # half inputs (autocast) or weights are computed in fp32, as T5's; no copy when neither is half
        dtype = torch.promote_types(_at_least_fp32(hidden_states.dtype), _at_least_fp32(self.weight.dtype))
        out = F.rms_norm(hidden_states.to(dtype), self.weight.shape, self.weight.to(dtype), self.variance_epsilon)
        return out.to(self.weight.dtype) if self.weight.dtype in HALF else out


def _at_least_fp32(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in HALF else dtype


class _ReluDropout(torch.autograd.Function):
    """dropout(relu(x)) that saves only its output: where the output is positive, x was and the unit was kept, so
    the gradient is grad / (1 - p) there and 0 elsewhere. T5's FFN saves relu's output, dropout's mask and
    dropout's output (which wo saves anyway) instead."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: float) -> torch.Tensor:
        scale = 1.0 / (1.0 - p)
        out = torch.relu(x) * torch.empty_like(x).bernoulli_(1.0 - p).mul_(scale)
        ctx.save_for_backward(out)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):
        (out,) = ctx.saved_tensors
        return grads[0] * (out > 0) * ctx.scale, None


class SideDenseReluDense(nn.Module):
    """T5DenseActDense with ReLU (T5, T5-base: ``dense_act_fn`` relu, not gated), same modules and parameter names,
    whose ReLU and dropout keep one tensor for backward (``_ReluDropout``)."""

    def __init__(self, dense: ArchModule):
        super().__init__()
        self.wi, self.wo, self.dropout = dense.wi, dense.wo, dense.dropout

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden = self.wi(hidden_states)
        p = self.dropout.p if self.dropout.training else 0.0
        if 0.0 < p < 1.0 and torch.is_grad_enabled():
            hidden = _ReluDropout.apply(hidden, p)
        else:
            hidden = self.dropout(torch.relu(hidden))
        # as T5: activations meet wo in its dtype (autocast casts for the matmul itself: no fp32 round trip then)
        if hidden.dtype != self.wo.weight.dtype and not torch.is_autocast_enabled(hidden.device.type):
            hidden = hidden.to(self.wo.weight.dtype)
        return self.wo(hidden)


class SideT5Stack(T5Stack):
    """A T5Stack (same modules and parameter names) without token embeddings, whose forward is ``run_stack``: the
    side reads downsampled backbone embeddings, trains and decodes with teacher forcing, and keeps no cache.
    Through the module's own call, so forward hooks on the stack still fire."""

    @classmethod
    def is_custom_code(cls) -> bool:
        # transformers takes a class defined outside its package for remote code and then skips the init of modules
        # without parameters of their own (T5Attention, T5DenseActDense, whose Linear children T5's init sets): the
        # side would start at std 1. These are T5Stack's own modules, initialised as T5's.
        return False

    def __init__(self, config):
        super().__init__(config)
        self.embed_tokens = None  # vocab x d/r would be waste
        prepare_stack(self, config._attn_implementation)

    def forward(  # pyright: ignore[reportIncompatibleMethodOverride]
        self, inputs_embeds, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None
    ) -> BaseModelOutput:
        hidden = run_stack(self, inputs_embeds, attention_mask, encoder_hidden_states, encoder_attention_mask)
        return BaseModelOutput(last_hidden_state=hidden)


def prepare_stack(stack: ArchModule, attention: str | None) -> None:
    """Give a freshly built side T5Stack the fused norms and FFN and, for ``attention`` sdpa, the fused attention."""
    for parent in list(stack.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, T5LayerNorm):
                setattr(parent, name, SideRMSNorm(child.weight, child.variance_epsilon))
            elif isinstance(child, T5DenseActDense) and stack.config.dense_act_fn == "relu":
                setattr(parent, name, SideDenseReluDense(child))
    for block in stack.block:
        if len(block.layer) == 3:  # decoder blocks: self-attention, cross-attention, feed-forward
            setattr(block.layer[1].EncDecAttention, CROSS, True)
    if attention == "sdpa":
        stack.config._attn_implementation = FUSED


def run_stack(
    stack: ArchModule,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    encoder_hidden_states: torch.Tensor | None = None,
    encoder_attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """T5Stack.forward's computation (dropout, blocks, final norm, dropout) for training and teacher forcing, without
    a cache: the last hidden states. ``attention_mask`` (B, L) masks padded keys of the encoder's self-attention;
    ``encoder_attention_mask`` (B, S) those of the decoder's cross-attention."""
    fused = stack.config._attn_implementation == FUSED
    length = inputs_embeds.shape[1]
    first = stack.block[0].layer[0].SelfAttention
    bias = first.compute_bias(length, length, device=inputs_embeds.device)  # (1, H, L, L), shared by every block
    self_mask = None if stack.is_decoder else _key_mask(attention_mask, fused, inputs_embeds.dtype)
    if stack.is_decoder and not fused:  # eager attention takes causality as an additive mask
        bias = bias + _causal(length, inputs_embeds.device, bias.dtype)
    cross_mask = _key_mask(encoder_attention_mask, fused, inputs_embeds.dtype)
    hidden = stack.dropout(inputs_embeds)
    for block in stack.block:
        hidden = block(
            hidden,
            attention_mask=self_mask,
            position_bias=bias,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=cross_mask,
        )[0]
    return stack.dropout(stack.final_layer_norm(hidden))


def _key_mask(mask: torch.Tensor | None, fused: bool, dtype: torch.dtype) -> torch.Tensor | None:
    """(B, L) 1/0 -> (B, 1, 1, L): booleans (True = attend) for the fused path, additive floats for eager."""
    if mask is None:
        return None
    keep = mask[:, None, None, :].bool()
    return keep if fused else torch.zeros(keep.shape, dtype=dtype, device=mask.device).masked_fill(~keep, _min(dtype))


def _causal(length: int, device, dtype: torch.dtype) -> torch.Tensor:
    allowed = torch.ones(length, length, dtype=torch.bool, device=device).tril()
    return torch.zeros(1, 1, length, length, dtype=dtype, device=device).masked_fill(~allowed, _min(dtype))


def _min(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).min


def side_attention(
    module: ArchModule,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    position_bias: torch.Tensor | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """transformers' attention interface for the side stacks: (B, L, H, d) outputs, no weights."""
    cross = getattr(module, CROSS, False)
    bias = None if cross else position_bias  # T5Attention passes zeros for cross-attention: nothing to add
    causal = bool(module.is_decoder) and not cross
    options = (causal, dropout, 1.0 if scaling is None else scaling)
    if not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (query, key, value, bias))):
        return _attend(query, key, value, bias, attention_mask, *options).transpose(1, 2).contiguous(), None
    # Rows in chunks, each checkpointed on its own (keeping its inputs, views of q, k, v): backward recomputes one
    # chunk's attention at a time, with the same dropout (checkpoint replays the RNG)
    rows = _chunk_rows(query, key)
    parts = [
        checkpoint(
            _attend,
            query[i : i + rows],
            key[i : i + rows],
            value[i : i + rows],
            bias,
            _rows(attention_mask, i, rows),
            *options,
            use_reentrant=False,
        )
        for i in range(0, query.shape[0], rows)
    ]
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    return out.transpose(1, 2).contiguous(), None


def _chunk_rows(query: torch.Tensor, key: torch.Tensor) -> int:
    """Rows per chunk: about CHUNK_BYTES of scores (rows x H x L x S) each, in chunks of (nearly) equal size."""
    batch, heads, length = query.shape[:3]
    per_row = heads * length * key.shape[-2] * query.element_size()
    chunks = max(1, min(batch, -(-batch * per_row // CHUNK_BYTES)))
    return -(-batch // chunks)


def _rows(mask: torch.Tensor | None, start: int, rows: int) -> torch.Tensor | None:
    """A chunk's rows of a (B, 1, 1, S) mask; a mask shared by every row (or none) as it is."""
    return mask if mask is None or mask.shape[0] == 1 else mask[start : start + rows]


def _attend(q, k, v, bias, keep, causal: bool, dropout: float, scale: float) -> torch.Tensor:
    """SDPA with T5's additive bias (1, H, L, S) and a (B, 1, 1, S) boolean key mask; the float mask they make
    together (B, H, L, S) exists only here, inside the checkpointed region."""
    if bias is None and keep is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=causal, scale=scale)
    if causal:
        lower = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        keep = lower if keep is None else keep & lower
    if bias is None:
        mask = keep  # booleans broadcast over heads and queries
    else:
        mask = bias.to(q.dtype)
        if keep is not None:
            mask = mask.masked_fill(~keep, _min(q.dtype))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, scale=scale)


AttentionInterface.register(FUSED, side_attention)
