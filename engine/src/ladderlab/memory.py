"""Memory accounting per phase (pruning_init / train / eval), meaningful on a CPU too.

On CUDA: torch's peak allocated and reserved bytes, reset at the start of each phase.
On every device: the exact bytes of the tensors autograd saves for backward (counted through
``saved_tensors_hooks``, each storage once, parameters excluded since they are counted as parameters),
plus parameter, gradient and optimizer-state bytes. Their sum ("accounted") is what a method really
has to hold at its training peak, less allocator slack and transient buffers.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class SavedTensorMeter:
    """Counts the unique bytes saved for backward while active. Use one per forward pass."""

    def __init__(self, model: nn.Module):
        self._param_ptrs = {p.data_ptr() for p in model.parameters()}
        self.bytes = 0
        self._seen: set[int] = set()

    def _pack(self, t: torch.Tensor):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in self._seen and ptr not in self._param_ptrs:
            self._seen.add(ptr)
            self.bytes += storage.nbytes()
        return t

    @contextlib.contextmanager
    def measure(self):
        self.bytes = 0
        self._seen = set()
        with torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t):
            yield self


def parameter_bytes(model: nn.Module) -> int:
    return sum(tensor_bytes(p) + _quant_scale_bytes(p) for p in model.parameters())


def _quant_scale_bytes(p: torch.Tensor) -> int:
    """A bitsandbytes weight's scales, which live beside its packed bytes and not in ``parameters()``: nf4's absmax
    per block (and, with double quantisation, the absmax of those), int8's row scales (``SCB``)."""
    state = getattr(p, "quant_state", None)
    scales = [getattr(p, "SCB", None)]
    while state is not None:
        scales += [getattr(state, "absmax", None), getattr(state, "code", None)]
        state = getattr(state, "state2", None)
    return sum(tensor_bytes(t) for t in scales if isinstance(t, torch.Tensor))


def gradient_bytes(model: nn.Module) -> int:
    """Bytes of the gradients a step holds: one per trainable parameter."""
    return sum(tensor_bytes(p) for p in model.parameters() if p.requires_grad)


def optimizer_bytes(optimizer: torch.optim.Optimizer | None) -> int:
    if optimizer is None:
        return 0
    return sum(
        tensor_bytes(v) for state in optimizer.state.values() for v in state.values() if isinstance(v, torch.Tensor)
    )


class PhaseMemory:
    """Start with ``begin()``; ``report()`` gives the schema's ``memory`` object for the phase."""

    def __init__(self, device: torch.device):
        self.device = device
        self.saved_peak = 0

    def begin(self) -> None:
        self.saved_peak = 0
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)

    def note_saved(self, saved_bytes: int) -> None:
        self.saved_peak = max(self.saved_peak, saved_bytes)

    def report(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, with_grads: bool) -> dict:
        peak_alloc = peak_reserved = None
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak_alloc = int(torch.cuda.max_memory_allocated(self.device))
            peak_reserved = int(torch.cuda.max_memory_reserved(self.device))
        params = parameter_bytes(model)
        grads = gradient_bytes(model) if with_grads else 0
        opt = optimizer_bytes(optimizer)
        return {
            "peak_allocated_bytes": peak_alloc,
            "peak_reserved_bytes": peak_reserved,
            "saved_for_backward_bytes": self.saved_peak,
            "param_bytes": params,
            "grad_bytes": grads,
            "optimizer_bytes": opt,
            "accounted_bytes": params + grads + opt + self.saved_peak,
        }


def current_cuda_memory(device: torch.device) -> tuple[int | None, int | None]:
    if device.type != "cuda":
        return None, None
    return int(torch.cuda.memory_allocated(device)), int(torch.cuda.memory_reserved(device))
