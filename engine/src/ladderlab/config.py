"""The experiment: one dataclass, read from a ``*.ladder.json`` file and/or CLI flags (flags win).

Every field here is also a CLI flag (``keep_layers`` -> ``--keep-layers``) and a key of the experiment file,
so the extension's form, the file and the terminal all speak the same names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput, read_json_file

METHODS = ("lst", "lora", "adapter", "bitfit", "prompt", "full")
INITS = ("fisher", "magnitude", "random")
PRECISIONS = ("fp32", "bf16")
# LST levers: field -> allowed values (the first is the default)
LEVER_CHOICES = {"side_attention": ("sdpa", "eager"), "backbone_mode": ("no_grad", "inference"),
                 "backbone_dtype": ("fp32", "bf16"), "tap_dtype": ("fp32", "bf16"), "tap_cache": ("off", "cpu")}

# The paper's learning rates (LST paper, Table 5); used when --lr is not given.
DEFAULT_LR = {"full": 3e-4, "adapter": 3e-4, "lora": 3e-4, "bitfit": 3e-4, "prompt": 3e-1, "lst": 3e-3}


@dataclass
class Experiment:
    backbone: str = "default"  # checkpoint folder, "preset:NAME" or "default" (embedded all-MiniLM-L6-v2)
    task: str = "sst2"
    data: str | None = None  # task folder / file; None = the task's default location (IMDB from node_modules)
    methods: list[str] = field(default_factory=lambda: ["lst"])
    # LST
    r: int = 8  # side network width = backbone width / r
    keep_layers: list[int] | None = None  # 0-based backbone layers that get a side block; None = all
    init: str = "fisher"  # side network initialisation: structural pruning by fisher / magnitude, or random
    fisher_samples: int = 128  # examples (batch 1) whose squared gradients make the Fisher importance
    side_heads: int | None = None  # attention heads in the side network; None = the backbone's
    # LST memory/speed levers (each measured by `ladderlab bench`; see README "Memory levers")
    side_attention: str = "sdpa"  # sdpa = memory-efficient attention in the side network; eager = the family's own
    backbone_mode: str = "no_grad"  # inference = the frozen backbone runs under torch.inference_mode
    backbone_dtype: str = "fp32"  # bf16 = the frozen backbone's weights stored in bf16 (half their memory)
    tap_dtype: str = "fp32"  # bf16 = ladder taps kept for the side network's backward in bf16
    tap_cache: str = "off"  # cpu = keep each training example's taps in CPU memory after epoch 1; later epochs skip the backbone
    # baselines
    lora_rank: int = 32
    lora_alpha: int = 32
    lora_targets: list[str] | None = None  # None = the family's attention query/value projections
    adapter_size: int = 48
    prompt_tokens: int = 100
    # training
    epochs: int = 3
    batch_size: int = 16
    eval_batch_size: int | None = None  # None = 2 x batch_size
    lr: float | None = None  # one rate for every method; None = DEFAULT_LR[method]
    lrs: dict[str, float] | None = None  # per-method rates, e.g. {"lora": 1e-3}; win over lr
    warmup_ratio: float = 0.06
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    max_length: int = 128
    device: str = "auto"  # auto = cuda if available, else cpu
    precision: str = "fp32"  # bf16 = autocast on CUDA / CPU
    seed: int = 42
    checkpoint_every: int = 100  # steps between checkpoints (also at each epoch end and on stop); 0 = epoch ends only
    runs_dir: str = ".ladderlab/runs"
    # own files (task "file")
    text_columns: list[str] | None = None
    label_column: str | None = None

    def lr_for(self, method: str) -> float:
        if self.lrs and method in self.lrs:
            return self.lrs[method]
        return self.lr if self.lr is not None else DEFAULT_LR[method]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(Experiment)}
LIST_FIELDS = {"methods": str, "keep_layers": int, "lora_targets": str, "text_columns": str}


def load_experiment_file(path: str | Path) -> dict:
    """Read a ``*.ladder.json`` file into a dict of known fields (unknown keys are an error, not silently ignored)."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"experiment file not found: {p}", "check the path given to --config")
    raw = read_json_file(p, f"experiment file {p}",
                         "fix the JSON syntax (a trailing comma or a missing quote is the usual cause)")
    if not isinstance(raw, dict):
        raise BadInput(f"experiment file {p} must hold a JSON object, found {type(raw).__name__}",
                       'write the settings as one object, e.g. {"task": "sst2", "methods": ["lst"]}')
    raw.pop("$schema", None)  # editors add it for completion
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise BadInput(f"experiment file {p}: unknown field(s) {', '.join(unknown)}",
                       f"known fields: {', '.join(FIELDS)}")
    return raw


