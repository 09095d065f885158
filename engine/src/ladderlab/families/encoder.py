"""Encoder-only backbones (BERT family; the embedded default all-MiniLM-L6-v2 is a BERT).

Task head: the backbone's pooler ([CLS] -> dense -> tanh) and a new, trainable classification layer,
as in transformers' BertForSequenceClassification. The LST side network is a BertModel of the same
class at 1/r width whose embedding layer is a pass-through: it reads the downsampled backbone embeddings.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification

from ..data.types import TaskSpec
from ..errors import BadInput
from .base import Family, StackInfo, squeeze_regression


class PassThroughEmbeddings(nn.Module):
    """Stands in for BertEmbeddings in the side network: the side input is already an embedding."""

    def forward(self, inputs_embeds=None, **_ignored):
        return inputs_embeds


def _task_kwargs(spec: TaskSpec) -> dict:
    return {"num_labels": spec.num_labels, "problem_type": "regression" if spec.is_regression else
            "single_label_classification"}


class EncoderFamily(Family):
    name = "encoder"
    model_types = ("bert",)
    lora_targets = ("query", "value")
    adapter_points = ("attention.output.dense", "output.dense")  # after self-attention and after the FFN
    head_modules = ("classifier",)
    peft_task_type = "SEQ_CLS"

    def task_model_from_pretrained(self, folder, spec, tokenizer):
        return AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32, **_task_kwargs(spec))

    def task_model_from_config(self, config, spec, tokenizer):
        config = copy.deepcopy(config)
        for k, v in _task_kwargs(spec).items():
            setattr(config, k, v)
        return AutoModelForSequenceClassification.from_config(config)

    def logits(self, model, batch):
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    token_type_ids=batch.get("token_type_ids"))
        return squeeze_regression(out.logits)

    def hidden_size(self, config):
        return config.hidden_size

    def heads(self, config):
        return config.num_attention_heads

    def dropout(self, config):
        return config.hidden_dropout_prob

    def stacks(self, model):
        return [StackInfo("encoder", model.base_model.encoder.layer, model.base_model.encoder)]

    # -- LST ----------------------------------------------------------------------------------------
    def side_config(self, config, r, n_layers, heads):
        d, ff, h = config.hidden_size, config.intermediate_size, heads or config.num_attention_heads
        if d % r or ff % r:
            raise BadInput(f"r={r} does not divide the backbone's width (hidden {d}, feed-forward {ff})",
                           f"choose r among the common divisors, e.g. {_divisors(d, ff)}")
        if (d // r) % h:
            raise BadInput(f"the side width {d // r} (= {d}/r) is not divisible by {h} attention heads",
                           f"choose a smaller r or set side_heads to a divisor of {d // r}")
        side = copy.deepcopy(config)
        side.hidden_size, side.intermediate_size = d // r, ff // r
        side.num_hidden_layers, side.num_attention_heads = n_layers, h
        # No dropout on attention probabilities in the side: it would force the attention kernel to keep the
        # B x heads x L x L maps for backward; without it SDPA keeps only its output and log-sum-exp.
        side.attention_probs_dropout_prob = 0.0
        return side

    def build_side_stacks(self, side_config):
        side = type_for(side_config)(side_config, add_pooling_layer=False)
        side.embeddings = PassThroughEmbeddings()
        return nn.ModuleDict({"encoder": side})

    def side_layers(self, side_stack):
        return side_stack.encoder.layer

    def run_backbone(self, model, batch):
        model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         token_type_ids=batch.get("token_type_ids"))

    def run_side(self, side, inputs, batch):
        return side["encoder"](inputs_embeds=inputs["encoder"], attention_mask=batch["attention_mask"]).last_hidden_state

    def side_head(self, model, hidden, batch):
        pooler = model.base_model.pooler
        if pooler is None:
            pooled = hidden[:, 0]
        else:  # the frozen pooler may be stored in bf16 (LST backbone_dtype=bf16); the head trains in fp32
            pooled = pooler(hidden.to(pooler.dense.weight.dtype)).to(hidden.dtype)
        logits = model.classifier(model.dropout(pooled))
        return squeeze_regression(logits)

    def layer_roles(self, stack):
        return {
            "attention.self.query.weight": ("QK", "R"), "attention.self.query.bias": ("QK",),
            "attention.self.key.weight": ("QK", "R"), "attention.self.key.bias": ("QK",),
            "attention.self.value.weight": ("VO", "R"), "attention.self.value.bias": ("VO",),
            "attention.output.dense.weight": ("R", "VO"), "attention.output.dense.bias": ("R",),
            "attention.output.LayerNorm.weight": ("R",), "attention.output.LayerNorm.bias": ("R",),
            "intermediate.dense.weight": ("F", "R"), "intermediate.dense.bias": ("F",),
            "output.dense.weight": ("R", "F"), "output.dense.bias": ("R",),
            "output.LayerNorm.weight": ("R",), "output.LayerNorm.bias": ("R",),
        }


def type_for(config):
    from transformers import AutoModel

    return AutoModel._model_mapping[type(config)]


def _divisors(*widths: int) -> str:
    return ", ".join(str(r) for r in (2, 4, 8, 16, 32) if all(w % r == 0 for w in widths))
