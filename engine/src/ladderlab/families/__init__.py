"""Architecture families, looked up by the checkpoint's ``config.model_type``."""

from ..errors import BadInput
from .base import Family
from .decoder import DecoderFamily
from .encoder import EncoderFamily
from .llama import LlamaFamily
from .seq2seq import Seq2SeqFamily

_FAMILIES: list[Family] = [EncoderFamily(), Seq2SeqFamily(), DecoderFamily(), LlamaFamily()]


def family_for(model_type: str) -> Family:
    for family in _FAMILIES:
        if model_type in family.model_types:
            return family
    supported = sorted(t for f in _FAMILIES for t in f.model_types)
    raise BadInput(
        f"unsupported architecture {model_type!r}",
        f"Ladder Lab supports model_type {', '.join(supported)} (see config.json's model_type)",
    )
