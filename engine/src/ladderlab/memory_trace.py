"""Live-tensor tracing: the bytes every tensor storage holds from its creation until it is freed, by role.

Works on real tensors (the CPU benchmark's peak: CPU allocators report no peak) and on fake tensors (the
estimator: a training step run under ``FakeTensorMode`` allocates nothing, but every op still creates storages
of the right size). Why not ``torch.distributed._tools.MemTracker``: it installs gradient hooks on every
parameter of every module it sees and raises on frozen ones, which is the whole point of PETL.

Roles, decided when a storage is created and refined later:
  param / buffer    held by the model (registered before the step)
  optimizer         states the optimizer keeps across steps (AdamW: exp_avg, exp_avg_sq, step)
  grad              a trainable parameter's .grad
  activation        saved for backward by autograd (seen by a saved-tensors pack hook)
  transient         everything else: outputs freed within the forward, gradients of activations, kernels'
                    workspaces, the optimizer's temporaries
The peak is the largest total of live bytes. Its breakdown uses each storage's FINAL role: optimizer states are
created (as transients) inside the first ``optimizer.step`` and only become states when it returns, so the
storages live at the peak are remembered and classified at the end.
"""

from __future__ import annotations

import contextlib
import weakref
from collections import Counter

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ROLES = ("param", "buffer", "grad", "optimizer", "activation", "transient")
CUDA_BLOCK = 512  # the CUDA caching allocator rounds every block up to a multiple of 512 bytes


def _storage_bytes(storage, device: torch.device) -> int:
    n = storage.nbytes()
    if device.type == "cuda":
        return -(-n // CUDA_BLOCK) * CUDA_BLOCK if n else 0
    return n


class LiveTensorTracer(TorchDispatchMode):
    """Use ``with tracer.tracking(model, optimizer):`` around whole training steps."""

    SNAPSHOT_STEP = 0.001  # re-list the live storages only when the peak grew by 0.1% since the last listing

    def __init__(self):
        super().__init__()
        self._live: dict[int, list] = {}  # id(storage) -> [weakref, role, bytes, serial]
        self._role_of: dict[int, str] = {}  # serial -> latest role (kept after the storage is freed)
        self._serial = 0
        self.by_role: Counter = Counter()
        self.peak = 0
        self._peak_listed = 0
        self._peak_storages: list[tuple[int, int]] = []  # (serial, bytes) live at the (listed) peak
        self.saved_high = 0  # most bytes saved for backward at once (the end of a forward)

    # -- bookkeeping ------------------------------------------------------------------------------------
    def _add(self, t: torch.Tensor, role: str) -> None:
        if not isinstance(t, torch.Tensor) or t.device.type == "meta":
            return
        storage = t.untyped_storage()
        key = id(storage)
        if key in self._live:
            return
        size = _storage_bytes(storage, t.device)
        self._serial += 1
        self._live[key] = [weakref.ref(storage, lambda _ref, key=key: self._free(key)), role, size, self._serial]
        self._role_of[self._serial] = role
        self.by_role[role] += size
        self._note_peak()

    def _free(self, key: int) -> None:
        entry = self._live.pop(key, None)
        if entry is not None:
            self.by_role[entry[1]] -= entry[2]

    def retag(self, t: torch.Tensor, role: str, only_from: tuple[str, ...] = ("transient",)) -> None:
        """Give a live storage its lasting role (a saved activation, a parameter's gradient, an optimizer state)."""
        if not isinstance(t, torch.Tensor):
            return
        key = id(t.untyped_storage())
        entry = self._live.get(key)
        if entry is None:
            self._add(t, role)
        elif entry[1] in only_from and entry[1] != role:
            self.by_role[entry[1]] -= entry[2]
            self.by_role[role] += entry[2]
            entry[1] = role
            self._role_of[entry[3]] = role
        if role == "activation":
            self.saved_high = max(self.saved_high, self.by_role["activation"])

    def _note_peak(self) -> None:
        total = sum(self.by_role.values())
        if total > self.peak:
            self.peak = total
            if total > self._peak_listed * (1 + self.SNAPSHOT_STEP):
                self._peak_listed = total
                self._peak_storages = [(e[3], e[2]) for e in self._live.values()]

    @property
    def peak_by_role(self) -> dict[str, int]:
        """Bytes live at the peak, by each storage's final role."""
        out: dict[str, int] = dict.fromkeys(ROLES, 0)
        for serial, size in self._peak_storages:
            out[self._role_of[serial]] += size
        return out

    # -- the dispatch mode: every op's outputs ------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._add(t, "transient")
        return out

    # -- one context for a training loop ------------------------------------------------------------------
    @contextlib.contextmanager
    def tracking(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None):
        for p in model.parameters():
            self._add(p, "param")
        for b in model.buffers():
            self._add(b, "buffer")
        handles = [
            p.register_post_accumulate_grad_hook(lambda p: self.retag(p.grad, "grad"))
            for p in model.parameters()
            if p.requires_grad
        ]
        if optimizer is not None:
            handles.append(optimizer.register_step_post_hook(lambda opt, *_: self._retag_optimizer_state(opt)))

        def pack(t):
            self.retag(t, "activation")
            return t

        try:
            with self, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                yield self
        finally:
            for h in handles:
                h.remove()
            self.detach()

    def _retag_optimizer_state(self, optimizer: torch.optim.Optimizer) -> None:
        for state in optimizer.state.values():
            for v in state.values():
                self.retag(v, "optimizer")

    def detach(self) -> None:
        """Drop every weak reference (and its callback) once the figures are read: storages that die later,
        e.g. fake ones collected after their mode has exited, must not call back into a finished trace."""
        self._live.clear()

    def reset_peak(self) -> None:
        self.peak = self._peak_listed = 0
        self._note_peak()
