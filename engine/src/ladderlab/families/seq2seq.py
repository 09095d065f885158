"""Encoder-decoder backbones (T5), used text-to-text as in the LST paper, in one of two ways (``t5_format``):

- the paper's (default): a batch whose ``labels`` are target token ids (B, T) (``data/text2text.py`` writes them)
  is decoded with teacher forcing, and ``logits`` are the vocabulary logits of every target position (B, T, V);
  the loss is per-token cross-entropy and evaluation generates text (``generate_ids``). A batch may instead carry
  ``decoder_input_ids`` (the tokens generated so far), which the greedy decoder uses.
- label words: a class is a single-token verbalizer. The first decoder step (decoder input = the start token) gives
  vocabulary logits through the FROZEN LM head, and the task logits are those of the label words' first tokens
  ("negative", "positive", "not equivalent", ...). The token ids live on the task model as a non-persistent buffer
  ``label_token_ids``, so they follow .to(device) and PEFT wrappers forward the attribute to the model they wrap.
  Regression (STS-B) reads one fixed token's logit as the score (REGRESSION_WORD). One forward, no generation.

The LST side network is a pair of T5Stacks (encoder, decoder) at 1/r width without token embeddings; the side
decoder cross-attends to the SIDE encoder's output, and its states go through the frozen LM head. t5_side.py runs
them with fused norms and an attention that keeps no batch-sized attention tensor for backward.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModelForSeq2SeqLM

from ..data.text2text import LABEL_PAD
from ..errors import BadInput
from . import t5_side
from .base import ArchModule, Family, StackInfo, check_side_widths, squeeze_regression

# Regression score = the logit of this word's first token. The LM head is frozen, so the score is one fixed
# linear read-out of the last decoder state (the word's embedding row); any word works, and one whose meaning
# grows with the target ("similar" for STS-B's similarity) starts from a pretrained signal in that direction.
REGRESSION_WORD = "similar"

_FF = "DenseReluDense."  # T5's FFN; gated checkpoints (T5 v1.1, flan-t5) have wi_0/wi_1 instead of wi
_ATTN = ("q.weight", "QK", "R"), ("k.weight", "QK", "R"), ("v.weight", "VO", "R"), ("o.weight", "R", "VO")


def _first_token(tokenizer, word: str) -> int | None:
    """The first token of ``word`` that carries text (SentencePiece may split off a bare '▁' piece first)."""
    for token in tokenizer(word, add_special_tokens=False)["input_ids"]:
        if tokenizer.decode([token]).strip():
            return token
    return None


def attach_label_tokens(model: nn.Module, spec, tokenizer) -> nn.Module:
    words = [REGRESSION_WORD] if spec.is_regression else [label.replace("_", " ") for label in spec.labels]
    ids = [_first_token(tokenizer, w) for w in words]
    clashes = [label for label, i in zip(spec.labels or words, ids, strict=True) if i is None or ids.count(i) > 1]
    if clashes:
        raise BadInput(
            f"the labels {', '.join(clashes)} do not start with distinct tokens in this backbone's "
            "tokenizer; the text-to-text classifier scores each class by its label's first token",
            "rename the labels so that each starts with a different word",
        )
    model.register_buffer("label_token_ids", torch.tensor(ids), persistent=False)
    return model


def _label_ids(model: ArchModule) -> torch.Tensor:
    try:
        return model.label_token_ids  # a PeftModel forwards unknown attributes down to the wrapped model
    except AttributeError:
        raise RuntimeError("T5 task model without label_token_ids: build it with the family's task_model_*") from None


def _start_token(config) -> int:
    # T5 starts decoding from its pad token; transformers 5 configs built in code may lack decoder_start_token_id.
    start = getattr(config, "decoder_start_token_id", None)
    return config.pad_token_id if start is None else start


def _start_ids(config, input_ids: torch.Tensor) -> torch.Tensor:
    return input_ids.new_full((input_ids.shape[0], 1), _start_token(config))


def _targets(batch: dict) -> torch.Tensor | None:
    """Target token ids (B, T) of a text-to-text batch; None for label-word batches (class indices or scores, (B,))."""
    labels = batch.get("labels")
    return labels if labels is not None and labels.dim() == 2 else None


def _token_level(batch: dict) -> bool:
    """Whether the batch is decoded token by token (the paper's format) rather than scored by label words."""
    return "decoder_input_ids" in batch or _targets(batch) is not None


def _decoder_ids(config, batch: dict) -> torch.Tensor:
    """What the decoder reads: the tokens generated so far, else the targets shifted right behind the start token
    (teacher forcing, as T5ForConditionalGeneration does with labels), else the start token alone."""
    if "decoder_input_ids" in batch:
        return batch["decoder_input_ids"]
    targets = _targets(batch)
    if targets is None:
        return _start_ids(config, batch["input_ids"])
    shifted = torch.cat([_start_ids(config, targets), targets[:, :-1]], dim=1)
    return shifted.masked_fill(shifted == LABEL_PAD, config.pad_token_id)


def _roles(prefix: str, kv_axis: str = "R") -> dict:
    roles = {}
    for name, out_role, in_role in _ATTN:
        in_role = kv_axis if name[0] in "kv" else in_role  # cross-attention keys/values read the encoder
        roles[prefix + name] = (out_role, in_role)
    return roles


class Seq2SeqFamily(Family):
    name = "seq2seq"
    model_types = ("t5",)
    lora_targets = ("q", "v")
    # After self-attention and the FFN, as the LST paper's Adapter baseline (Table 1: 1.63% of T5-base); after
    # cross-attention too only on request. The FFN is layer.1 in encoder blocks and layer.2 in decoder blocks;
    # the adapter code skips the paths a block lacks.
    adapter_points = ("layer.0.SelfAttention.o", "layer.1.DenseReluDense.wo", "layer.2.DenseReluDense.wo")
    adapter_cross_points = ("layer.1.EncDecAttention.o",)
    # The LST authors' LoRA baseline trains BitFit's biases as well (their lora.json sets bitfit), which is how
    # Table 1 reaches 1.71% of T5-base; LoRA matrices alone are 1.59%.
    lora_bias = "all"
    head_modules = ()  # the LM head stays frozen (as in the paper); only full fine-tuning trains it
    peft_task_type = "SEQ_2_SEQ_LM"

    def task_model_from_pretrained(self, folder, spec, tokenizer):
        model = AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32)
        return attach_label_tokens(model, spec, tokenizer)

    def task_model_from_config(self, config, spec, tokenizer):
        return attach_label_tokens(AutoModelForSeq2SeqLM.from_config(copy.deepcopy(config)), spec, tokenizer)

    def logits(self, model, batch):
        out = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            decoder_input_ids=_decoder_ids(model.config, batch),
            use_cache=False,
        )
        if _token_level(batch):
            return out.logits  # (B, T, vocabulary)
        return squeeze_regression(out.logits[:, 0, :].index_select(-1, _label_ids(model)))

    def dropout(self, config):
        return config.dropout_rate

    def stacks(self, model):
        return [
            StackInfo("encoder", model.encoder.block, model.encoder),
            StackInfo("decoder", model.decoder.block, model.decoder),
        ]

    def embeddings(self, model):
        return [model.shared]  # both stacks' token embeddings (and, tied, the LM head); positions are in block 0

    # -- LST ----------------------------------------------------------------------------------------
    def side_config(self, config, r, n_layers, heads):
        d, ff, inner = config.d_model, config.d_ff, config.num_heads * config.d_kv
        h = heads or config.num_heads
        check_side_widths(r, h, {"d_model": d, "d_ff": ff, "attention": inner}, attention="attention")
        side = copy.deepcopy(config)
        side.d_model, side.d_ff = d // r, ff // r
        side.num_heads, side.d_kv = h, inner // r // h  # = d_kv/r with the backbone's heads
        side.num_layers = side.num_decoder_layers = n_layers
        side.use_cache = False
        return side

    def build_side_stacks(self, side_config):
        stacks = {}
        for name in ("encoder", "decoder"):
            config = copy.deepcopy(side_config)
            config.is_decoder = name == "decoder"
            stack = t5_side.SideT5Stack(config)  # no token embeddings; fused norms, FFN and attention
            # T5Stack also applies dropout_rate to that input, after the ladder's dropout on the embedding tap:
            # T5 has one rate for every sublayer, so the side input sees dropout twice.
            stacks[name] = stack
        return nn.ModuleDict(stacks)

    def side_layers(self, side_stack):
        return side_stack.block

    def run_backbone(self, model, batch):
        ids, mask = batch["input_ids"], batch["attention_mask"]
        encoded = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        model.decoder(
            input_ids=_decoder_ids(model.config, batch),
            encoder_hidden_states=encoded,
            encoder_attention_mask=mask,
            use_cache=False,
        )

    def run_side(self, side, inputs, batch):
        mask = batch["attention_mask"]
        encoded = side["encoder"](inputs_embeds=inputs["encoder"], attention_mask=mask).last_hidden_state
        return side["decoder"](
            inputs_embeds=inputs["decoder"], encoder_hidden_states=encoded, encoder_attention_mask=mask
        ).last_hidden_state

    def side_head(self, model, hidden, batch):
        token_level = _token_level(batch)
        h = hidden if token_level else hidden[:, 0]
        if getattr(model.config, "scale_decoder_outputs", model.config.tie_word_embeddings):
            h = h * model.config.d_model**-0.5  # as T5ForConditionalGeneration does before its tied LM head
        head = model.lm_head  # frozen
        if token_level:  # every target position over the whole vocabulary, in the head's own dtype
            return F.linear(h.to(head.weight.dtype), head.weight, head.bias).to(h.dtype)
        ids = _label_ids(model)  # label words: only the label rows are needed, not the whole vocabulary
        bias = head.bias.index_select(0, ids).to(h.dtype) if head.bias is not None else None
        # .to: the frozen head may be stored in bf16 (LST backbone_dtype=bf16); two rows cast, not the vocabulary
        return squeeze_regression(F.linear(h, head.weight.index_select(0, ids).to(h.dtype), bias))

    def layer_roles(self, stack):
        roles = {**_roles("layer.0.SelfAttention."), "layer.0.layer_norm.weight": ("R",)}
        ff = 1
        if stack == "decoder":
            roles.update(_roles("layer.1.EncDecAttention.", kv_axis="RX"))
            roles["layer.1.layer_norm.weight"] = ("R",)
            ff = 2
        p = f"layer.{ff}."
        roles.update(
            {
                p + _FF + "wi.weight": ("F", "R"),
                p + _FF + "wi_0.weight": ("F", "R"),
                p + _FF + "wi_1.weight": ("F", "R"),
                p + _FF + "wo.weight": ("R", "F"),
                p + "layer_norm.weight": ("R",),
            }
        )
        return roles

    def stack_extra_roles(self, stack):
        return {"final_layer_norm.weight": ("R",)}


