"""Llama-class decoder LLMs (Llama 2/3, Qwen2/2.5/3, Mistral, Gemma 1/2/3) through transformers' own model classes.

Two task models: causal-LM instruction tuning (``--task instruct``: ``AutoModelForCausalLM``, the frozen LM head;
in training its logits only where the loss reads them, ``LOSS_POSITIONS``) and classification
(``AutoModelForSequenceClassification``: a new, trainable ``score`` on the last real token). Batches are LEFT-padded
and position ids count from each row's first real token, so rotary positions ignore the padding; generation
(``generate_ids``) appends to the right with the KV cache.

The LST side network is the backbone's own base model class (LlamaModel, Qwen2Model, ...) at 1/r width: every
attention head kept, with head dimension d_head/r, the grouped-query key/value heads kept (so the side shares the
backbone's GQA ratio), rotary embeddings built by the side's own rotary module at d_head/r, RMSNorm, the gated
FFN at intermediate/r. It reads the downsampled backbone embeddings (no token embedding of its own). For causal-LM
the side's last state (after its own final RMSNorm, which the pruning init copies from the backbone's ``norm``) is
upsampled to the backbone width and read by the FROZEN LM head, as the LST paper does with T5's LM head; for
classification the trainable ``score`` reads the upsampled last position.

A batch may carry ``backbone_cache`` / ``side_cache`` (``DynamicCache``): then only its new tokens run, appended to
the caches (greedy decoding, ``generate_ids``); the attention mask covers the cached tokens and the new ones.
"""

from __future__ import annotations

import copy
import inspect
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import AutoModelForCausalLM, DynamicCache, LlamaModel, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_MAPPING

from ..data.instruct import is_instruct
from ..errors import BadInput
from .base import (
    ArchModule,
    Family,
    StackInfo,
    check_side_widths,
    classifier_from_config,
    classifier_from_pretrained,
    linear_roles,
    squeeze_regression,
)

# transformers 5.2x renamed the models' ``past_key_values`` argument to ``cache`` (the old name warns, then goes).
CACHE_ARG = "cache" if "cache" in inspect.signature(LlamaModel.forward).parameters else "past_key_values"
BACKBONE_CACHE, SIDE_CACHE = "backbone_cache", "side_cache"
# A batch key: the flat indices (N,) into (B * L) of the positions whose logits the loss reads (``labels`` set). The
# training step adds it (step.py); without it the head runs at every position (evaluation, generation, pruning init).
LOSS_POSITIONS = "loss_positions"
# With it, the (N,) next tokens at LOSS_POSITIONS: the family then returns the loss itself (``head_loss``), never the
# (N, vocabulary) logits, whose fp32 copies in the cross-entropy are GiBs at 128k-256k vocabularies.
LOSS_TARGETS = "loss_targets"
LOGITS_PER_CHUNK = 2**24  # logits alive at once in ``head_loss``: 64 MiB in fp32 (130 positions at Llama 3's 128k)


