"""Prompt tuning (Lester et al., 2021) through PEFT: trainable prompt vectors prepended to the input,
initialised from sampled vocabulary embeddings as in the LST paper's baseline; the task head trains too."""

from peft import PromptTuningConfig, PromptTuningInit, get_peft_model

from .base import MethodModel, unfreeze_modules


def build(backbone, model, exp) -> MethodModel:
    family = backbone.family
    config = PromptTuningConfig(
        task_type=family.peft_task_type,
        num_virtual_tokens=exp.prompt_tokens,
        prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,
    )
    peft_model = get_peft_model(model, config)
    unfreeze_modules(peft_model.base_model, family.head_modules)
    return MethodModel(family, peft_model)
