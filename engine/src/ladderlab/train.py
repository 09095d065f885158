"""One training loop for every method: same data order, optimiser, schedule, metrics and memory accounting.

Per run: build the method -> run_started -> (pruning_init) -> train (validation after each epoch, best epoch
kept) -> eval (test split, best weights) -> files -> run_finished. Every step is an event.

Training writes a checkpoint (ladderlab.checkpoint) every ``checkpoint_every`` steps, at each epoch end and
when stopped (SIGINT/SIGTERM, see ladderlab.stop); a resumed run rebuilds the same model and continues from it.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import checkpoint
from . import metrics as task_metrics
from . import stop
from .backbones import Backbone
from .config import Experiment
from .data.pipeline import Batcher
from .data.types import TaskData, TaskSpec
from .errors import BadInput
from .events import EventSink
from .memory import PhaseMemory, SavedTensorMeter, current_cuda_memory
from .methods import BUILDERS
from .methods.base import MethodModel
from .runstore import create_run_dir, repair_torn_tail, save_trainable, write_json_atomic
from .step import make_optimizer, training_step

# Test-only: "K" or "METHOD:K" raises an out-of-memory error inside train step K (of that method only), so the
# real OOM path (error event, memory released, exit 3, other methods still run) is testable on a CPU.
FAIL_ALLOC_ENV = "LADDERLAB_TEST_FAIL_ALLOC_AT_STEP"


def _fail_alloc_step(method: str) -> int:
    value = os.environ.get(FAIL_ALLOC_ENV, "")
    target, _, step = value.rpartition(":")
    return int(step) if step.isdigit() and target in ("", method) else 0


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

    def __init__(self, exp: Experiment, method: str, backbone: Backbone, data: SharedData, sink: EventSink,
                 resume: tuple[Path, dict, dict] | None = None):
        """``resume``: (run folder, its config.json, checkpoint payload) to continue a stopped run in its folder."""
        self.exp, self.method, self.backbone, self.data, self.sink = exp, method, backbone, data, sink
        self.resume_dir, self.resume_config, self.resume_payload = resume if resume else (None, None, None)
        self.state = checkpoint.TrainState()
        self.last_checkpoint: Path | None = None
        self.saved_position: tuple[int, int] | None = None  # position of the latest checkpoint written
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
        stop.check()  # a stop asked for while loading: do not start the next run
        self.config = {**exp.to_json(), "method": self.method, "lr": exp.lr_for(self.method),
                       "device": str(self.data.device)}
        self.torn_bytes = 0
        if self.resume_dir is not None:
            self.run_dir = self.resume_dir
            self.last_checkpoint = self.run_dir / checkpoint.CHECKPOINT
            # config.json is the run's own (the checkpoint's config was checked against it): keep it.
            self.config = self.resume_config
            self.torn_bytes = repair_torn_tail(self.run_dir / "events.jsonl")
        else:
            self.run_dir = create_run_dir(exp.runs_dir, self.method)
            write_json_atomic(self.run_dir / "config.json", self.config)
        self.sink.attach_run(self.run_dir.name, self.run_dir / "events.jsonl")
        try:
            return self._train_and_evaluate(started)
        except stop.StopRequested as e:
            self._stopped(e.signal_name, graceful=True)
            raise
        except KeyboardInterrupt as e:
            self._stopped(str(e) if str(e) in stop.SIGNAL_NAMES else "SIGINT", graceful=False)
            raise
        except BaseException as e:
            extra = self._oom_details(e) if is_oom(e) else {}
            report_error(self.sink, e, getattr(self, "current_phase", None), **extra)
            raise
        finally:
            self.sink.detach_run()
            self._release_memory()

    def _stopped(self, signal_name: str, graceful: bool) -> None:
        """Checkpoint the current position if training is under way and it is not saved yet, then say so."""
        if graceful and getattr(self, "optimizer", None) is not None and self.saved_position != self.state.position():
            self._save_checkpoint("stop")
        self.sink.emit("run_stopped", step=self.state.step, total_steps=getattr(self, "total_steps", 0),
                       signal=signal_name,
                       checkpoint=str(self.last_checkpoint) if self.last_checkpoint else None,
                       message=(f"stopped at step {self.state.step}; `ladderlab resume {self.run_dir}` continues"
                                if self.last_checkpoint else "stopped before the first checkpoint; start it again"))

    def _save_checkpoint(self, reason: str) -> None:
        self.state.saved_peak = self.memory.saved_peak
        elapsed = self.state.elapsed_s
        self.state.elapsed_s = elapsed + time.time() - self.session_started
        try:
            path, size = checkpoint.save(self.run_dir, config=self.config, model=self.model, optimizer=self.optimizer,
                                         scheduler=self.scheduler, state=self.state, total_steps=self.total_steps,
                                         reason=reason)
        finally:
            self.state.elapsed_s = elapsed
        self.last_checkpoint, self.saved_position = path, self.state.position()
        self.sink.emit("checkpoint_saved", step=self.state.step, total_steps=self.total_steps, epoch=self.state.epoch,
                       step_in_epoch=self.state.step_in_epoch, reason=reason, path=str(self.last_checkpoint),
                       bytes=size)

    def _oom_details(self, error: BaseException) -> dict:
        """What the run held when memory ran out, and what the estimator predicted, for the oom error event."""
        memory = {"allocated_bytes": None, "max_allocated_bytes": None, "reserved_bytes": None,
                  "accounted_bytes": None, "rss_bytes": _rss_bytes(),
                  "predicted_peak_bytes": _predicted_peak(self.exp, self.method, self.data.device)}
        device = self.data.device
        if device.type == "cuda":
            memory.update(allocated_bytes=int(torch.cuda.memory_allocated(device)),
                          max_allocated_bytes=int(torch.cuda.max_memory_allocated(device)),
                          reserved_bytes=int(torch.cuda.memory_reserved(device)))
        model = getattr(self, "model", None)
        if model is not None:
            with contextlib.suppress(Exception):
                report = self.memory.report(model, getattr(self, "optimizer", None),
                                            with_grads=getattr(self, "current_phase", None) == "train")
                memory["accounted_bytes"] = report["accounted_bytes"]
        details = {"memory": memory}
        if getattr(self, "current_phase", None) == "train":
            details["step"] = self.state.step + 1
        return details

    def _release_memory(self) -> None:
        """Drop this run's model and optimizer so the next method (or the process exit) gets the memory back."""
        for name in ("model", "optimizer", "scheduler"):
            self.__dict__.pop(name, None)
        self.state.best_state = None
        gc.collect()
        if self.data.device.type == "cuda":
            torch.cuda.empty_cache()

    def _train_and_evaluate(self, started: float) -> dict:
        exp, data = self.exp, self.data
        task_model = self.backbone.new_task_model(self.spec, exp.seed)
        backbone_total, _ = count_params(task_model)
        torch.manual_seed(exp.seed)  # same new-parameter init for the same seed
        self.model: MethodModel = BUILDERS[self.method](self.backbone, task_model, exp).to(data.device)
        _, trainable = count_params(self.model)
        steps_per_epoch = math.ceil(len(data.features["train"]) / exp.batch_size)
        total_steps = exp.epochs * steps_per_epoch
        self.total_steps, self.steps_per_epoch = total_steps, steps_per_epoch
        resumed = {}
        if self.resume_payload is not None:
            s = self.resume_payload["state"]
            resumed = {"resumed": {"step": s["step"], "epoch": s["epoch"], "step_in_epoch": s["step_in_epoch"],
                                   "checkpoint": str(self.last_checkpoint)}}
        self.sink.emit("run_started", method=self.method, run_dir=str(self.run_dir), device=str(data.device),
                       config={**exp.to_json(), "method": self.method, "lr": exp.lr_for(self.method)},
                       params={"total": backbone_total, "trainable": trainable,
                               "trainable_pct": round(100.0 * trainable / backbone_total, 4)},
                       total_steps=total_steps, **resumed)
        for note in data.task.notes:
            self.sink.log(note)
        if self.torn_bytes:
            self.sink.log(f"events.jsonl ended in a line torn by an interrupted write ({self.torn_bytes} bytes); "
                          "it was removed before resuming", level="warning")

        self.current_phase = "pruning_init"
        # On resume the initialisation is redone silently (same seed, same examples: the same frozen parts);
        # the trainable weights are then replaced by the checkpoint's.
        on_phase = self.phase if self.resume_payload is None else _silent_phase
        self.model.initialize(self._init_examples(), on_phase, init=exp.init, loss_fn=self._stoppable(self.loss))
        self.current_phase = "train"
        best_state, best_val, best_epoch = self._train(total_steps)
        train_memory = self.phase_reports["train"]
        self.current_phase = "eval"
        self.model.load_state_dict(best_state, strict=False)
        with self.phase("eval"):
            test_metrics = self.evaluate("test", exp.epochs, total_steps)
        eval_memory = self.phase_reports["eval"]

        save_trainable(self.run_dir / "trainable.safetensors", self.model.trainable_named_parameters())
        duration = self.state.elapsed_s + time.time() - started
        summary = {
            "method": self.method, "run_dir": str(self.run_dir),
            "trainable_pct": round(100.0 * trainable / backbone_total, 4),
            "metrics": test_metrics, "validation_metrics": best_val, "best_epoch": best_epoch,
            "memory": {"train_peak_bytes": train_memory["peak_allocated_bytes"],
                       "train_reserved_bytes": train_memory["peak_reserved_bytes"],
                       **{k: train_memory[k] for k in ("saved_for_backward_bytes", "param_bytes", "grad_bytes",
                                                        "optimizer_bytes", "accounted_bytes")},
                       "eval_peak_bytes": eval_memory["peak_allocated_bytes"]},
            "duration_s": round(duration, 2),
        }
        write_json_atomic(self.run_dir / "metrics.json", {"test": test_metrics, "validation": best_val,
                                                          "best_epoch": best_epoch})
        write_json_atomic(self.run_dir / "summary.json", summary)
        checkpoint.remove(self.run_dir)  # summary.json now marks the run finished; the checkpoint is spent
        self.sink.emit("run_finished", summary=summary)
        return summary

    def _stoppable(self, loss_fn):
        """The loss as the pruning initialisation calls it once per example: a stop is honoured between examples."""
        def loss(logits, labels):
            stop.check()
            return loss_fn(logits, labels)
        return loss

    def _init_examples(self):
        """Single training examples for Fisher importance (per-example gradients), in a seeded order."""
        feats = self.data.features["train"]
        order = torch.randperm(len(feats), generator=torch.Generator().manual_seed(self.exp.seed)).tolist()
        subset = [feats[i] for i in order[: self.exp.fisher_samples]]
        return self.data.batcher.batches(subset, 1)

    def _train(self, total_steps: int):
        exp, data, state = self.exp, self.data, self.state
        params, self.optimizer, self.scheduler = make_optimizer(
            self.model, exp.lr_for(self.method), exp.weight_decay, int(exp.warmup_ratio * total_steps), total_steps)
        optimizer, scheduler = self.optimizer, self.scheduler
        meter = SavedTensorMeter(self.model)
        fail_at = _fail_alloc_step(self.method)
        with self.phase("train", optimizer, with_grads=True):
            if self.resume_payload is not None:
                self.state = state = checkpoint.apply(self.resume_payload, self.model, optimizer, scheduler)
                self.saved_position = state.position()
                self.memory.note_saved(state.saved_peak)
                self.resume_payload = None  # loaded; frees the CPU copy of the state
            self.session_started = time.time()
            stop.check()
            for epoch in range(state.epoch, exp.epochs):
                self.model.train()
                skip = state.step_in_epoch  # batches of this epoch already done before a resume (else 0)
                for batch in data.batcher.batches(data.features["train"], exp.batch_size, exp.seed + epoch,
                                                  skip_batches=skip):
                    t0 = time.perf_counter()
                    if state.step + 1 == fail_at:
                        raise torch.OutOfMemoryError(f"{FAIL_ALLOC_ENV}={fail_at}: simulated allocation failure")
                    loss = training_step(self.model, batch, self.loss, params, optimizer, scheduler,
                                         exp.max_grad_norm, self.autocast, before_backward=self._check_finite,
                                         forward_context=meter.measure())
                    self.memory.note_saved(meter.bytes)
                    state.step += 1
                    state.step_in_epoch += 1
                    allocated, reserved = current_cuda_memory(data.device)
                    self.sink.emit("train_step", step=state.step, total_steps=total_steps, epoch=epoch,
                                   loss=round(loss.item(), 6), lr=scheduler.get_last_lr()[0],
                                   step_s=round(time.perf_counter() - t0, 4),
                                   memory={"allocated_bytes": allocated, "reserved_bytes": reserved,
                                           "saved_for_backward_bytes": meter.bytes})
                    stop.check()  # a stop asked for during this step: checkpoint here (see execute)
                    if (exp.checkpoint_every and state.step % exp.checkpoint_every == 0
                            and state.step_in_epoch < self.steps_per_epoch):  # the epoch end saves anyway
                        self._save_checkpoint("interval")
                val = self.evaluate("validation", epoch, state.step)
                if state.best_val is None or val["score"] > state.best_val["score"]:
                    state.best_val, state.best_epoch = val, epoch
                    state.best_state = {n: p.detach().to("cpu", copy=True)
                                        for n, p in self.model.trainable_named_parameters().items()}
                state.epoch, state.step_in_epoch = epoch + 1, 0
                self._save_checkpoint("epoch_end")
        return state.best_state, state.best_val, state.best_epoch

    def _check_finite(self, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise BadInput(f"the training loss became {loss.item()} at step {self.state.step + 1}",
                           f"lower the learning rate (now {self.exp.lr_for(self.method)})")

    @torch.no_grad()
    def evaluate(self, split: str, epoch: int, step: int) -> dict:
        self.model.eval()
        preds, refs = [], []
        bs = self.exp.eval_batch_size or 2 * self.exp.batch_size
        for batch in self.data.batcher.batches(self.data.features[split], bs):
            stop.check()  # an evaluation is abandoned on stop; the training state is saved as it was
            with torch.autocast(**self.autocast):
                logits = self.model(batch).float()
            preds.extend((logits if self.spec.is_regression else logits.argmax(-1)).tolist())
            refs.extend(batch["labels"].tolist())
        result = task_metrics.compute(self.spec, preds, refs)
        self.sink.emit("evaluation", split=split, step=step, epoch=epoch, examples=len(refs), metrics=result)
        return result


def is_oom(error: BaseException) -> bool:
    return isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError))