@torch.no_grad()
def generate_ids(method_model: ArchModule, batch: dict, max_new_tokens: int, eos_id: int, own_forward: bool):
    """Greedy decoding of a text-to-text batch: the generated ids (B, <= max_new_tokens), without the start token,
    padded after each example's end token.

    ``own_forward`` False: the method's output is the transformers (or PEFT) model's own (every method but LST), so
    its ``generate`` decodes (greedy, with its KV cache; PEFT adds prompt tuning's prompts). True (LST, whose output
    comes from its side network): the same greedy decoding, step by step through the method's forward, which runs
    the encoders again at each step: targets are a few tokens, so that costs a few forwards per batch."""
    config = method_model.model.config
    start, pad = _start_token(config), config.pad_token_id
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "reference")}
    if not own_forward:
        out = method_model.model.generate(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            eos_token_id=eos_id,
            pad_token_id=pad,
            decoder_start_token_id=start,
        )
        return out[:, 1:]
    ids = _start_ids(config, inputs["input_ids"])
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    for _ in range(max_new_tokens):
        step = method_model({**inputs, "decoder_input_ids": ids})[:, -1].argmax(-1).masked_fill(done, pad)
        ids = torch.cat([ids, step[:, None]], dim=1)
        done |= step == eos_id
        if bool(done.all()):
            break
    return ids[:, 1:]
