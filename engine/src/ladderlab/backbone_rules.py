"""The experiment's rules that depend on the backbone's shape, checked from its config alone (no weights, no data).

``validate`` (config.py) checks what needs nothing but the experiment; these need the backbone's config: LST's r
must divide the backbone's widths and leave whole attention heads, kept layers must exist, a pruning
initialisation keeps every head, and the baselines' freeze_layers must leave a layer to train. ``prepare``
(comparison.py) runs ``check_backbone`` right after reading the backbone's config, before any data is read or any
model built, so a bad r is refused in a second, not after the first methods of a comparison have trained. The
side-width rule is the family's own (``Family.side_config``), so it is stated once, where the side network is built;
the extension mirrors these rules in protocol/backboneRules.ts, and engine/tests/fixtures/backbone-rules.json holds
the cases both must agree on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from peft import LoraConfig
from peft.tuners.tuners_utils import check_target_module_exists
from torch import nn
from transformers.pytorch_utils import Conv1D

from .config import FIELDS
from .errors import FIELD_LABELS, BadInput, for_client
from .families import family_for
from .fields import info_of


@dataclass(frozen=True)
class Problem:
    field: str  # the experiment field to change
    message: str
    hint: str | None


def keep_layers_problem(keep_layers: list[int] | None, n_layers: int) -> Problem | None:
    """Kept layers are 0-based indices of the backbone's layers (per stack)."""
    out_of_range = [i for i in keep_layers or () if not 0 <= i < n_layers]
    if not out_of_range:
        return None
    return Problem(
        "keep_layers",
        f"keep_layers {out_of_range} out of range: the backbone has {n_layers} layers per stack",
        f"use 0-based indices from 0 to {n_layers - 1}",
    )


def layer_count(config) -> int:
    """The backbone's layers as freeze_layers counts them: T5's encoder and decoder blocks together."""
    n = int(config.num_hidden_layers)  # every family's config maps this standard name to its own
    return n + int(config.num_decoder_layers) if config.is_encoder_decoder else n


def freeze_layers_problem(freeze_layers: int, config) -> tuple[str, str] | None:
    """(message, hint) when freezing ``freeze_layers`` would leave no layer to train; None when it is fine."""
    total = layer_count(config)
    if freeze_layers < total:
        return None
    stacks = " (encoder and decoder together)" if config.is_encoder_decoder else ""
    return (
        f"freeze_layers={freeze_layers} freezes every layer: the backbone has {total} layers{stacks}",
        f"choose freeze_layers from 0 to {total - 1}",  # in both clients' words: the extension states it too
    )


def backbone_problems(exp, config) -> list[Problem]:
    """What the engine would refuse about ``exp`` (an Experiment) once it builds on a backbone with this config."""
    problems = []
    freezing = set(exp.methods) & set(info_of(FIELDS["freeze_layers"]).methods or ())
    if freezing and (p := freeze_layers_problem(exp.freeze_layers, config)) is not None:
        problems.append(Problem("freeze_layers", *p))
    if "lst" not in exp.methods:
        return problems  # every rule below is about LST's side network
    family = family_for(config.model_type)
    n_layers = int(config.num_hidden_layers)
    if (p := keep_layers_problem(exp.keep_layers, n_layers)) is not None:
        problems.append(p)
    kept = len(exp.keep_layers) if exp.keep_layers is not None else n_layers
    try:
        family.side_config(config, exp.r, kept, exp.side_heads)
    except BadInput as e:
        # The width rule is about r; the heads rule about side_heads when the user set it, else about r.
        heads_rule = "heads" in e.message
        field = "side_heads" if heads_rule and exp.side_heads is not None else "r"
        problems.append(Problem(field, e.message, e.hint))
    if (p := side_heads_problem(exp.init, exp.side_heads, family.heads(config))) is not None:
        problems.append(p)
    return problems


def side_heads_problem(init: str, side_heads: int | None, heads: int) -> Problem | None:
    """A pruning initialisation copies whole heads of the backbone into the side, so it keeps their number."""
    if init == "random" or side_heads is None or side_heads == heads:
        return None
    return Problem(
        "side_heads",
        f"pruning initialisation keeps every attention head, so side_heads must equal the backbone's {heads}",
        "remove side_heads (the side then has the backbone's heads), or set init to random",
    )


# The layer types PEFT's LoRA can adapt (peft.tuners.lora.layer.dispatch_default): a target naming anything else (a
# whole attention block, a layer norm) fails in PEFT as surely as a name the backbone does not have.
LORA_LAYERS = (nn.Linear, nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d, Conv1D)


def lora_targets_problem(exp, backbone, spec) -> Problem | None:
    """``lora_targets`` must each name layers the task model has, matched as PEFT matches them: checked on a model
    built on the meta device (no weights, no memory) before any method trains, where PEFT would fail only when
    LoRA's turn comes, after the methods before it have trained; and a misspelt name beside a good one, which PEFT
    would skip without a word, is caught too."""
    if "lora" not in exp.methods or not exp.lora_targets:
        return None
    with torch.device("meta"):
        model = backbone.family.task_model_from_config(backbone.config, spec, backbone.tokenizer)
    layers = [name for name, module in model.named_modules() if name and isinstance(module, LORA_LAYERS)]
    missing = [
        t
        for t in exp.lora_targets
        if not any(check_target_module_exists(LoraConfig(target_modules=[t]), n) for n in layers)
    ]
    if not missing:
        return None
    names = sorted({name.rsplit(".", 1)[-1] for name in layers} - {"classifier", "score", "lm_head"})
    label = FIELD_LABELS.get("lora_targets", "lora_targets")
    default = ",".join(backbone.family.lora_targets)
    return Problem(
        "lora_targets",
        f"lora_targets {', '.join(missing)}: no such layer in this {backbone.config.model_type} backbone "
        f"(LoRA adapts layers named: {', '.join(names)})",
        for_client(
            cli=f"name some of those with --lora-targets (the default is {default}), or leave it out",
            vscode=f"set {label} in the Experiment view to some of those (empty means the default, {default})",
        ),
    )


def check_lora_targets(exp, backbone, spec) -> None:
    """BadInput when ``lora_targets`` names layers the backbone does not have (see lora_targets_problem)."""
    if (p := lora_targets_problem(exp, backbone, spec)) is not None:
        raise BadInput(p.message, p.hint)


def check_backbone(exp, config) -> None:
    """BadInput with the first problem (its message names the field), or nothing."""
    problems = backbone_problems(exp, config)
    if problems:
        first = problems[0]
        raise BadInput(first.message, first.hint)