OOM_HINT = ("lower --batch-size or --max-length; for LST raise --r (a narrower side network) or keep fewer side "
            "layers (--keep-layers); for the baselines try lst, lora or bitfit")


def report_error(sink: EventSink, error: BaseException, phase: str | None = None, **extra) -> None:
    """Turn an exception into one ``error`` event (once, however many layers it passes through).
    ``extra``: fields only an out-of-memory error carries (``memory``, ``step``)."""
    if getattr(error, "_ladderlab_reported", False) or not isinstance(error, Exception):
        return
    fields = {"kind": "crash", "message": f"{type(error).__name__}: {error}", "hint": None}
    if isinstance(error, BadInput):
        fields = {"kind": "bad_input", "message": error.message, "hint": error.hint}
    elif is_oom(error):
        where = f" during {phase}" + (f" (step {extra['step']})" if "step" in extra else "") if phase else ""
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        hint = OOM_HINT
        predicted = (extra.get("memory") or {}).get("predicted_peak_bytes")
        if predicted:
            hint += f" (the estimator predicted a peak of {predicted / 2**30:.2f} GiB for these settings)"
        fields = {"kind": "oom", "message": f"out of memory{where}: {first_line}", "hint": hint, **extra}
    else:
        import traceback

        fields["detail"] = "".join(traceback.format_exception(error))
    if phase:
        fields["phase"] = phase
    sink.emit("error", **fields)
    error._ladderlab_reported = True
    error._ladderlab_fields = fields  # the comparison's summary of failures repeats this message and hint


@contextlib.contextmanager
def _silent_phase(_name: str, optimizer=None, with_grads: bool = False):
    """The phase context for a redone (resumed) initialisation: no events, it was reported the first time."""
    yield


def _rss_bytes() -> int | None:
    """This process's resident memory (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _predicted_peak(exp: Experiment, method: str, device: torch.device) -> int | None:
    """The estimator's predicted training peak (fake tensors in a child process: it needs no device memory);
    None if it cannot size this config — the estimate only enriches the out-of-memory report."""
    try:
        from .estimate import estimate_run

        return int(estimate_run(exp, method, device)["peak_bytes"])
    except Exception:  # noqa: BLE001
        return None
