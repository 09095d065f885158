"""Prompt tuning (Lester et al., 2021) through PEFT: trainable prompt vectors prepended to the input,
initialised from sampled vocabulary embeddings as in the LST paper's baseline; the task head trains too."""

from peft import PromptTuningConfig, PromptTuningInit, get_peft_model

from .base import MethodModel


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
    # For SEQ_CLS, PEFT itself keeps a trainable copy of the classification head (modules_to_save).
    peft_model = get_peft_model(model, config)
    return MethodModel(family, peft_model)
