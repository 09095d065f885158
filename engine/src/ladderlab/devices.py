"""The compute device a run uses, and how it computes there (fp32, or bf16 under autocast)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import BadInput, use_field


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when there is one, else the CPU; asking for CUDA where there is none is bad input."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"device {name} requested but CUDA is not available here", use_field("device", "cpu or auto"))
    return torch.device(name)


@dataclass(frozen=True)
class Autocast:
    """bf16 autocast on one device type, or off (fp32): ``with autocast():`` around a forward."""

    device_type: str
    enabled: bool

    @classmethod
    def of(cls, device: torch.device, precision: str) -> Autocast:
        return cls(device.type, precision == "bf16")

    def __call__(self) -> torch.autocast:
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.enabled)
