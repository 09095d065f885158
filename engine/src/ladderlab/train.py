"""One training loop for every method: same data order, optimiser, schedule, metrics and memory accounting.

Per run: build the method -> run_started -> (pruning_init) -> train (validation after each epoch, best epoch
kept) -> eval (test split, best weights) -> files -> run_finished. Every step is an event.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import get_linear_schedule_with_warmup

from . import metrics as task_metrics
from .backbones import Backbone
from .config import Experiment
from .data.pipeline import Batcher
from .data.types import TaskData, TaskSpec
from .errors import BadInput
from .events import EventSink
from .memory import PhaseMemory, SavedTensorMeter, current_cuda_memory
from .methods import BUILDERS
from .methods.base import MethodModel
from .runstore import create_run_dir, save_trainable, write_json_atomic


@dataclass
class SharedData:
    """What every method of a comparison shares: the task, its tokenised splits and the batcher."""

    task: TaskData
    features: dict[str, list[dict]]  # train / validation / test
    batcher: Batcher
    device: torch.device


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"device {name} requested but CUDA is not available here", "use --device cpu or auto")
    return torch.device(name)


def loss_for(spec: TaskSpec):
    if spec.is_regression:
        return lambda logits, labels: F.mse_loss(logits.float(), labels.float())
    return lambda logits, labels: F.cross_entropy(logits.float(), labels.long())


def count_params(model: torch.nn.Module) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    return total, sum(p.numel() for p in model.parameters() if p.requires_grad)


class Run:
    """One method trained and evaluated into one run folder."""

    def __init__(self, exp: Experiment, method: str, backbone: Backbone, data: SharedData, sink: EventSink):
        self.exp, self.method, self.backbone, self.data, self.sink = exp, method, backbone, data, sink
        self.spec = data.task.spec
        self.loss = loss_for(self.spec)
        self.autocast = dict(device_type=data.device.type, dtype=torch.bfloat16, enabled=exp.precision == "bf16")
        self.memory = PhaseMemory(data.device)
        self.phase_reports: dict[str, dict] = {}  # phase -> the memory object its phase_memory event carried

    @contextlib.contextmanager
    def phase(self, name: str, optimizer=None, with_grads: bool = False):
        self.sink.emit("phase_started", phase=name)
        self.memory.begin()
        yield
        self.phase_reports[name] = self.memory.report(self.model, optimizer, with_grads)
        self.sink.emit("phase_memory", phase=name, memory=self.phase_reports[name])

    def execute(self) -> dict:
        exp, started = self.exp, time.time()
        self.run_dir = create_run_dir(exp.runs_dir, self.method)
        config = {**exp.to_json(), "method": self.method, "lr": exp.lr_for(self.method),
                  "device": str(self.data.device)}
        write_json_atomic(self.run_dir / "config.json", config)
        self.sink.attach_run(self.run_dir.name, self.run_dir / "events.jsonl")
        try:
            return self._train_and_evaluate(started)
        except BaseException as e:
            report_error(self.sink, e, getattr(self, "current_phase", None))
            raise
        finally:
            self.sink.detach_run()

    def _train_and_evaluate(self, started: float) -> dict:
        exp, data = self.exp, self.data
        task_model = self.backbone.new_task_model(self.spec, exp.seed)
        backbone_total, _ = count_params(task_model)
        torch.manual_seed(exp.seed)  # same new-parameter init for the same seed
        self.model: MethodModel = BUILDERS[self.method](self.backbone, task_model, exp).to(data.device)
        _, trainable = count_params(self.model)
        steps_per_epoch = math.ceil(len(data.features["train"]) / exp.batch_size)
        total_steps = exp.epochs * steps_per_epoch
        self.sink.emit("run_started", method=self.method, run_dir=str(self.run_dir), device=str(data.device),
                       config={**exp.to_json(), "method": self.method, "lr": exp.lr_for(self.method)},
                       params={"total": backbone_total, "trainable": trainable,
                               "trainable_pct": round(100.0 * trainable / backbone_total, 4)},
                       total_steps=total_steps)
        for note in data.task.notes:
            self.sink.log(note)

        self.current_phase = "pruning_init"
        self.model.initialize(self._init_examples(), self.phase, init=exp.init, loss_fn=self.loss)
        self.current_phase = "train"
        best_state, best_val, best_epoch = self._train(total_steps)
        train_memory = self.phase_reports["train"]
        self.current_phase = "eval"
        self.model.load_state_dict(best_state, strict=False)
        with self.phase("eval"):
            test_metrics = self.evaluate("test", exp.epochs, total_steps)
        eval_memory = self.phase_reports["eval"]

        save_trainable(self.run_dir / "trainable.safetensors", self.model.trainable_named_parameters())
        summary = {
            "method": self.method, "run_dir": str(self.run_dir),
            "trainable_pct": round(100.0 * trainable / backbone_total, 4),
            "metrics": test_metrics, "validation_metrics": best_val, "best_epoch": best_epoch,
            "memory": {"train_peak_bytes": train_memory["peak_allocated_bytes"],
                       "train_reserved_bytes": train_memory["peak_reserved_bytes"],
                       **{k: train_memory[k] for k in ("saved_for_backward_bytes", "param_bytes", "grad_bytes",
                                                        "optimizer_bytes", "accounted_bytes")},
                       "eval_peak_bytes": eval_memory["peak_allocated_bytes"]},
            "duration_s": round(time.time() - started, 2),
        }
        write_json_atomic(self.run_dir / "metrics.json", {"test": test_metrics, "validation": best_val,
                                                          "best_epoch": best_epoch})
        write_json_atomic(self.run_dir / "summary.json", summary)
        self.sink.emit("run_finished", summary=summary)
        return summary

    def _init_examples(self):
        """Single training examples for Fisher importance (per-example gradients), in a seeded order."""
        feats = self.data.features["train"]
        order = torch.randperm(len(feats), generator=torch.Generator().manual_seed(self.exp.seed)).tolist()
        subset = [feats[i] for i in order[: self.exp.fisher_samples]]
        return self.data.batcher.batches(subset, 1)

    def _train(self, total_steps: int):
        exp, data = self.exp, self.data
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=exp.lr_for(self.method), weight_decay=exp.weight_decay)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(exp.warmup_ratio * total_steps), total_steps)
        meter = SavedTensorMeter(self.model)
        best_state, best_val, best_epoch, step = None, None, 0, 0
        with self.phase("train", optimizer, with_grads=True):
            for epoch in range(exp.epochs):
                self.model.train()
                for batch in data.batcher.batches(data.features["train"], exp.batch_size, exp.seed + epoch):
                    t0 = time.perf_counter()
                    with meter.measure(), torch.autocast(**self.autocast):
                        loss = self.loss(self.model(batch), batch["labels"])
                    if not torch.isfinite(loss):
                        raise BadInput(f"the training loss became {loss.item()} at step {step + 1}",
                                       f"lower the learning rate (now {exp.lr_for(self.method)})")
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, exp.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    self.memory.note_saved(meter.bytes)
                    step += 1
                    allocated, reserved = current_cuda_memory(data.device)
                    self.sink.emit("train_step", step=step, total_steps=total_steps, epoch=epoch,
                                   loss=round(loss.item(), 6), lr=scheduler.get_last_lr()[0],
                                   step_s=round(time.perf_counter() - t0, 4),
                                   memory={"allocated_bytes": allocated, "reserved_bytes": reserved,
                                           "saved_for_backward_bytes": meter.bytes})
                val = self.evaluate("validation", epoch, step)
                if best_val is None or val["score"] > best_val["score"]:
                    best_val, best_epoch = val, epoch
                    best_state = {n: p.detach().to("cpu", copy=True)
                                  for n, p in self.model.trainable_named_parameters().items()}
        return best_state, best_val, best_epoch

    @torch.no_grad()
    def evaluate(self, split: str, epoch: int, step: int) -> dict:
        self.model.eval()
        preds, refs = [], []
        bs = self.exp.eval_batch_size or 2 * self.exp.batch_size
        for batch in self.data.batcher.batches(self.data.features[split], bs):
            with torch.autocast(**self.autocast):
                logits = self.model(batch).float()
            preds.extend((logits if self.spec.is_regression else logits.argmax(-1)).tolist())
            refs.extend(batch["labels"].tolist())
        result = task_metrics.compute(self.spec, preds, refs)
        self.sink.emit("evaluation", split=split, step=step, epoch=epoch, examples=len(refs), metrics=result)
        return result


def report_error(sink: EventSink, error: BaseException, phase: str | None = None) -> None:
    """Turn an exception into one ``error`` event (once, however many layers it passes through)."""
    if getattr(error, "_ladderlab_reported", False) or not isinstance(error, Exception):
        return
    fields = {"kind": "crash", "message": f"{type(error).__name__}: {error}", "hint": None}
    if isinstance(error, BadInput):
        fields = {"kind": "bad_input", "message": error.message, "hint": error.hint}
    elif isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)):
        fields = {"kind": "oom", "message": f"out of memory{f' during {phase}' if phase else ''}: {error}".strip(),
                  "hint": "lower --batch-size or --max-length; for LST raise --r or keep fewer side layers"}
    else:
        import traceback

        fields["detail"] = "".join(traceback.format_exception(error))
    if phase:
        fields["phase"] = phase
    sink.emit("error", **fields)
    error._ladderlab_reported = True