def build_experiment(file_values: dict, flag_values: dict) -> Experiment:
    """Merge file values and CLI flags (flags win), coerce list fields, then validate."""
    merged = {**file_values, **{k: v for k, v in flag_values.items() if v is not None}}
    for name, item_type in LIST_FIELDS.items():
        if isinstance(merged.get(name), str):
            merged[name] = _split_list(name, merged[name], item_type)
    if isinstance(merged.get("lrs"), str):
        merged["lrs"] = _parse_lrs(merged["lrs"])
    exp = Experiment(**merged)
    validate(exp)
    return exp


def _split_list(name: str, text: str, item_type: type) -> list:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        return [item_type(p) for p in parts]
    except ValueError:
        raise BadInput(f"{name}: expected a comma-separated list of {item_type.__name__}s, got {text!r}",
                       f"e.g. --{name.replace('_', '-')} {'0,5' if item_type is int else 'a,b'}") from None


def _parse_lrs(text: str) -> dict[str, float]:
    """``lora=1e-3,full=5e-5`` -> {"lora": 0.001, "full": 5e-05}."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise BadInput(f"lrs: expected method=rate pairs like lora=1e-3,full=5e-5, got {part!r}",
                           "write each rate as method=number, separated by commas")
    return out


def _check_type(exp: Experiment, name: str, types: tuple) -> None:
    value = getattr(exp, name)
    if value is not None and (not isinstance(value, types) or isinstance(value, bool) and bool not in types):
        raise BadInput(f"{name} must be {' or '.join(t.__name__ for t in types)}, got {value!r}",
                       f"fix {name} in the experiment file (or --{name.replace('_', '-')}); "
                       "schemas/ladder.schema.json lists every field's type")


def validate(exp: Experiment) -> None:
    """Range checks that need no model or data. Model-dependent checks (r divides the width, kept layers in
    range) happen when the backbone is known, in ``ladderlab.methods.lst``."""
    for name in ("r", "epochs", "batch_size", "max_length", "seed", "fisher_samples", "lora_rank", "lora_alpha",
                 "adapter_size", "prompt_tokens", "eval_batch_size", "max_train_examples", "max_eval_examples",
                 "side_heads", "checkpoint_every"):
        _check_type(exp, name, (int,))
    for name in ("lr", "warmup_ratio", "weight_decay", "max_grad_norm"):
        _check_type(exp, name, (int, float))
    for name, types in (("methods", (list,)), ("keep_layers", (list,)), ("backbone", (str,)), ("task", (str,))):
        _check_type(exp, name, types)
    for name in ("data", "device", "precision", "init", "runs_dir", "label_column"):
        _check_type(exp, name, (str,))
    for name, item_type in LIST_FIELDS.items():
        _check_type(exp, name, (list,))
        bad_items = [x for x in getattr(exp, name) or () if not isinstance(x, item_type) or isinstance(x, bool)]
        if bad_items:
            raise BadInput(f"{name} must be a list of {item_type.__name__}s, got {getattr(exp, name)!r}",
                           f"fix {name} in the experiment file (or --{name.replace('_', '-')})")
    if not exp.methods:
        raise BadInput("methods is empty", f"choose one or more of {', '.join(METHODS)}")
    bad = [m for m in exp.methods if m not in METHODS]
    if bad:
        raise BadInput(f"unknown method(s): {', '.join(map(str, bad))}", f"choose from {', '.join(METHODS)}")
    if len(set(exp.methods)) != len(exp.methods):
        raise BadInput(f"methods lists a method twice: {exp.methods}", "list each method once")
    if exp.init not in INITS:
        raise BadInput(f"unknown init {exp.init!r}", f"choose from {', '.join(INITS)}")
    for name, choices in LEVER_CHOICES.items():
        if getattr(exp, name) not in choices:
            raise BadInput(f"unknown {name} {getattr(exp, name)!r}", f"choose from {', '.join(choices)}")
    if exp.precision not in PRECISIONS:
        raise BadInput(f"unknown precision {exp.precision!r}", f"choose from {', '.join(PRECISIONS)}")
    if not 2 <= exp.r <= 64:
        raise BadInput(f"r (reduction factor) must be between 2 and 64, got {exp.r}",
                       "the paper uses r=8; larger r means a smaller side network")
    positive = {"epochs": exp.epochs, "batch_size": exp.batch_size, "max_length": exp.max_length,
                "fisher_samples": exp.fisher_samples, "lora_rank": exp.lora_rank, "adapter_size": exp.adapter_size,
                "prompt_tokens": exp.prompt_tokens, "eval_batch_size": exp.eval_batch_size,
                "max_train_examples": exp.max_train_examples, "max_eval_examples": exp.max_eval_examples}
    for name, value in positive.items():
        if value is not None and value < 1:
            raise BadInput(f"{name} must be at least 1, got {value}",
                           f"set {name} to a positive whole number" + (" or leave it out" if name in (
                               "eval_batch_size", "max_train_examples", "max_eval_examples") else ""))
    rates = {"lr": exp.lr} if exp.lr is not None else {}
    if exp.lrs is not None:
        if not isinstance(exp.lrs, dict):
            raise BadInput(f"lrs must be an object of method -> learning rate, got {exp.lrs!r}",
                           'e.g. "lrs": {"lora": 0.001} in the experiment file, or --lrs lora=1e-3')
        unknown = [m for m in exp.lrs if m not in METHODS]
        if unknown:
            raise BadInput(f"lrs names unknown method(s): {', '.join(unknown)}", f"choose from {', '.join(METHODS)}")
        rates.update({f"lrs.{m}": v for m, v in exp.lrs.items()})
    for name, value in rates.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 10:
            raise BadInput(f"{name} must be a number in (0, 10), got {value!r}",
                           "typical: 3e-3 for LST, 3e-4 for LoRA/Adapter")
    if exp.checkpoint_every < 0:
        raise BadInput(f"checkpoint_every must be 0 (epoch ends only) or a number of steps, got {exp.checkpoint_every}",
                       "e.g. --checkpoint-every 100")
    if exp.weight_decay < 0:
        raise BadInput(f"weight_decay must be 0 or more, got {exp.weight_decay}", "typical: 0 (the paper) to 0.1")
    if not exp.max_grad_norm > 0:
        raise BadInput(f"max_grad_norm must be more than 0, got {exp.max_grad_norm}", "the default is 1.0")
    if not 0 <= exp.warmup_ratio < 1:
        raise BadInput(f"warmup_ratio must be in [0, 1), got {exp.warmup_ratio}",
                       "it is the fraction of steps spent warming up the learning rate; the default is 0.06")
    if exp.max_length > 4096:
        raise BadInput(f"max_length {exp.max_length} is larger than any supported backbone's positions",
                       "use at most 4096 (and at most the backbone's max_position_embeddings; 128 is typical)")
    if exp.keep_layers is not None:
        if not exp.keep_layers:
            raise BadInput("keep_layers is empty", "keep at least one side layer, e.g. --keep-layers 5")
        if sorted(set(exp.keep_layers)) != exp.keep_layers:
            raise BadInput(f"keep_layers must be increasing and without repeats, got {exp.keep_layers}",
                           f"e.g. --keep-layers {','.join(map(str, sorted(set(exp.keep_layers))))}")
    if exp.device not in ("auto", "cpu") and not exp.device.startswith("cuda"):
        raise BadInput(f"unknown device {exp.device!r}", "use auto, cpu, cuda or cuda:N")
