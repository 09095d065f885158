"""LoRA (Hu et al., 2022) through PEFT: low-rank updates on the attention projections, plus the task head."""

from peft import LoraConfig
from transformers.pytorch_utils import Conv1D

from .base import MethodModel, peft_method


def build(backbone, model, exp) -> MethodModel:
    family = backbone.family
    config = LoraConfig(
        task_type=family.peft_task_type,
        r=exp.lora_rank,
        lora_alpha=exp.lora_alpha,
        lora_dropout=0.0,
        target_modules=list(exp.lora_targets or family.lora_targets),
        # GPT-2's Conv1D stores weights (in, out); PEFT would correct this itself, with a warning on every run.
        fan_in_fan_out=any(isinstance(m, Conv1D) for m in model.modules()),
    )
    return peft_method(family, model, config)
