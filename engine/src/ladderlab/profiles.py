"""Profiles: one switch that sets many fields to a protocol's values (``profile: "paper"``).

A profile fills only the fields the experiment leaves out (absent or null, in the file and the flags): a value the
user sets always wins. ``fill`` runs in ``config.build_experiment`` before the checks, so the filled values are
checked like typed ones and recorded in each run's config.json; the run shows what it trained with.

The paper's protocol (LST, Sung et al. 2022: §4 and Appendix B, Table 5; ../shared/notes/lst-reference.md): batch
100, 10 epochs for large tasks and 20 for the small ones (RTE, MRPC, STS-B, CoLA: the tasks whose dev set the
split halves), linear warmup over 500 steps, sources up to 128 tokens, fp32, no weight decay, Fisher importance
from 1,024 examples, LST at r=8 with the side layers of Table 5, the baselines' sizes of Table 5 (Adapter 48, LoRA
rank 32, 100 prompts) and its learning rates (3e-3 for LST, 3e-1 for prompt tuning, 3e-4 for the rest — the
engine's defaults per method, which the profile leaves in place by not setting lr). The best epoch by validation is
what every run already keeps (train.py).
"""

from __future__ import annotations

from typing import Any

from .data import canonical_task
from .data.splits import SMALL_TASKS
from .errors import BadInput

PROFILES = ("paper",)  # besides "custom", the field's default: no profile

# Table 5's side layers. The paper's lists are already 0-based: they index the authors' Python list of blocks
# (T5-base's holds 12, and its list names 11 but not 0; T5-3B's names 23 of 24), so they are the engine's keep_layers
# as written — layers 0, 4 and 8 dropped on 12, every even layer on T5-large, all but the last on T5-3B.
TABLE5_LAYERS = {
    "12 layers (T5-base)": [1, 2, 3, 5, 6, 7, 9, 10, 11],
    "24 layers (T5-large)": list(range(1, 24, 2)),
    "24 layers, feed-forward 16384 (T5-3B)": [23],
}
T5_3B_FEED_FORWARD = 16384  # what tells T5-3B (d_ff 16384) from T5-large (4096): both have 24 layers of width 1024

# Every field the paper profile sets and its value, for any backbone and task; epochs and keep_layers follow below.
PAPER: dict[str, Any] = {
    "batch_size": 100,
    "warmup_steps": 500,
    "max_length": 128,
    "precision": "fp32",
    "weight_decay": 0.0,
    "fisher_samples": 1024,
    "init": "fisher",
    "ladder_init": "selection",  # the paper's pruning keeps coordinates; pca (the default) is ours (issue 16)
    "r": 8,
    "adapter_size": 48,
    "lora_rank": 32,
    "prompt_tokens": 100,
}
PAPER_EPOCHS = {"large": 10, "small": 20}


def paper_epochs(task: str) -> int:
    """20 epochs for the small GLUE tasks, 10 for the rest (a task file or IMDB counts as large)."""
    return PAPER_EPOCHS["small" if canonical_task(task) in SMALL_TASKS else "large"]


def paper_keep_layers(n_layers: int, feed_forward: int | None) -> list[int] | None:
    """Table 5's side layers for a backbone of this depth; None (every layer) for depths the paper did not use."""
    if n_layers == 12:
        return TABLE5_LAYERS["12 layers (T5-base)"]
    if n_layers == 24:
        key = "24 layers, feed-forward 16384 (T5-3B)" if feed_forward == T5_3B_FEED_FORWARD else "24 layers (T5-large)"
        return TABLE5_LAYERS[key]
    return None


def fill_profile(values: dict[str, Any], defaults) -> dict[str, Any]:
    """``values`` (the fields set, nulls dropped) with the profile's values for the fields they leave out;
    ``defaults`` is the experiment of defaults (for the task and backbone when ``values`` leave them out)."""
    name = values.get("profile", defaults.profile)
    if name == defaults.profile:  # "custom": no profile
        return values
    if name not in PROFILES:
        raise BadInput(
            f"unknown profile {name!r}",
            f"choose {' or '.join(repr(p) for p in PROFILES)}, or {defaults.profile!r} (each field's own default)",
        )
    profile = dict(PAPER)
    profile["epochs"] = paper_epochs(values.get("task", defaults.task))
    if "warmup_ratio" in values:  # a warmup the user set, as a ratio, wins over the profile's 500 steps
        del profile["warmup_steps"]
    layers = _backbone_layers(values.get("backbone", defaults.backbone))
    if layers is not None:
        keep = paper_keep_layers(*layers)
        if keep is not None:
            profile["keep_layers"] = keep
    return {**profile, **values}


def _backbone_layers(backbone: str) -> tuple[int, int | None] | None:
    """(layers per stack, feed-forward width) from the backbone's config alone; None when it cannot be read here,
    where load_backbone will then say what is wrong with it before anything runs."""
    from transformers import AutoConfig  # the config file only: no weights, no tokenizer

    from .backbones import PRESETS, default_backbone_path

    try:
        if backbone.startswith("preset:"):
            fields = dict(PRESETS[backbone.split(":", 1)[1]])
            config = AutoConfig.for_model(fields.pop("model_type"), **fields)
        else:
            folder = default_backbone_path() if backbone == "default" else backbone
            config = AutoConfig.from_pretrained(str(folder))
    except (BadInput, KeyError, ValueError, OSError):
        return None
    feed_forward = getattr(config, "d_ff", None) or getattr(config, "intermediate_size", None)
    return int(config.num_hidden_layers), feed_forward
