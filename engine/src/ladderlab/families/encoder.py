"""Encoder-only backbones (BERT family; the embedded default all-MiniLM-L6-v2 is a BERT).

Task head: a new, trainable classification layer over the backbone's pooler ([CLS] -> dense -> tanh), as in
transformers' BertForSequenceClassification (pooling=cls), or over the mean of the real tokens' last states
(pooling=mean: what sentence-transformers checkpoints such as the embedded default were trained for; pooling.py).
The LST side network is a BertModel of the same class at 1/r width whose embedding layer is a pass-through: it
reads the downsampled backbone embeddings.
"""

from __future__ import annotations

import copy
from typing import cast

from torch import nn
from transformers import BertModel

from .base import (
    Family,
    StackInfo,
    check_side_widths,
    classifier_from_config,
    classifier_from_pretrained,
    linear_roles,
    masked_mean,
    norm_roles,
    prompted_inputs,
    squeeze_regression,
)
from .pooling import pooling_of, task_model_of


class PassThroughEmbeddings(nn.Module):
    """Stands in for BertEmbeddings in the side network: the side input is already an embedding."""

    def forward(self, inputs_embeds=None, **_ignored):
        return inputs_embeds


class EncoderFamily(Family):
    name = "encoder"
    model_types = ("bert",)
    lora_targets = ("query", "value")
    adapter_points = ("attention.output.dense", "output.dense")  # after self-attention and after the FFN
    head_modules = ("classifier",)
    poolings = ("cls", "mean")  # the first is the head's own (transformers'), for checkpoints that declare none
    peft_task_type = "SEQ_CLS"

    def task_model_from_pretrained(self, folder, spec, tokenizer):
        return classifier_from_pretrained(folder, spec)

    def task_model_from_config(self, config, spec, tokenizer):
        return classifier_from_config(config, spec)

    def logits(self, model, batch):
        inputs = dict(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            token_type_ids=batch.get("token_type_ids"),
        )
        if pooling_of(model, self.poolings[0]) == "cls":
            return squeeze_regression(model(**inputs).logits)
        task_model = task_model_of(model)  # under PEFT: LoRA's layers and the trainable head copy are inside it
        encoder = cast(nn.Module, task_model.base_model)  # the BertModel (nn.Module's __getattr__ types it loosely)
        hidden = encoder(**inputs).last_hidden_state
        return self._head(task_model, masked_mean(hidden, batch["attention_mask"]))

    def _head(self, task_model, pooled):
        return squeeze_regression(task_model.classifier(task_model.dropout(pooled)))

    def prompt_logits(self, model, batch):
        """The head reads the mean of the real tokens' last states, not the pooler, whatever pooling says. Under PEFT
        the pooler reads position 0, a prompt vector; and with the backbone frozen, moving it to [CLS] (position
        prompt_tokens) does not help: with 100 sampled-vocabulary prompts the frozen pooler's output barely varies
        across sentences (spread 0.005 vs 0.035 without prompts) and a linear probe on it, or on raw [CLS], stays near
        the majority class on SST-2 (56.0%, 57.5%), while the mean over the real tokens keeps 72.0% (78.0% without
        prompts): the embedded all-MiniLM-L6-v2 was trained for mean pooling (bench/prompt_tuning_sweep.py --probe;
        bench/results/prompt-tuning-sweep-2026-12-01-cpu.json)."""
        embeds, mask, token_types = prompted_inputs(model, batch)
        task_model = model.base_model  # the transformers classifier PEFT wraps; its classifier is PEFT's copy
        hidden = task_model.base_model(
            inputs_embeds=embeds, attention_mask=mask, token_type_ids=token_types
        ).last_hidden_state
        return self._head(task_model, masked_mean(hidden[:, -batch["input_ids"].shape[1] :], batch["attention_mask"]))

    def dropout(self, config):
        return config.hidden_dropout_prob

    def stacks(self, model):
        return [StackInfo("encoder", model.base_model.encoder.layer, model.base_model.encoder)]

    def embeddings(self, model):
        return [model.base_model.embeddings]  # words, positions, token types, their layer norm

    # -- LST ----------------------------------------------------------------------------------------
    def side_config(self, config, r, n_layers, heads):
        d, ff, h = config.hidden_size, config.intermediate_size, heads or config.num_attention_heads
        check_side_widths(r, h, {"hidden": d, "feed-forward": ff}, attention="hidden")
        side = copy.deepcopy(config)
        side.hidden_size, side.intermediate_size = d // r, ff // r
        side.num_hidden_layers, side.num_attention_heads = n_layers, h
        # No dropout on attention probabilities in the side: it would force the attention kernel to keep the
        # B x heads x L x L maps for backward; without it SDPA keeps only its output and log-sum-exp.
        side.attention_probs_dropout_prob = 0.0
        return side

    def build_side_stacks(self, side_config):
        side = BertModel(side_config, add_pooling_layer=False)
        side.register_module("embeddings", PassThroughEmbeddings())
        return nn.ModuleDict({"encoder": side})

    def side_layers(self, side_stack):
        return side_stack.encoder.layer

    def run_backbone(self, model, batch):
        model.base_model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            token_type_ids=batch.get("token_type_ids"),
        )

    def run_side(self, side, inputs, batch):
        return side["encoder"](
            inputs_embeds=inputs["encoder"], attention_mask=batch["attention_mask"]
        ).last_hidden_state

    def side_head(self, model, hidden, batch):
        if pooling_of(model, self.poolings[0]) == "mean":
            return self._head(model, masked_mean(hidden, batch["attention_mask"]))
        pooler = model.base_model.pooler
        # The frozen pooler may be stored in bf16 (LST backbone_dtype=bf16); the head trains in fp32.
        pooled = hidden[:, 0] if pooler is None else pooler(hidden.to(pooler.dense.weight.dtype)).to(hidden.dtype)
        return self._head(model, pooled)

    def layer_roles(self, stack):
        return {
            **linear_roles("attention.self.query", "QK", "R"),
            **linear_roles("attention.self.key", "QK", "R"),
            **linear_roles("attention.self.value", "VO", "R"),
            **linear_roles("attention.output.dense", "R", "VO"),
            **norm_roles("attention.output.LayerNorm"),
            **linear_roles("intermediate.dense", "F", "R"),
            **linear_roles("output.dense", "R", "F"),
            **norm_roles("output.LayerNorm"),
        }
