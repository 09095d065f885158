"""Decoder-only backbones (GPT-2), classifying from the last token's state.

Task head: transformers' GPT2ForSequenceClassification (a new, trainable ``score`` layer on the last real
token). Batches are LEFT-padded (``padding_side``), so the last position is always the last real token, and
position ids are counted from each row's first real token, so padding does not shift a pretrained model's
positions. The LST side network is a GPT2Model at 1/r width whose token and position embeddings add nothing:
it reads the downsampled backbone embeddings, which already carry the backbone's positions.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from transformers import GPT2Model

from .base import (
    Family,
    StackInfo,
    check_side_widths,
    classifier_from_config,
    classifier_from_pretrained,
    norm_roles,
    prompted_inputs,
    squeeze_regression,
)


class ZeroPositions(nn.Module):
    """Stands in for the side's ``wpe``: GPT2Model adds ``wpe(position_ids)`` to its input, and the side input
    (downsampled backbone embeddings) already holds positions. An expanded zero scalar allocates nothing; its
    buffer follows the side's dtype and device."""

    zero: torch.Tensor

    def __init__(self, width: int):
        super().__init__()
        self.width = width
        self.register_buffer("zero", torch.zeros(()), persistent=False)

    def forward(self, position_ids):
        return self.zero.expand(*position_ids.shape, self.width)


def _positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """0 at each row's first real token (left padding), as if the row were not padded; pads get 0."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def _conv1d_roles(name: str, in_role: str, out_role: str) -> dict[str, tuple]:
    """GPT-2's Conv1D stores its weight as (in, out), the transpose of a Linear's; the bias is (out,)."""
    return {f"{name}.weight": (in_role, out_role), f"{name}.bias": (out_role,)}


class DecoderFamily(Family):
    name = "decoder"
    model_types = ("gpt2",)
    lora_targets = ("c_attn",)  # fused q|k|v Conv1D; PEFT sets fan_in_fan_out for it
    adapter_points = ("attn.c_proj", "mlp.c_proj")  # after self-attention and after the FFN
    head_modules = ("score",)
    peft_task_type = "SEQ_CLS"
    padding_side = "left"

    def task_model_from_pretrained(self, folder, spec, tokenizer):
        # A GPT-2 checkpoint has no pad token of its own: give the one the tokenizer pads with (backbones.py).
        return classifier_from_pretrained(folder, spec, pad_token_id=tokenizer.pad_token_id)

    def task_model_from_config(self, config, spec, tokenizer):
        return classifier_from_config(config, spec, pad_token_id=tokenizer.pad_token_id)

    def logits(self, model, batch):
        mask = batch["attention_mask"]
        # token_type_ids are never passed: GPT-2 would add wte(token type) to its input.
        logits = model(
            input_ids=batch["input_ids"], attention_mask=mask, position_ids=_positions(mask), use_cache=False
        ).logits
        return squeeze_regression(logits)

    def prompt_logits(self, model, batch):
        """PEFT drops position ids under prompt tuning, so GPT-2 would count positions from the first prompt
        through the left padding: a row's first real token would sit at prompt_tokens + its padding. Here the
        positions run 0.. over the prompts and continue at the first real token, whatever the padding (masked
        pads between them are invisible to causal attention); the last position is still every row's last real
        token, which the score head reads."""
        embeds, mask, _ = prompted_inputs(model, batch)
        task_model = model.base_model  # the transformers classifier PEFT wraps; its score is PEFT's copy
        hidden = task_model.transformer(
            inputs_embeds=embeds, attention_mask=mask, position_ids=_positions(mask), use_cache=False
        ).last_hidden_state
        return squeeze_regression(task_model.score(hidden[:, -1]))

    def dropout(self, config):
        return config.embd_pdrop

    def stacks(self, model):
        return [StackInfo("decoder", model.transformer.h, model.transformer)]

    def embeddings(self, model):
        return [model.transformer.wte, model.transformer.wpe]

    # -- LST ----------------------------------------------------------------------------------------
    def side_config(self, config, r, n_layers, heads):
        d, h = config.n_embd, heads or config.n_head
        ff = config.n_inner or 4 * d
        check_side_widths(r, h, {"hidden": d, "feed-forward": ff}, attention="hidden")
        side = copy.deepcopy(config)
        side.n_embd, side.n_inner, side.n_layer, side.n_head = d // r, ff // r, n_layers, h
        # No attention-probability dropout (see encoder.py: SDPA then keeps no B x heads x L x L maps), and no
        # embedding dropout: the ladder already applies dropout to the side input.
        side.attn_pdrop = side.embd_pdrop = 0.0
        side.use_cache = False
        return side

    def build_side_stacks(self, side_config):
        side = GPT2Model(side_config)
        side.wte = None  # only used for input_ids / token_type_ids, which the side never gets (vocab x d/r waste)
        side.register_module("wpe", ZeroPositions(side_config.n_embd))
        return nn.ModuleDict({"decoder": side})

    def side_layers(self, side_stack):
        return side_stack.h

    def run_backbone(self, model, batch):
        mask = batch["attention_mask"]
        model.transformer(
            input_ids=batch["input_ids"], attention_mask=mask, position_ids=_positions(mask), use_cache=False
        )

    def run_side(self, side, inputs, batch):
        mask = batch["attention_mask"]
        return side["decoder"](
            inputs_embeds=inputs["decoder"], attention_mask=mask, position_ids=_positions(mask), use_cache=False
        ).last_hidden_state

    def side_head(self, model, hidden, batch):
        logits = model.score(hidden[:, -1])  # left padding: the last position is every row's last real token
        return squeeze_regression(logits)

    def layer_roles(self, stack):
        return {
            **norm_roles("ln_1"),
            **_conv1d_roles("attn.c_attn", "R", "QKV"),
            **_conv1d_roles("attn.c_proj", "VO", "R"),
            **norm_roles("ln_2"),
            **_conv1d_roles("mlp.c_fc", "R", "F"),
            **_conv1d_roles("mlp.c_proj", "F", "R"),
        }

    def stack_extra_roles(self, stack):
        return norm_roles("ln_f")