def _positions(attention_mask: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """Rotary positions of the last ``new_tokens`` columns: 0 at each row's first real token (left padding)."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -new_tokens:]


def _run_kwargs(batch: dict, cache_key: str, new_tokens: int) -> dict:
    """What a transformers decoder call gets besides its input: mask, positions, and the cache when decoding."""
    mask, cache = batch["attention_mask"], batch.get(cache_key)
    kwargs = {"attention_mask": mask, "position_ids": _positions(mask, new_tokens), "use_cache": cache is not None}
    if cache is not None:
        kwargs[CACHE_ARG] = cache
    return kwargs


def _softcap(model, logits: torch.Tensor) -> torch.Tensor:
    cap = getattr(model.config, "final_logit_softcapping", None)  # Gemma 2/3, as their CausalLM forward
    return logits if cap is None else torch.tanh(logits / cap) * cap


def head_loss(head, vocabulary: int, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy (fp32, as step.loss_for) of ``head(hidden)`` (N, d) -> (N, vocabulary) against the
    ``targets`` (N,), computed a chunk of positions at a time, each chunk checkpointed: its logits are freed after its
    loss and recomputed in the backward, so one chunk's logits live at a time (the "cut cross-entropy" idea). The loss
    and gradients equal the unchunked ones (tests/test_estimate_llm.py)."""
    size = max(1, LOGITS_PER_CHUNK // vocabulary)

    def chunk_loss(h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(head(h).float(), t, reduction="sum")

    chunks = zip(hidden.split(size), targets.split(size), strict=True)
    total = sum(
        (checkpoint(chunk_loss, h, t, use_reentrant=False) for h, t in chunks),
        hidden.new_zeros((), dtype=torch.float32),
    )
    return cast(torch.Tensor, total) / targets.numel()


def _is_prompt_learning(model) -> bool:
    """PEFT's prompt methods prepend virtual tokens inside their own forward: that forward must run."""
    config = getattr(model, "active_peft_config", None)
    return bool(getattr(config, "is_prompt_learning", False))


def is_causal_lm(model) -> bool:
    """The instruction-tuning task model (an LM head) rather than a classifier (a ``score`` head)."""
    return getattr(model, "lm_head", None) is not None


class LlamaFamily(Family):
    name = "llama"
    model_types = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text")
    lora_targets = ("q_proj", "v_proj")  # as PEFT's own default for these architectures
    adapter_points = ("self_attn.o_proj", "mlp.down_proj")  # after self-attention and after the FFN
    head_modules = ("score",)  # classification's new head; absent (LM head frozen) for causal-LM
    peft_task_type = "SEQ_CLS"
    padding_side = "left"
    side_checkpointing_auto = True  # LST's side blocks recompute in the backward (side_checkpointing=auto)
    logits_at_loss_positions = True  # causal LM: the LM head only where the loss reads (LOSS_POSITIONS, step.py)

    def peft_task(self, model):
        return "CAUSAL_LM" if is_causal_lm(model) else "SEQ_CLS"

    def task_model_from_pretrained(self, folder, spec, tokenizer):
        if is_instruct(spec):
            return AutoModelForCausalLM.from_pretrained(
                folder, dtype=torch.float32, pad_token_id=tokenizer.pad_token_id
            )
        return classifier_from_pretrained(folder, spec, pad_token_id=tokenizer.pad_token_id)

    def task_model_from_config(self, config, spec, tokenizer):
        if is_instruct(spec):
            config = copy.deepcopy(config)
            config.pad_token_id = tokenizer.pad_token_id
            return AutoModelForCausalLM.from_config(config)
        return classifier_from_config(config, spec, pad_token_id=tokenizer.pad_token_id)

    def logits(self, model, batch):
        """(B, L, vocabulary) for causal-LM (every position: ``labels`` are the next tokens, data/instruct.py), or
        (N, vocabulary) at the N ``LOSS_POSITIONS`` when the batch names them (the LM head runs only where the loss
        reads it), or in training (``LOSS_TARGETS`` too) the loss itself, chunked (``head_loss``); else the score head's
        (B, K) on the last real token (transformers' classifier finds it; with left padding it is the last position)."""
        ids = batch["input_ids"]
        kwargs = _run_kwargs(batch, BACKBONE_CACHE, ids.shape[1])
        positions = batch.get(LOSS_POSITIONS)
        if positions is not None and is_causal_lm(model) and not _is_prompt_learning(model):
            # the decoder alone (get_decoder reaches it through a PEFT wrapper), then the head at the loss's positions
            hidden = model.get_decoder()(input_ids=ids, **kwargs).last_hidden_state.flatten(0, 1)[positions]
            if LOSS_TARGETS in batch:
                vocabulary = model.lm_head.weight.shape[0]
                return head_loss(lambda h: _softcap(model, model.lm_head(h)), vocabulary, hidden, batch[LOSS_TARGETS])
            return _softcap(model, model.lm_head(hidden))
        logits = model(input_ids=ids, **kwargs).logits
        return logits if logits.dim() == 3 else squeeze_regression(logits)

    def dropout(self, config):
        return float(getattr(config, "attention_dropout", 0.0))

    def heads(self, config):
        return config.num_attention_heads

    def kv_heads(self, config):
        return getattr(config, "num_key_value_heads", None) or config.num_attention_heads

    def stacks(self, model):
        return [StackInfo("decoder", model.model.layers, model.model)]

    def embeddings(self, model):
        return [model.model.embed_tokens]  # rotary positions have no weights

    # -- LST ----------------------------------------------------------------------------------------
    def side_config(self, config, r, n_layers, heads):
        d, h, kv = config.hidden_size, config.num_attention_heads, self.kv_heads(config)
        head_dim = getattr(config, "head_dim", None) or d // h
        if heads not in (None, h):
            raise BadInput(
                f"side_heads {heads}: on {config.model_type} the side network keeps the backbone's {h} attention "
                f"heads and {kv} key/value heads (grouped-query attention), dividing each head's dimension by r",
                "remove side_heads",
            )
        widths = {"hidden": d, "intermediate": config.intermediate_size, "attention": h * head_dim}
        check_side_widths(r, h, widths, attention="attention")
        if (head_dim // r) % 2:
            raise BadInput(
                f"the side head dimension {head_dim // r} (= {head_dim}/r) is odd; rotary embeddings rotate pairs",
                f"choose r dividing {head_dim // 2}",
            )
        side = copy.deepcopy(config)
        side.hidden_size, side.intermediate_size, side.head_dim = d // r, config.intermediate_size // r, head_dim // r
        side.num_hidden_layers, side.num_attention_heads, side.num_key_value_heads = n_layers, h, kv
        if getattr(side, "query_pre_attn_scalar", None) is not None:  # Gemma 2/3 scale q·k by this^-0.5
            side.query_pre_attn_scalar = head_dim // r  # 1/sqrt(the side's head dim), as the other families'
        if getattr(side, "layer_types", None) is not None:  # Qwen2/3, Gemma 2/3: one attention type per layer
            side.layer_types = list(side.layer_types[:n_layers])
        # no token embedding (the side reads downsampled backbone embeddings): a one-row table, then dropped
        side.vocab_size, side.pad_token_id = 1, None
        side.attention_dropout = 0.0
        side.tie_word_embeddings = False
        side.use_cache = False
        return side

    def build_side_stacks(self, side_config):
        # the backbone's own base class: LlamaModel, Qwen2Model, ...
        base_class = cast("type[PreTrainedModel]", MODEL_MAPPING[type(side_config)])
        if side_config._attn_implementation == "sdpa" and not base_class._supports_sdpa:
            side_config._attn_implementation = "eager"  # Gemma 2's soft-capped attention has no SDPA path
        side: ArchModule = base_class(side_config)
        side.embed_tokens = None
        return nn.ModuleDict({"decoder": side})

    def side_layers(self, side_stack):
        return side_stack.layers

    def run_backbone(self, model, batch):
        ids = batch["input_ids"]
        model.model(input_ids=ids, **_run_kwargs(batch, BACKBONE_CACHE, ids.shape[1]))  # the taps are what we need

    def run_side(self, side, inputs, batch):
        embeds = inputs["decoder"]
        return side["decoder"](
            inputs_embeds=embeds, **_run_kwargs(batch, SIDE_CACHE, embeds.shape[1])
        ).last_hidden_state

    def side_head(self, model, hidden, batch):
        if is_causal_lm(model):  # the frozen LM head, in its own dtype (a bf16 backbone keeps it bf16)
            positions = batch.get(LOSS_POSITIONS)
            if positions is not None:  # training: only where the loss reads, (N, d) -> (N, vocabulary)
                hidden = hidden.flatten(0, 1)[positions]
            weight, bias = model.lm_head.weight, model.lm_head.bias

            def head(h):
                return _softcap(model, F.linear(h.to(weight.dtype), weight, bias).to(h.dtype))

            if LOSS_TARGETS in batch:
                return head_loss(head, weight.shape[0], hidden, batch[LOSS_TARGETS])
            return head(hidden)
        return squeeze_regression(model.score(hidden[:, -1]))  # left padding: the last real token

    def layer_roles(self, stack):
        # "Q"/"O": per query head; "QK"/"VO": per key/value head (pruning.py folds each query head's scores into
        # its key/value head's, so a group of query heads keeps the dims its shared key/value head keeps).
        a = "self_attn."
        return {
            "input_layernorm.weight": ("R",),
            **linear_roles(a + "q_proj", "Q", "R"),
            **linear_roles(a + "k_proj", "QK", "R"),
            **linear_roles(a + "v_proj", "VO", "R"),
            **linear_roles(a + "o_proj", "R", "O"),
            "post_attention_layernorm.weight": ("R",),
            "pre_feedforward_layernorm.weight": ("R",),  # Gemma 2/3 also normalise around the FFN
            "post_feedforward_layernorm.weight": ("R",),
            **linear_roles("mlp.gate_proj", "F", "R"),
            **linear_roles("mlp.up_proj", "F", "R"),
            **linear_roles("mlp.down_proj", "R", "F"),
        }

    def stack_extra_roles(self, stack):
        return {"norm.weight": ("R",)}


@torch.no_grad()
def generate_ids(
    method_model, batch: dict, max_new_tokens: int, eos_id: int, pad_id: int, on_token=None
) -> torch.Tensor:
    """Greedy decoding of left-padded prompts through the method's own forward with key/value caches: the prompt
    runs once, then one token per step (LST: the backbone and the side network each keep their cache). Returns the
    generated ids (B, <= max_new_tokens), ``pad_id`` after each row's end token. ``on_token(ids)``, if given, gets the
    ids so far (B, n) after each step (Try Model streams them)."""
    config = method_model.model.config
    caches = {BACKBONE_CACHE: DynamicCache(config=config), SIDE_CACHE: DynamicCache()}
    ids, mask = batch["input_ids"], batch["attention_mask"]
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    out = []
    step = {"input_ids": ids, "attention_mask": mask, **caches}
    for _ in range(max_new_tokens):
        token = method_model(step)[:, -1].argmax(-1).masked_fill(done, pad_id)
        out.append(token)
        if on_token is not None:
            on_token(torch.stack(out, dim=1))
        done |= token == eos_id
        if bool(done.all()):
            break
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        step = {"input_ids": token[:, None], "attention_mask": mask, **caches}
    return torch.stack(out, dim=1) if out else ids.new_zeros(ids.shape[0], 0)
