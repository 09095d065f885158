"""A quantised frozen backbone (``backbone_quant``: nf4 = QLoRA's 4-bit NormalFloat, int8 = LLM.int8()).

The backbone is loaded by transformers' own quantised loader (``BitsAndBytesConfig``, QLoRA's): each Linear of the
backbone becomes a bitsandbytes ``Linear4bit`` / ``Linear8bitLt`` as its weights are read. bitsandbytes (>= 0.50) has
CPU kernels for both besides CUDA's, so this runs on either. The task head stays unquantised (it trains), and so
does everything LST adds: the side network and ladders are ordinary layers that only read the backbone's outputs
(the QST setting). QLoRA is ``lora`` over an nf4 backbone (methods/lora.py).

A preset has random weights and no checkpoint: it is written once to a temporary folder (in fp32) and loaded from
there, so presets and checkpoints take the same loader.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

from .errors import BadInput, use_field

MIN_BITSANDBYTES = (0, 50)  # its CPU 4-bit and int8 kernels; earlier wheels are CUDA-only for training
# Families whose quantised task model is the family's own model class from its task config, and whose LST pruning
# reads nn.Linear weights (dequantised). Others: why not, for the message.
NOT_QUANTISABLE = {
    "decoder": "GPT-2's Conv1D layers become bitsandbytes Linear layers of the transposed shape, which its LoRA "
    "(fan_in_fan_out) and LST pruning roles do not expect",
    "seq2seq": "T5's text-to-text head attaches its label tokens after loading, outside the quantised loader",
}


def check_quant(exp, device: torch.device) -> None:
    """Before anything is loaded: the platform and the package a quantised backbone needs (BadInput otherwise)."""
    if exp.backbone_quant == "none":
        return
    fallback = use_field("backbone_quant", "none")
    if device.type not in ("cpu", "cuda"):
        raise BadInput(
            f"backbone_quant {exp.backbone_quant} runs on CUDA GPUs and the CPU (bitsandbytes' kernels); not on "
            f"device {device}",
            f"{use_field('device', 'cuda or cpu')}, or {fallback}",
        )
    try:
        import bitsandbytes  # noqa: F401  (importing it is the check: a broken install fails here, not mid-load)
    except ImportError:
        raise BadInput(
            f"backbone_quant {exp.backbone_quant} quantises the frozen backbone through bitsandbytes, which is not "
            "installed here",
            "pip install 'ladderlab[quant]' (or pip install 'bitsandbytes>=0.50'), or " + fallback,
        ) from None
    version = metadata.version("bitsandbytes")
    if tuple(int(part) for part in version.split(".")[:2] if part.isdigit()) < MIN_BITSANDBYTES:
        raise BadInput(
            f"bitsandbytes {version} is too old for backbone_quant (it needs >= 0.50 for its CPU kernels)",
            "pip install -U 'bitsandbytes>=0.50', or " + fallback,
        )


class _OncePerMessage(logging.Filter):
    """bitsandbytes' int8 layers log "inputs will be cast from torch.float32 to float16" at every matmul (over a
    thousand lines for a tiny run); the first says it."""

    def __init__(self):
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def _quiet_repeats() -> None:
    matmul_log = logging.getLogger("bitsandbytes.autograd._functions")
    if not any(isinstance(f, _OncePerMessage) for f in matmul_log.filters):
        matmul_log.addFilter(_OncePerMessage())


def check_family(exp, family) -> None:
    if exp.backbone_quant != "none" and family.name in NOT_QUANTISABLE:
        raise BadInput(
            f"backbone_quant {exp.backbone_quant} is not available for this backbone's family ({family.name}): "
            f"{NOT_QUANTISABLE[family.name]}",
            "use a Llama-class (Llama, Mistral, Qwen, Gemma) or BERT backbone, or "
            + use_field("backbone_quant", "none"),
        )


@dataclass(frozen=True)
class QuantisedLoad:
    """How a backbone's task models are loaded when ``backbone_quant`` is not none."""

    kind: str  # nf4 | int8
    compute_dtype: torch.dtype  # what the 4-bit layers dequantise to and multiply in
    device: torch.device

    @classmethod
    def of(cls, exp, family, device: torch.device) -> QuantisedLoad | None:
        if exp.backbone_quant == "none":
            return None
        check_quant(exp, device)
        check_family(exp, family)
        _quiet_repeats()
        bf16 = exp.precision == "bf16" or exp.backbone_dtype == "bf16"
        return cls(exp.backbone_quant, torch.bfloat16 if bf16 else torch.float32, device)

    def config(self, family):
        from transformers import BitsAndBytesConfig

        # The trainable head and the LM head stay unquantised (naming any module replaces transformers' own skips)
        keep = [*family.head_modules, "lm_head"]
        if self.kind == "int8":
            return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=keep)
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=self.compute_dtype,
            llm_int8_skip_modules=keep,  # transformers reads the skips of both kinds from this field
        )

    def task_model(self, backbone, spec) -> nn.Module:
        """The family's task model (its class and task config, e.g. the label count), loaded quantised."""
        family = backbone.family
        with torch.device("meta"):  # the class and config only: no weights are made
            shape = family.task_model_from_config(backbone.config, spec, backbone.tokenizer)
        if backbone.folder is not None:
            return self._load(type(shape), backbone.folder, shape.config, family)
        with tempfile.TemporaryDirectory(prefix="ladderlab-preset-") as folder:
            family.task_model_from_config(backbone.config, spec, backbone.tokenizer).save_pretrained(folder)
            return self._load(type(shape), Path(folder), shape.config, family)

    def _load(self, model_class, folder: Path, config, family) -> nn.Module:
        return model_class.from_pretrained(
            str(folder),
            config=config,
            dtype=torch.float32,  # the unquantised parts (embeddings, norms, head), as the other methods have them
            quantization_config=self.config(family),
            device_map={"": str(self.device)},
        )


def is_quantised(model: nn.Module) -> bool:
    return bool(getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False))


def dense_parameters(module: nn.Module) -> dict[str, torch.Tensor]:
    """``named_parameters()`` with each bitsandbytes-quantised weight as the weight it stands for (fp32, its logical
    shape); the others as they are. The LST pruning init reads backbone weights through this (importance, and the
    slices it copies)."""
    return dict(iter_dense_parameters(module))


def iter_dense_parameters(module: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """The same, one at a time: a quantised backbone is never dequantised whole."""
    owners = {id(p): m for m in module.modules() for p in m.parameters(recurse=False)}
    for n, p in module.named_parameters():
        yield n, _dense(owners[id(p)], p)


def _dense(owner: nn.Module, p: torch.Tensor) -> torch.Tensor:
    kind = type(p).__name__
    if kind == "Params4bit" and (state := getattr(p, "quant_state", None)) is not None:
        import bitsandbytes.functional as bnbf

        return bnbf.dequantize_4bit(p.data, state).float()
    if kind == "Int8Params":
        import bitsandbytes.functional as bnbf

        # the row scales sit on the weight until the layer's first forward moves them to its state
        scales = getattr(p, "SCB", None)
        if scales is None:
            scales = getattr(getattr(owner, "state", None), "SCB", None)
        if scales is None:
            raise RuntimeError("an int8 weight without its row scales (SCB) cannot be read back")
        return bnbf.int8_vectorwise_dequant(p.data, scales).float()
    return p


def dense_shape(p: torch.Tensor) -> torch.Size:
    state = getattr(p, "quant_state", None)
    return state.shape if type(p).__name__ == "Params4bit" and state is not None else p.shape
