"""Prompt tuning (Lester et al., 2021) through PEFT: trainable prompt vectors prepended to the input,
initialised from sampled vocabulary embeddings as in the LST paper's baseline; the task head trains too."""

from peft import PromptTuningConfig, PromptTuningInit

from .base import MethodModel, peft_method


def build(backbone, model, exp) -> MethodModel:
    family = backbone.family
    config = PromptTuningConfig(
        task_type=family.peft_task_type,
        num_virtual_tokens=exp.prompt_tokens,
        prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,
        # PEFT's default for SEQ_2_SEQ_LM is 2 (a prompt set per encoder and decoder), but prompt tuning only
        # prepends to the encoder input: the second set would count as trainable and never get a gradient.
        num_transformer_submodules=1,
    )
    return peft_method(family, model, config)
