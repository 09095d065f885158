"""A quantised frozen backbone (``backbone_quant`` nf4 / int8) in the memory estimate, from shapes alone.

The estimate runs on fake tensors (estimate.py), where no bitsandbytes kernel can run, and it must work on a machine
without a GPU or bitsandbytes. So each Linear that transformers' bitsandbytes loader would quantise (quant.py's
``QuantisedLoad``: every backbone Linear but the LM head and the task head) is swapped, in the fake model, for a
stand-in holding exactly bitsandbytes' storage and doing what its forward and backward allocate:

nf4 (``Linear4bit``, ``MatMul4Bit``, bitsandbytes 0.50): the weight packed two 4-bit codes to a byte (uint8,
    ceil(out*in/2)), one fp32 absmax per block of 64 (no double quantisation: ``BitsAndBytesConfig``'s default, which
    quant.py keeps; with it, an 8-bit absmax per 64 and an fp32 one per 256 blocks). The input is cast to the compute
    dtype; a training batch (more than 1,536 rows on CUDA) takes the dequantise + ``F.linear`` path: the whole weight
    dequantised in the compute dtype as a transient, and again in backward for the input's gradient.
    ``MatMul4Bit`` saves only the packed weight (already resident) for backward: nothing new.
int8 (``Linear8bitLt``, ``MatMul8bitLt``, threshold 6.0): an int8 weight and one fp32 scale per output row. The
    input is cast to fp16 and quantised row-wise (int8 + an fp32 scale per row); the int32 product is dequantised to
    the input's dtype. When the input needs a gradient (LoRA's backward through the frozen layers) the input itself
    is kept for backward, and backward dequantises the weight to the input's dtype. Outlier columns (a few per layer on
    trained weights, none on random ones) are not modelled.

Everything else stays as the run has it: fp32 unquantised parts (quant.py loads in fp32; PEFT's k-bit preparation
keeps them so for QLoRA), or bf16 where LST's ``backbone_dtype`` casts the frozen backbone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NF4_BLOCK = 64  # bitsandbytes' default 4-bit blocksize (BitsAndBytesConfig has no field for it)
NOT_QUANTISED = ("lm_head", "score", "classifier")  # quant.py's skips: the LM head and the task heads


def compute_dtype(exp) -> torch.dtype:
    """The dtype nf4 layers dequantise to and multiply in, as ``quant.QuantisedLoad.of`` chooses it."""
    return torch.bfloat16 if exp.precision == "bf16" or exp.backbone_dtype == "bf16" else torch.float32


def quantise_frozen_linears(model: nn.Module, kind: str, dtype: torch.dtype) -> int:
    """Swap every frozen ``nn.Linear`` of ``model`` outside the heads for its quantised stand-in (PEFT's LoRA layers
    keep theirs as ``base_layer``, which is what gets swapped); returns how many were swapped."""
    swaps = [
        (parent, child_name, child)
        for parent_name, parent in model.named_modules()
        for child_name, child in parent.named_children()
        if type(child) is nn.Linear
        and not child.weight.requires_grad
        and child_name not in NOT_QUANTISED
        and not any(part in NOT_QUANTISED for part in parent_name.split("."))
    ]
    for parent, name, linear in swaps:
        stand_in = Linear4bitShape(linear, dtype) if kind == "nf4" else Linear8bitShape(linear)
        setattr(parent, name, stand_in)
    return len(swaps)


def nf4_bytes(out_features: int, in_features: int) -> int:
    n = out_features * in_features
    return (n + 1) // 2 + 4 * math.ceil(n / NF4_BLOCK)


class Linear4bitShape(nn.Module):
    def __init__(self, linear: nn.Linear, dtype: torch.dtype):
        super().__init__()
        self.out_features, self.in_features = linear.out_features, linear.in_features
        n = self.out_features * self.in_features
        device = linear.weight.device
        # a Parameter as bitsandbytes' Params4bit is one (frozen), so it counts where a run's weights count
        self.weight = nn.Parameter(torch.empty((n + 1) // 2, 1, dtype=torch.uint8, device=device), False)
        self.register_buffer("absmax", torch.empty(math.ceil(n / NF4_BLOCK), dtype=torch.float32, device=device))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().to(dtype), False)
        self.compute_dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        in_dtype = x.dtype
        x = x.to(self.compute_dtype)
        shape = (self.out_features, self.in_features)
        return _Matmul4bit.apply(x, self.weight, shape, self.bias).to(in_dtype)


class _Matmul4bit(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, packed, shape, bias):
        ctx.shape, ctx.device = shape, packed.device
        return F.linear(x, torch.empty(shape, dtype=x.dtype, device=packed.device), bias)  # the dequantised weight

    @staticmethod
    def backward(ctx, grad):  # pyright: ignore[reportIncompatibleMethodOverride]
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        weight = torch.empty(ctx.shape, dtype=grad.dtype, device=ctx.device)  # dequantised again
        return grad @ weight, None, None, None


class Linear8bitShape(nn.Module):
    def __init__(self, linear: nn.Linear):
        super().__init__()
        device = linear.weight.device
        self.weight = nn.Parameter(torch.empty_like(linear.weight, dtype=torch.int8), False)
        self.register_buffer("scales", torch.empty(linear.out_features, dtype=torch.float32, device=device))
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Matmul8bit.apply(x, self.weight, self.scales, self.bias)


class _Matmul8bit(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, scales, bias):
        rows = x.reshape(-1, x.shape[-1])
        half = rows.to(torch.float16)
        quantised = torch.empty_like(half, dtype=torch.int8)  # int8_vectorwise_quant: int8 codes and a row scale
        row_scales = torch.empty(half.shape[0], dtype=torch.float32, device=x.device)
        product = torch.empty(rows.shape[0], weight.shape[0], dtype=torch.int32, device=x.device)  # int8 GEMM
        out = torch.empty(rows.shape[0], weight.shape[0], dtype=x.dtype, device=x.device)  # dequantised
        del half, quantised, row_scales, product
        if bias is not None:
            out = out + bias.to(x.dtype)
        ctx.in_shape, ctx.in_dtype = x.shape, x.dtype
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(rows, weight)
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):  # pyright: ignore[reportIncompatibleMethodOverride]
        _rows, weight = ctx.saved_tensors
        dequantised = weight.to(ctx.in_dtype)  # CB * SCB / 127
        grad_x = grad.reshape(-1, grad.shape[-1]).to(ctx.in_dtype) @ dequantised
        return grad_x.reshape(ctx.in_shape), None, None, None
