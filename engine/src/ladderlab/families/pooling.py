"""What a classification head reads from the last states: the experiment field ``pooling``.

A sentence-transformers checkpoint (the embedded all-MiniLM-L6-v2 among them) was trained for the pooling its own
modules.json names, usually the mean of the real tokens, not for BERT's pooler over [CLS]: with the backbone frozen
(LST, and LoRA's untouched pooler) a head over [CLS] reads states the checkpoint never trained to carry the
sentence. ``auto`` follows the checkpoint's pooling config where it has one and the family's own head otherwise.
Only families whose head reads one position of a bidirectional encoder (BERT) offer the choice; GPT-2 reads the
last token and T5 decodes a label, where [CLS] and a mean have no meaning.
"""

from __future__ import annotations

import json
from pathlib import Path

from peft import PeftModel
from torch import nn

from ..errors import BadInput
from .base import Family

ATTRIBUTE = "ladderlab_pooling"  # set on the transformers task model, read by the family's head
POOLING_MODULE = "sentence_transformers.models.Pooling"
# sentence-transformers' pooling config flag -> our mode (max and sqrt-length pooling are not offered)
CONFIG_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}


def checkpoint_pooling(folder: Path | None) -> str | None:
    """The pooling a sentence-transformers checkpoint folder declares (modules.json -> its Pooling module's
    config.json), or None: not a sentence-transformers folder, or a pooling we do not offer."""
    modules_file = folder / "modules.json" if folder is not None else None
    if modules_file is None or not modules_file.is_file():
        return None
    for module in json.loads(modules_file.read_text(encoding="utf-8")):
        config_file = folder / module.get("path", "") / "config.json"
        if module.get("type") == POOLING_MODULE and config_file.is_file():
            config = json.loads(config_file.read_text(encoding="utf-8"))
            on = [flag for flag, value in config.items() if flag.startswith("pooling_mode") and value is True]
            return CONFIG_MODES.get(on[0]) if len(on) == 1 else None  # several modes: their concatenation
    return None


def check_pooling(asked: str, family: Family) -> None:
    """BadInput when ``asked`` (cls / mean) is not a head this family has."""
    if asked != "auto" and asked not in family.poolings:
        raise BadInput(
            f"pooling={asked} applies to encoder (BERT-family) backbones; this backbone is a {family.name} model, "
            "whose head reads " + ("the last token" if family.name != "seq2seq" else "a decoded label"),
            "set pooling to auto",
        )


def resolve_pooling(asked: str, family: Family, folder: Path | None) -> str | None:
    """The mode the head will use: ``asked``, or for auto the checkpoint's own, else the family's default (None for
    families without a choice)."""
    check_pooling(asked, family)
    if not family.poolings:
        return None
    if asked == "auto":
        declared = checkpoint_pooling(folder)
        return declared if declared in family.poolings else family.poolings[0]
    return asked


def set_pooling(task_model: nn.Module, mode: str | None) -> None:
    setattr(task_model, ATTRIBUTE, mode)


def pooling_of(model: nn.Module, default: str) -> str:
    """The mode set on the task model (through a PEFT wrapper); ``default`` for one built without an experiment
    (memory estimates, parameter counts)."""
    return getattr(task_model_of(model), ATTRIBUTE, None) or default


def task_model_of(model: nn.Module) -> nn.Module:
    """The transformers task model under a PEFT wrapper (LoRA layers and PEFT's trainable head copy inside it)."""
    return model.get_base_model() if isinstance(model, PeftModel) else model
