"""A quantised frozen backbone (``backbone_quant``: nf4 = QLoRA's 4-bit NormalFloat, int8 = LLM.int8()), through
bitsandbytes, which runs on CUDA GPUs only. Until the quantised loader is in, a run or estimate that asks for it is
refused up front with what it needs (exit 2), before any data is read or model built."""

from __future__ import annotations

import importlib.util

import torch

from .errors import BadInput, use_field


def check_quant(exp, device: torch.device) -> None:
    if exp.backbone_quant == "none":
        return
    missing = [
        what
        for what, present in (
            ("a CUDA GPU", device.type == "cuda"),
            ("the bitsandbytes package", importlib.util.find_spec("bitsandbytes") is not None),
        )
        if not present
    ]
    if missing:
        raise BadInput(
            f"backbone_quant {exp.backbone_quant} quantises the frozen backbone through bitsandbytes, which needs a "
            f"CUDA GPU and the bitsandbytes package; missing here: {', '.join(missing)}",
            "run on a CUDA machine with `pip install bitsandbytes`, or " + use_field("backbone_quant", "none"),
        )
    raise BadInput(
        f"backbone_quant {exp.backbone_quant} is not available in this version of Ladder Lab yet",
        use_field("backbone_quant", "none"),
    )
