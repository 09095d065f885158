"""What the engine must know about an architecture family, in one place per family.

Methods (``ladderlab.methods``) are written once against this interface; a family file says, for its
architecture, how to build the task model, turn a batch into logits, where the layers are, which modules
LoRA and Adapters target, and how to build and run a Ladder Side-Tuning side network of its own blocks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification

from ..data.types import TaskSpec
from ..errors import BadInput

# Axis roles for structural pruning (see methods/lst/pruning.py):
#   "R"  the residual stream of the stack        "F"  the feed-forward inner dimension
#   "QK" per-head query/key dims (shared choice)  "VO" per-head value/output dims
#   "RX" the other stack's residual (T5 decoder cross-attention reads the encoder)
#   None keep the whole axis (e.g. relative-attention buckets, heads)
Roles = tuple  # one role (or None) per tensor axis, in the tensor's own axis order

# A transformers model of the family, possibly wrapped by PEFT, or one of its side stacks. Family code reaches
# into the architecture's own submodules (model.transformer.h, model.encoder.block, side["encoder"].layer),
# which nn.Module's typing cannot name (its attribute access is typed Tensor | Module): hence Any.
ArchModule = Any


@dataclass(frozen=True)
class StackInfo:
    name: str  # "encoder" or "decoder"
    layers: nn.ModuleList  # the backbone's blocks of this stack
    module: nn.Module  # the stack itself (holds e.g. T5's final layer norm); same parameter names in the side


class Family:
    """Base class; each family module defines one subclass and registers it in families/__init__.py."""

    name: str = ""
    model_types: tuple[str, ...] = ()
    lora_targets: tuple[str, ...] = ()  # default PEFT target module names (attention query/value)
    adapter_points: tuple[str, ...] = ()  # module-name suffixes whose outputs get a Houlsby adapter
    # cross-attention outputs (encoder-decoders): adapters there only with adapter_placement=every_sublayer
    adapter_cross_points: tuple[str, ...] = ()
    lora_bias: str = "none"  # what lora_bias=auto means on this family
    head_modules: tuple[str, ...] = ()  # trainable task head (names of submodules of the task model)
    poolings: tuple[str, ...] = ()  # what the head may read (experiment field pooling; pooling.py); () = no choice
    peft_task_type: str = "SEQ_CLS"
    padding_side: str = "right"

    # -- task model ---------------------------------------------------------------------------------
    def task_model_from_pretrained(self, folder: str, spec: TaskSpec, tokenizer) -> nn.Module:
        raise NotImplementedError

    def task_model_from_config(self, config, spec: TaskSpec, tokenizer) -> nn.Module:
        raise NotImplementedError

    def logits(self, model: ArchModule, batch: dict) -> torch.Tensor:
        """(B, num_labels) for classification, (B,) for regression. ``model`` may be PEFT-wrapped."""
        raise NotImplementedError

    def prompt_logits(self, model: ArchModule, batch: dict) -> torch.Tensor:
        """Logits under PEFT prompt tuning (``model`` is the PEFT model). PEFT's own forward serves families whose
        head reads the whole sequence (T5's decoder); the others read a position the prompts move (see
        ``prompted_inputs``) and override this."""
        return self.logits(model, batch)

    def hidden_size(self, config) -> int:
        return config.hidden_size  # transformers maps the standard name to each config's own (d_model, n_embd)

    def stacks(self, model: ArchModule) -> list[StackInfo]:
        raise NotImplementedError

    def embeddings(self, model: ArchModule) -> list[nn.Module]:
        """What runs before the first block: token (and position) embeddings and their norm (freeze_layers)."""
        raise NotImplementedError

    # -- Ladder Side-Tuning -------------------------------------------------------------------------
    def side_config(self, config, r: int, n_layers: int, heads: int | None):
        """The backbone's config with widths divided by r (BadInput if r does not divide them)."""
        raise NotImplementedError

    def build_side_stacks(self, side_config) -> nn.ModuleDict:
        """One side module per stack, of the backbone's own block type; they take ``inputs_embeds``."""
        raise NotImplementedError

    def side_layers(self, side_stack: ArchModule) -> nn.ModuleList:
        raise NotImplementedError

    def run_backbone(self, model: ArchModule, batch: dict) -> None:
        """Forward the frozen backbone far enough to fire every tap (the caller holds no_grad)."""
        raise NotImplementedError

    def run_side(self, side: ArchModule, inputs: dict[str, torch.Tensor], batch: dict) -> torch.Tensor:
        """Run the side stacks on their downsampled inputs; return the last side hidden states (B, L, d/r)."""
        raise NotImplementedError

    def side_head(self, model: ArchModule, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
        """Logits from upsampled side states (B, L, d) through the task head."""
        raise NotImplementedError

    def layer_roles(self, stack: str) -> dict[str, Roles]:
        """Parameter name inside one block -> roles of its axes, for pruning-based initialisation."""
        raise NotImplementedError

    def stack_extra_roles(self, stack: str) -> dict[str, Roles]:
        """Parameters of the stack outside its blocks (e.g. a final layer norm) -> axis roles."""
        return {}

    def heads(self, config) -> int:
        return config.num_attention_heads  # also a standard name every config maps (num_heads, n_head)

    def kv_heads(self, config) -> int:
        """Key/value heads: fewer than ``heads`` under grouped-query attention (Llama-class families)."""
        return self.heads(config)

    def peft_task(self, model: nn.Module) -> str:
        """PEFT's task type for this task model (a family with both classifiers and causal LMs overrides it)."""
        return self.peft_task_type

    def dropout(self, config) -> float:
        raise NotImplementedError


def task_kwargs(spec: TaskSpec) -> dict:
    """A sequence classifier's config fields for the task: its label count and problem type."""
    return {
        "num_labels": spec.num_labels,
        "problem_type": "regression" if spec.is_regression else "single_label_classification",
    }


def classifier_from_pretrained(folder: str, spec: TaskSpec, **config_fields) -> nn.Module:
    """The checkpoint with transformers' sequence-classification head for the task (a new, trainable layer)."""
    return AutoModelForSequenceClassification.from_pretrained(
        folder, dtype=torch.float32, **task_kwargs(spec), **config_fields
    )


def classifier_from_config(config, spec: TaskSpec, **config_fields) -> nn.Module:
    """The same, randomly initialised from a config (presets, and the estimator's fake tensors)."""
    config = copy.deepcopy(config)
    for k, v in {**task_kwargs(spec), **config_fields}.items():
        setattr(config, k, v)
    return AutoModelForSequenceClassification.from_config(config)


def check_side_widths(r: int, heads: int, widths: dict[str, int], attention: str) -> None:
    """The side network is the backbone at 1/r width: BadInput unless r divides every one of ``widths`` and the
    side's attention width (``widths[attention]`` / r) splits evenly into ``heads`` heads."""
    if any(w % r for w in widths.values()):
        named = ", ".join(f"{name} {w}" for name, w in widths.items())
        common = ", ".join(str(d) for d in (2, 4, 8, 16, 32) if all(w % d == 0 for w in widths.values()))
        raise BadInput(
            f"r={r} does not divide the backbone's width ({named})",
            f"choose r among the common divisors, e.g. {common}",
        )
    side = widths[attention] // r
    if side % heads:
        raise BadInput(
            f"the side attention width {side} (= {widths[attention]}/r) is not divisible by {heads} heads",
            f"choose a smaller r or set side_heads to a divisor of {side}",
        )


def linear_roles(name: str, out_role: str, in_role: str) -> dict[str, Roles]:
    """The roles of a torch Linear's parameters: weight (out, in), bias (out,)."""
    return {f"{name}.weight": (out_role, in_role), f"{name}.bias": (out_role,)}


def norm_roles(name: str) -> dict[str, Roles]:
    """The roles of a layer norm's parameters: both run along the residual stream."""
    return {f"{name}.weight": ("R",), f"{name}.bias": ("R",)}


def prompted_inputs(model: ArchModule, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The input PEFT prompt tuning gives the backbone, built as PEFT's own forward builds it: the prompt vectors
    before the token embeddings, the attention mask with ones for them, token types with zeros for them. PEFT then
    calls the task model, whose head reads a fixed position (BERT's pooler reads position 0, now a prompt vector):
    families that need the real tokens' positions run their backbone on this input themselves."""
    embeds = model.word_embeddings(batch["input_ids"])
    n_rows = embeds.shape[0]
    prompts = model.get_prompt(batch_size=n_rows).to(embeds.dtype)
    n = prompts.shape[1]
    mask = batch["attention_mask"]
    mask = torch.cat([mask.new_ones(n_rows, n), mask], dim=1)
    token_types = batch.get("token_type_ids")
    if token_types is not None:
        token_types = torch.cat([token_types.new_zeros(n_rows, n), token_types], dim=1)
    return torch.cat([prompts, embeds], dim=1), mask, token_types


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, L, d) states averaged over each row's real tokens (``mask`` (B, L) is 1 there): (B, d)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


def squeeze_regression(logits: torch.Tensor) -> torch.Tensor:
    """(B, 1) -> (B,) for regression heads; classification logits pass unchanged."""
    return logits.squeeze(-1) if logits.shape[-1] == 1 else logits
