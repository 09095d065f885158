"""Prompt tuning (Lester et al., 2021) through PEFT: trainable prompt vectors prepended to the input,
initialised from sampled vocabulary embeddings as in the LST paper's baseline; the task head trains too, at its
own rate: prompt tuning's 3e-1 suits the prompt vectors, not a freshly initialised classifier."""

from peft import PromptTuningConfig, PromptTuningInit, get_peft_model

from ..families import Family
from .base import MethodModel

PROMPT_PARAMETERS = "prompt_encoder."  # PEFT names the prompt vectors prompt_encoder.<adapter>.embedding.weight


class PromptTuned(MethodModel):
    def __init__(self, family: Family, model, head_lr: float):
        super().__init__(family, model)
        self.head_lr = head_lr

    def forward(self, batch: dict):
        return self.family.prompt_logits(self.model, batch)  # the head reads the real tokens, not a prompt

    def optimizer_groups(self, lr: float) -> list[dict]:
        """The prompt vectors at prompt tuning's rate ``lr``; anything else trainable (the task head) at head_lr."""
        params = self.trainable_named_parameters()
        prompts = [p for n, p in params.items() if PROMPT_PARAMETERS in n]
        others = [p for n, p in params.items() if PROMPT_PARAMETERS not in n]
        groups = [{"params": prompts, "lr": lr}, {"params": others, "lr": self.head_lr}]
        return [g for g in groups if g["params"]]


def build(backbone, model, exp) -> MethodModel:
    family = backbone.family
    config = PromptTuningConfig(
        task_type=family.peft_task(model),
        num_virtual_tokens=exp.prompt_tokens,
        prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,
        # PEFT's default for SEQ_2_SEQ_LM is 2 (a prompt set per encoder and decoder), but prompt tuning only
        # prepends to the encoder input: the second set would count as trainable and never get a gradient.
        num_transformer_submodules=1,
    )
    return PromptTuned(family, get_peft_model(model, config), exp.head_lr_for_prompt())
