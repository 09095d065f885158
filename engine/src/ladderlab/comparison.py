"""A comparison: load the backbone and the task once, tokenise once, then train each method in turn.

A method that fails (out of memory, a bad setting only it uses) is reported and, with ``on_failure: continue``
(the default), the others still run: finished runs are never lost to a later failure; ``on_failure: stop`` ends
the comparison there. ``compare_finished`` lists the finished rows and the failed methods with their errors.
Rules that depend on the backbone's shape (r, kept layers) are checked before any data is read
(backbone_rules.py): they would fail every LST run, so they are refused up front, not in the middle.
A stop (SIGINT/SIGTERM) ends the comparison after the current run has checkpointed; ``resume_run`` continues
such a run in its own folder.
"""

from __future__ import annotations

import gc
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checkpoint, instruct_eval
from .backbone_rules import check_backbone, check_lora_targets
from .backbones import load_backbone
from .config import FIELDS, Experiment, build_experiment
from .data import instruct, read_for, text2text
from .data.pipeline import Batcher, SharedData, encode
from .devices import resolve_device
from .errors import BadInput, RunFailed, error_fields, use_field
from .events import EventSink
from .families.pooling import check_pooling
from .filepaths import resolve_file_paths
from .quant import QuantisedLoad, check_quant
from .train import Run


@dataclass
class Outcome:
    rows: list[dict] = field(default_factory=list)  # run summaries, one per finished method
    failed: list[dict] = field(default_factory=list)  # {"method", "kind", "message", "hint"}
    skipped: list[str] = field(default_factory=list)  # methods not started (on_failure: stop)


SPLITS = ("train", "validation", "test")


def prepare(exp: Experiment):
    device = resolve_device(exp.device)
    if exp.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise BadInput("this GPU does not support bf16", use_field("precision", "fp32"))
    check_quant(exp, device)  # before loading anything: a quantised backbone needs bitsandbytes and CPU or CUDA
    backbone = load_backbone(exp.backbone)
    backbone.quant = QuantisedLoad.of(exp, backbone.family, device)  # its task models load quantised
    check_backbone(exp, backbone.config)  # before the data: a bad r costs a second, not a comparison
    check_pooling(exp.pooling, backbone.family)
    task = read_for(exp)
    check_lora_targets(exp, backbone, task.spec)  # before the first method trains, not when LoRA's turn comes
    if instruct.is_instruct(task.spec):  # causal-LM instruction tuning: its own encoding and evaluation
        instruct.check_backbone(backbone.family.name, exp.methods)
        features = {s: instruct.encode(getattr(task, s), backbone.tokenizer, exp.max_length) for s in SPLITS}
        batcher = Batcher(backbone.tokenizer, device)
        return backbone, SharedData(
            task,
            features,
            batcher,
            device,
            instruct=instruct_eval.prepare(task, backbone.tokenizer, exp.max_length, exp.answer_extraction),
        )
    text_format = text2text.for_backbone(exp.t5_format, backbone, task.spec)  # T5: the paper's text-to-text
    features = {s: encode(getattr(task, s), backbone.tokenizer, exp.max_length, text_format) for s in SPLITS}
    return backbone, SharedData(task, features, Batcher(backbone.tokenizer, device), device, text_format)


def run_comparison(exp: Experiment, sink: EventSink, experiment_file: str | None = None) -> Outcome:
    backbone, data = prepare(exp)
    outcome = Outcome()
    # Each run's config.json says which comparison (this invocation) and experiment file it came from, so that
    # views can group runs long after the fact; resume keeps config.json as it is.
    origin = {
        "comparison": f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}",
        "experiment_file": str(Path(experiment_file).resolve()) if experiment_file else None,
    }
    for method in exp.methods:
        run = Run(exp, method, backbone, data, sink)
        run.config.update(origin)
        _execute(run, outcome, sink)
        if outcome.failed and exp.on_failure == "stop":
            outcome.skipped = list(exp.methods[exp.methods.index(method) + 1 :])
            break
    if len(exp.methods) > 1:
        sink.emit("compare_finished", rows=outcome.rows, failed=outcome.failed, skipped=outcome.skipped)
    return outcome


def resume_run(run_dir: str | Path, sink: EventSink) -> Outcome:
    """Continue a stopped or killed run in its own folder from its checkpoint, or train it again from the start there
    when it stopped before its first one (BadInput if it cannot be: finished, not a run folder, damaged)."""
    folder = Path(run_dir).expanduser()
    if folder.name in ("", ".", ".."):  # the run id is the folder's name
        folder = folder.resolve()
    config, payload = checkpoint.open_for_resume(folder)
    values = {k: v for k, v in config.items() if k in FIELDS}
    values.setdefault("data_seed", values.get("seed"))  # runs from before data_seed split their data with seed
    values.setdefault("t5_format", "label_words")  # runs from before t5_format scored T5 by label words
    # runs from before these fields put T5 adapters after cross-attention too and trained LoRA without biases
    values.setdefault("adapter_placement", "every_sublayer")
    values.setdefault("lora_bias", "none")
    values.setdefault("pooling", "cls")  # runs from before pooling: the BERT head read the pooler over [CLS]
    # Relative paths were relative to the folder the run was started from: config.json names it (runs from before
    # that: the checkpoint; neither: here). A restart redoes LST's init, whose cache lies under runs_dir.
    started_in = config.get("cwd") or (payload["cwd"] if payload is not None else None)
    if started_in is not None:
        values = resolve_file_paths(values, Path(started_in))
    try:
        exp = build_experiment(values, {})
    except TypeError as e:
        raise BadInput(
            f"{folder / 'config.json'} cannot be read as an experiment ({e})",
            "the run folder is damaged or from another engine version; start the run again",
        ) from None
    method = config.get("method")
    if method not in exp.methods:
        raise BadInput(
            f"{folder / 'config.json'} names no valid method (method: {method!r})",
            "the run folder is damaged; start the run again",
        )
    backbone, data = prepare(exp)
    outcome = Outcome()
    _execute(Run(exp, method, backbone, data, sink, resume=(folder, config, payload)), outcome, sink)
    return outcome


def _execute(run: Run, outcome: Outcome, sink: EventSink) -> None:
    try:
        outcome.rows.append(run.execute())
    except Exception as e:  # one method's failure must not lose the others' results
        if isinstance(e, RunFailed):
            fields = e.fields  # reported by the run, into its events.jsonl
        else:  # failed before its run folder existed (e.g. the runs directory cannot be created)
            fields = error_fields(e)
            sink.emit("error", **fields)
        outcome.failed.append(
            {"method": run.method, "kind": fields["kind"], "message": fields["message"], "hint": fields["hint"]}
        )
    finally:
        gc.collect()  # the failed run's frames (model, optimizer) are free now that the exception is gone
        if run.data.device.type == "cuda":
            torch.cuda.empty_cache()  # give the next method the memory this one held
