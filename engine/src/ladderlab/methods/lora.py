"""LoRA (Hu et al., 2022) through PEFT: low-rank updates on the attention projections, plus the task head.

``lora_bias=all`` also trains every bias term (PEFT's ``bias="all"``), after BitFit's zero biases are added where
the backbone has none: the LST authors' LoRA baseline does this (their lora.json sets ``bitfit``), and it is the
default on T5 (``lora_bias=auto``) so that Table 1's 1.71% of T5-base is reproduced. Elsewhere auto is LoRA alone.

Over a quantised backbone (``backbone_quant``; QLoRA = nf4) the model first goes through PEFT's k-bit preparation,
which freezes it and upcasts its unquantised half-precision parameters to fp32 (ours load in fp32 already); its
gradient checkpointing is left off, as for every other method here, so that memory comparisons stay like for like.
"""

from peft import LoraConfig, prepare_model_for_kbit_training
from peft.tuners.tuners_utils import check_target_module_exists
from transformers.pytorch_utils import Conv1D

from ..quant import is_quantised
from .base import MethodModel, peft_method
from .bitfit import add_biases
from .freeze import frozen_part


def build(backbone, model, exp) -> MethodModel:
    family = backbone.family
    if is_quantised(model):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    frozen = frozen_part(family, model, exp.freeze_layers)
    bias = family.lora_bias if exp.lora_bias == "auto" else exp.lora_bias
    if bias == "all":
        add_biases(model, family, frozen)
    targets = list(exp.lora_targets or family.lora_targets)
    if frozen.names:
        # PEFT's own target patterns, narrowed to the layers that train: the exact names it would match there
        # (layers_to_transform cannot say "T5's encoder block 2 but not its decoder block 2": both are block 2)
        wanted = LoraConfig(target_modules=targets)
        targets = [n for n, _ in model.named_modules() if not frozen.holds(n) and check_target_module_exists(wanted, n)]
    config = LoraConfig(
        task_type=family.peft_task(model),
        r=exp.lora_rank,
        lora_alpha=exp.lora_alpha,
        lora_dropout=0.0,
        target_modules=targets,
        bias=bias,
        # GPT-2's Conv1D stores weights (in, out); PEFT would correct this itself, with a warning on every run.
        fan_in_fan_out=any(isinstance(m, Conv1D) for m in model.modules()),
    )
    method = peft_method(family, model, config)
    frozen.freeze()  # bias="all" makes every bias trainable, those of the frozen layers too
    return method
