"""LoRA (Hu et al., 2022) through PEFT: low-rank updates on the attention projections, plus the task head.

``lora_bias=all`` also trains every bias term (PEFT's ``bias="all"``), after BitFit's zero biases are added where
the backbone has none: the LST authors' LoRA baseline does this (their lora.json sets ``bitfit``), and it is the
default on T5 (``lora_bias=auto``) so that Table 1's 1.71% of T5-base is reproduced. Elsewhere auto is LoRA alone.
"""

from peft import LoraConfig
from transformers.pytorch_utils import Conv1D

from .base import MethodModel, peft_method
from .bitfit import add_biases


def build(backbone, model, exp) -> MethodModel:
    family = backbone.family
    bias = family.lora_bias if exp.lora_bias == "auto" else exp.lora_bias
    if bias == "all":
        add_biases(model, family)
    config = LoraConfig(
        task_type=family.peft_task_type,
        r=exp.lora_rank,
        lora_alpha=exp.lora_alpha,
        lora_dropout=0.0,
        target_modules=list(exp.lora_targets or family.lora_targets),
        bias=bias,
        # GPT-2's Conv1D stores weights (in, out); PEFT would correct this itself, with a warning on every run.
        fan_in_fan_out=any(isinstance(m, Conv1D) for m in model.modules()),
    )
    return peft_method(family, model, config)
