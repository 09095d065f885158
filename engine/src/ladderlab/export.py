"""Export a finished run to ONNX: the frozen backbone and what the method trained, as ONE graph.

    <run>/export/  model.onnx       inputs input_ids, attention_mask[, token_type_ids] (int64, batch x length);
                                    output logits (batch x labels, or batch for regression)
                   manifest.json    task, labels, pair?, input/output names, opset, max_length, method, ...
                   tokenizer.json   (+ tokenizer_config.json, vocab ...) the backbone's tokenizer, saved as is

The run is rebuilt with the code its training used: the backbone from config.json, the method's builder
(``methods.BUILDERS``), then trainable.safetensors loaded on top. LoRA is merged into the backbone weights
(PEFT's merge_and_unload), so the graph is a plain BERT; LST's hooks run while the TorchScript exporter
traces, so the backbone, the ladders and the side network end up in the one graph.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from .backbones import Backbone, load_backbone
from .config import FIELDS, Experiment
from .data import task_spec
from .data.types import TaskSpec
from .errors import BadInput
from .methods import BUILDERS
from .methods.base import MethodModel
from .quant import QuantisedLoad
from .runstore import write_json_atomic

OPSET = 17
MANIFEST_VERSION = 1
CPU = torch.device("cpu")
PAIR_TASKS = {"mnli", "qnli", "qqp", "rte", "mrpc", "stsb"}


def run_experiment(run_dir: str | Path) -> tuple[Experiment, str]:
    """The experiment a finished run trained (its config.json) and its method, or BadInput naming what is missing or
    damaged."""
    run = Path(run_dir)
    config_path, weights_path = run / "config.json", run / "trainable.safetensors"
    if not run.is_dir():
        raise BadInput(f"run folder not found: {run}", "pass a folder under .ladderlab/runs (see `ls .ladderlab/runs`)")
    for path in (config_path, weights_path):
        if not path.is_file():
            raise BadInput(
                f"{path} is missing, so {run.name} is not a finished run",
                "export a run whose training finished (it writes trainable.safetensors last)",
            )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise BadInput(f"cannot read {config_path}: {e}", "the run folder is damaged; train the run again") from None
    method = config.get("method")
    if method not in BUILDERS:
        raise BadInput(f"{config_path}: unknown method {method!r}", f"methods: {', '.join(BUILDERS)}")
    # runs from before pooling: the BERT head read the pooler over [CLS]
    return Experiment(**{"pooling": "cls", **{k: v for k, v in config.items() if k in FIELDS}}), method


def load_run(run_dir: str | Path, device: torch.device = CPU) -> tuple[Experiment, Backbone, TaskSpec, MethodModel]:
    """Rebuild a finished run's model from its folder (config.json + trainable.safetensors) on ``device``, in eval
    mode, with its backbone loaded as it trained: a run over a 4-bit (or int8) backbone gets it quantised again."""
    exp, method = run_experiment(run_dir)
    spec = _spec_of(exp)
    backbone = load_backbone(exp.backbone)
    backbone.quant = QuantisedLoad.of(exp, backbone.family, device)  # None for a backbone that was not quantised
    torch.manual_seed(exp.seed)
    model = BUILDERS[method](backbone, backbone.new_task_model(spec, exp.seed, exp.pooling), exp)
    model.to(device)  # in place (a quantised backbone is already there)
    model.method = method
    _load_trainable(model, Path(run_dir) / "trainable.safetensors")
    model.eval()
    return exp, backbone, spec, model


def _spec_of(exp: Experiment) -> TaskSpec:
    if exp.task != "file":
        return task_spec(exp.task)
    from .data import userfile  # a user's own file: its labels are read back from the data, as in training

    if exp.data is None:
        raise BadInput("the run's config.json names no data file for task 'file'", "the run folder is damaged")
    _, labels, _ = userfile.read(exp.data, exp.text_columns, exp.label_column)
    return task_spec("file", labels=list(labels) if labels else None, regression=labels is None)


def _load_trainable(model: MethodModel, weights_path: Path) -> None:
    try:
        saved = load_file(str(weights_path))
    except Exception as e:  # safetensors raises its own error types for truncated/corrupt files
        raise BadInput(f"cannot read {weights_path}: {e}", "the file is damaged; train the run again") from None
    mismatch = model.trainable_mismatch(saved)
    if mismatch:
        raise BadInput(
            f"{weights_path} does not match the {model.method} model rebuilt from config.json "
            f"({len(mismatch)} parameters differ, e.g. {', '.join(mismatch[:3])})",
            "the run was trained by another engine version; train it again",
        )
    model.load_trainable(saved)


class LogitsGraph(nn.Module):
    """Token tensors in, logits out: the signature the ONNX graph gets."""

    def __init__(self, model: MethodModel, input_names: list[str]):
        super().__init__()
        self.model, self.input_names = model, input_names

    def forward(self, *tensors):
        return self.model(dict(zip(self.input_names, tensors, strict=True)))


def exportable(model: MethodModel) -> MethodModel:
    """LoRA/PEFT: fold the adapters into the backbone weights so the graph is the plain architecture."""
    merge = getattr(model.model, "merge_and_unload", None)  # LoRA has it; prompt tuning has nothing to fold
    if merge is not None:
        model.model = merge()
    return model


def export_run(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write model.onnx, manifest.json and the tokenizer files; return the export folder."""
    quant = run_experiment(run_dir)[0].backbone_quant
    if quant != "none":  # refused before anything loads
        raise BadInput(
            f"{Path(run_dir).name} trained over a {quant} backbone; bitsandbytes' quantised layers have no ONNX form",
            "export a run whose backbone was not quantised (backbone_quant none)",
        )
    exp, backbone, spec, model = load_run(run_dir)
    if backbone.family.name != "encoder":
        raise BadInput(
            f"export supports encoder (BERT-family) backbones; this run used a {backbone.family.name}",
            "export a run on the default backbone or another BERT-family checkpoint",
        )
    out = Path(out_dir) if out_dir else Path(run_dir) / "export"
    out.mkdir(parents=True, exist_ok=True)
    model = exportable(model)
    tokenizer = backbone.tokenizer
    input_names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    sample = tokenizer(["an example sentence to trace", "a second one"], padding=True, return_tensors="pt")
    args = tuple(sample[n] for n in input_names)
    axes = {n: {0: "batch", 1: "sequence"} for n in input_names}
    axes["logits"] = {0: "batch"}
    tmp = out / ".model.onnx.tmp"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python branches on shapes the graph does not need
        torch.onnx.export(
            LogitsGraph(model, input_names),
            args,
            str(tmp),
            input_names=input_names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    tmp.replace(out / "model.onnx")
    tokenizer.save_pretrained(str(out))
    pair = spec.name in PAIR_TASKS or (spec.name == "file" and len(exp.text_columns or []) == 2)
    manifest = {
        "format_version": MANIFEST_VERSION,
        "run": Path(run_dir).resolve().name,
        "method": model.method,
        "backbone": exp.backbone,
        "task": spec.name,
        "labels": list(spec.labels) if spec.labels else None,
        "regression": spec.is_regression,
        "pair": pair,
        "max_length": exp.max_length,
        "inputs": input_names,
        "outputs": ["logits"],
        "opset": OPSET,
        "model": "model.onnx",
        "tokenizer": "tokenizer.json",
    }
    write_json_atomic(out / "manifest.json", manifest)
    return out
