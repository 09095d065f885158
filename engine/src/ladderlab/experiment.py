"""A comparison: load the backbone and the task once, tokenise once, then train each method in turn.

A method that fails (out of memory, a bad setting only it uses) is reported and the others still run:
finished runs are never lost to a later failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .backbones import load_backbone
from .config import Experiment
from .data import load_task
from .data.pipeline import Batcher, encode
from .errors import BadInput
from .events import EventSink
from .train import Run, SharedData, report_error, resolve_device


@dataclass
class Outcome:
    rows: list[dict] = field(default_factory=list)  # run summaries, one per finished method
    failed: list[dict] = field(default_factory=list)  # {"method", "kind", "message"}


def prepare(exp: Experiment):
    device = resolve_device(exp.device)
    if exp.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise BadInput("this GPU does not support bf16", "use --precision fp32")
    backbone = load_backbone(exp.backbone)
    task = load_task(exp.task, exp.data, seed=exp.seed, max_train_examples=exp.max_train_examples,
                     max_eval_examples=exp.max_eval_examples, text_columns=exp.text_columns,
                     label_column=exp.label_column)
    features = {split: encode(getattr(task, split), backbone.tokenizer, exp.max_length)
                for split in ("train", "validation", "test")}
    return backbone, SharedData(task, features, Batcher(backbone.tokenizer, device), device)


def run_comparison(exp: Experiment, sink: EventSink) -> Outcome:
    backbone, data = prepare(exp)
    outcome = Outcome()
    for method in exp.methods:
        try:
            outcome.rows.append(Run(exp, method, backbone, data, sink).execute())
        except Exception as e:  # one method's failure must not lose the others' results
            report_error(sink, e)  # no-op if the run already reported it into its events.jsonl
            kind = "bad_input" if isinstance(e, BadInput) else "oom" if _is_oom(e) else "crash"
            outcome.failed.append({"method": method, "kind": kind, "message": getattr(e, "message", str(e))})
        finally:
            if data.device.type == "cuda":
                torch.cuda.empty_cache()  # give the next method the memory this one held
    if len(exp.methods) > 1:
        sink.emit("compare_finished", rows=outcome.rows)
    return outcome


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, (MemoryError, torch.cuda.OutOfMemoryError))
