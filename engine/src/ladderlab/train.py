"""One training loop for every method: same data order, optimiser, schedule, metrics and memory accounting.

Per run: build the method -> run_started -> (pruning_init) -> train (validation after each epoch, best epoch
kept) -> eval (test split, best weights) -> files -> run_finished. Every step is an event.

Training writes a checkpoint (ladderlab.checkpoint) every ``checkpoint_every`` steps, at each epoch end and
when stopped (SIGINT/SIGTERM, see ladderlab.stop); a resumed run rebuilds the same model (without the data-dependent
init: the checkpoint holds what it wrote) and continues from it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import os
import time
from pathlib import Path

import torch
from torch.optim.lr_scheduler import LRScheduler

from . import checkpoint, instruct_eval, stop
from . import metrics as task_metrics
from .backbones import Backbone
from .config import Experiment
from .data.pipeline import SharedData
from .data.text2text import UNKNOWN
from .devices import Autocast
from .errors import BadInput, RunFailed, error_fields, for_client, is_oom
from .events import EventSink
from .init_progress import InitProgress
from .memory import PhaseMemory, SavedTensorMeter, current_cuda_memory
from .methods import BUILDERS
from .methods.base import MethodModel, count_params, trainable_pct
from .methods.lst.distill import training_examples
from .methods.lst.init_cache import InitCache, init_key
from .methods.lst.pruning import fisher_rows
from .oom import FAIL_ALLOC_ENV, fail_alloc_step, oom_memory
from .predict import predict_split
from .runstore import create_run_dir, repair_torn_tail, save_trainable, write_json_atomic
from .step import loss_for, make_optimizer, training_step


class Run:
    """One method trained and evaluated into one run folder."""

    def __init__(
        self,
        exp: Experiment,
        method: str,
        backbone: Backbone,
        data: SharedData,
        sink: EventSink,
        resume: tuple[Path, dict, dict | None] | None = None,
    ):
        """``resume``: (run folder, its config.json, checkpoint payload) to continue a stopped run in its folder; a
        payload of None (stopped before its first checkpoint) trains it again from the start in that folder."""
        self.exp, self.method, self.backbone, self.data, self.sink = exp, method, backbone, data, sink
        self.spec = data.task.spec
        self.loss = loss_for(self.spec)
        self.autocast = Autocast.of(data.device, exp.precision)
        self.memory = PhaseMemory(data.device)
        self.phase_reports: dict[str, dict] = {}  # phase -> the memory object its phase_memory event carried
        self.state = checkpoint.TrainState()
        self.saved_position: tuple[int, int] | None = None  # position of the latest checkpoint written
        self.resume_payload: dict | None = None  # the checkpoint to continue from, until it is loaded
        self.torn_bytes = 0  # bytes of a torn last line cut off the resumed run's events.jsonl
        if resume is None:
            self.run_dir: Path | None = None  # made when the run starts
            self.config = {
                **exp.to_json(),
                "method": method,
                "lr": exp.lr_for(method),
                "device": str(data.device),
                # relative data/backbone/runs paths (flags) are read from here, also by a resume started elsewhere
                "cwd": os.getcwd(),
            }
            self.last_checkpoint: Path | None = None
        else:
            # config.json is the run's own (the checkpoint's config was checked against it): keep it.
            self.run_dir, self.config, self.resume_payload = resume
            self.last_checkpoint = self.run_dir / checkpoint.CHECKPOINT if self.resume_payload is not None else None
        self.restarted = resume is not None and self.resume_payload is None  # no checkpoint: trains from the start
        # What exists once the run is under way; the stop and error paths report whatever exists by then.
        self.current_phase: str | None = None
        self.model: MethodModel | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: LRScheduler | None = None
        self.total_steps = 0
        self.steps_per_epoch = 0
        self.session_started = 0.0  # when this session's training began (elapsed time adds up across resumes)

    @contextlib.contextmanager
    def phase(self, name: str, model: MethodModel, optimizer=None, with_grads: bool = False):
        self.sink.emit("phase_started", phase=name)
        self.memory.begin()
        yield
        self.phase_reports[name] = self.memory.report(model, optimizer, with_grads)
        self.sink.emit("phase_memory", phase=name, memory=self.phase_reports[name])

    def execute(self) -> dict:
        """Train, evaluate and write the run's files; returns the summary. A failure is reported as the run's
        ``error`` event and raised as ``RunFailed``; a stop is checkpointed and re-raised."""
        started = time.time()
        stop.check()  # a stop asked for while loading: do not start the next run
        if self.run_dir is None:
            self.run_dir = create_run_dir(self.exp.runs_dir, self.method)
            write_json_atomic(self.run_dir / "config.json", self.config)
        else:
            self.torn_bytes = repair_torn_tail(self.run_dir / "events.jsonl")
        run_dir = self.run_dir
        self.sink.attach_run(run_dir.name, run_dir / "events.jsonl")
        try:
            return self._train_and_evaluate(run_dir, started)
        except stop.StopRequested as e:
            self._stopped(e.signal_name, graceful=True)
            raise
        except KeyboardInterrupt as e:
            self._stopped(str(e) if str(e) in stop.SIGNAL_NAMES else "SIGINT", graceful=False)
            raise
        except Exception as e:
            fields = error_fields(e, self.current_phase, **self._oom_details() if is_oom(e) else {})
            self.sink.emit("error", **fields)
            raise RunFailed(fields) from e
        finally:
            self.sink.detach_run()
            self._release_memory()

    def _stopped(self, signal_name: str, graceful: bool) -> None:
        """Checkpoint the current position if training is under way and it is not saved yet, then say so."""
        if graceful and self.saved_position != self.state.position():
            self._save_checkpoint("stop")
        self.sink.emit(
            "run_stopped",
            step=self.state.step,
            total_steps=self.total_steps,
            signal=signal_name,
            checkpoint=str(self.last_checkpoint) if self.last_checkpoint else None,
            message=(
                f"stopped at step {self.state.step}; "
                + for_client(f"`ladderlab resume {self.run_dir}` continues", "Resume Run continues it")
                if self.last_checkpoint
                else "stopped before the first checkpoint; "
                + for_client(f"`ladderlab resume {self.run_dir}` starts it again", "Resume Run starts it again")
            ),
        )

    def _save_checkpoint(self, reason: str) -> None:
        run_dir, model, optimizer, scheduler = self.run_dir, self.model, self.optimizer, self.scheduler
        if run_dir is None or model is None or optimizer is None or scheduler is None:
            return  # training has not started: there is no position to save
        self.state.saved_peak = self.memory.saved_peak
        elapsed = self.state.elapsed_s
        self.state.elapsed_s = elapsed + time.time() - self.session_started
        try:
            path, size = checkpoint.save(
                run_dir,
                config=self.config,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                state=self.state,
                total_steps=self.total_steps,
                reason=reason,
            )
        finally:
            self.state.elapsed_s = elapsed
        self.last_checkpoint, self.saved_position = path, self.state.position()
        self.sink.emit(
            "checkpoint_saved",
            step=self.state.step,
            total_steps=self.total_steps,
            epoch=self.state.epoch,
            step_in_epoch=self.state.step_in_epoch,
            reason=reason,
            path=str(path),
            bytes=size,
        )

    def _oom_details(self) -> dict:
        """What only an out-of-memory error event carries: the run's memory, and the step that failed."""
        training = self.current_phase == "train"
        memory = oom_memory(self.exp, self.method, self.data.device, self.memory, self.model, self.optimizer, training)
        return {"memory": memory, "step": self.state.step + 1} if training else {"memory": memory}

    def _release_memory(self) -> None:
        """Drop this run's model and optimizer so the next method (or the process exit) gets the memory back."""
        self.model = self.optimizer = self.scheduler = None
        self.state.best_state = None
        gc.collect()
        if self.data.device.type == "cuda":
            torch.cuda.empty_cache()

    def _train_and_evaluate(self, run_dir: Path, started: float) -> dict:
        exp, data = self.exp, self.data
        task_model = self.backbone.new_task_model(self.spec, exp.seed, exp.pooling)
        backbone_total, _ = count_params(task_model)
        torch.manual_seed(exp.seed)  # same new-parameter init for the same seed
        self.model = model = BUILDERS[self.method](self.backbone, task_model, exp).to(data.device)
        _, trainable = count_params(model)
        self.steps_per_epoch = math.ceil(len(data.features["train"]) / exp.batch_size)
        self.total_steps = total_steps = exp.epochs * self.steps_per_epoch
        resumed = {}
        if self.resume_payload is not None:
            s = self.resume_payload["state"]
            resumed = {
                "resumed": {
                    "step": s["step"],
                    "epoch": s["epoch"],
                    "step_in_epoch": s["step_in_epoch"],
                    "checkpoint": str(self.last_checkpoint),
                }
            }
        elif self.restarted:  # readers fold it as a resume from step 0: the earlier attempt's steps are superseded
            resumed = {"resumed": {"step": 0, "epoch": 0, "step_in_epoch": 0, "checkpoint": None}}
        self.sink.emit(
            "run_started",
            method=self.method,
            run_dir=str(run_dir),
            device=str(data.device),
            config={**exp.to_json(), "method": self.method, "lr": exp.lr_for(self.method)},
            params={
                "total": backbone_total,
                "trainable": trainable,
                "trainable_pct": trainable_pct(trainable, backbone_total),
            },
            total_steps=total_steps,
            **resumed,
        )
        for note in data.task.notes:
            self.sink.log(note)
        if self.restarted:
            self.sink.log(
                "restarted from the beginning in the same folder: the run stopped before its first checkpoint, so "
                "there was nothing to continue from (events.jsonl keeps the earlier attempt's events)"
            )
        if self.torn_bytes:
            self.sink.log(
                f"events.jsonl ended in a line torn by an interrupted write ({self.torn_bytes} bytes); "
                "it was removed before resuming",
                level="warning",
            )

        self.current_phase = "pruning_init"
        if self.resume_payload is None:
            self._initialize(model)
        elif self.method == "lst" and exp.init != "random":  # its side network comes whole from its checkpoint
            InitProgress(self.sink, exp.init).restored()
        self.current_phase = "train"
        best_state, best_val, best_epoch = self._train(model)
        train_memory = self.phase_reports["train"]
        self.current_phase = "eval"
        assert best_state is not None, "every run validates at least one epoch (epochs >= 1)"
        model.load_state_dict(best_state, strict=False)
        with self.phase("eval", model):
            test_metrics = self.evaluate(model, "test", exp.epochs, total_steps)
        eval_memory = self.phase_reports["eval"]

        save_trainable(run_dir / "trainable.safetensors", model.trainable_named_parameters())
        duration = self.state.elapsed_s + time.time() - started
        summary = {
            "method": self.method,
            "run_dir": str(run_dir),
            "trainable_pct": trainable_pct(trainable, backbone_total),
            "metrics": test_metrics,
            "validation_metrics": best_val,
            "best_epoch": best_epoch,
            "memory": {
                "train_peak_bytes": train_memory["peak_allocated_bytes"],
                "train_reserved_bytes": train_memory["peak_reserved_bytes"],
                **{
                    k: train_memory[k]
                    for k in (
                        "saved_for_backward_bytes",
                        "param_bytes",
                        "grad_bytes",
                        "optimizer_bytes",
                        "accounted_bytes",
                    )
                },
                "eval_peak_bytes": eval_memory["peak_allocated_bytes"],
            },
            "duration_s": round(duration, 2),
            "test_examples": len(self.data.features["test"]),  # what the test metrics' sampling error depends on
        }
        write_json_atomic(
            run_dir / "metrics.json", {"test": test_metrics, "validation": best_val, "best_epoch": best_epoch}
        )
        write_json_atomic(run_dir / "summary.json", summary)
        checkpoint.remove(run_dir)  # summary.json now marks the run finished; the checkpoint is spent
        self.sink.emit("run_finished", summary=summary)
        return summary

    def _stoppable(self, loss_fn):
        """The loss as the pruning initialisation calls it once per example: a stop is honoured between examples."""

        def loss(logits, labels):
            stop.check()
            return loss_fn(logits, labels)

        return loss

    def _init_features(self) -> list[dict]:
        """The training examples Fisher importance scores one by one (per-example gradients), in a seeded order."""
        feats = self.data.features["train"]
        if self.exp.init == "distillation":  # LST's distillation init: distill_steps batches, in seeded passes
            return training_examples(feats, self.exp.distill_steps * self.exp.batch_size, self.exp.seed)
        order = torch.randperm(len(feats), generator=torch.Generator().manual_seed(self.exp.seed)).tolist()
        return [feats[i] for i in order[: self.exp.fisher_samples]]

    def _initialize(self, model: MethodModel) -> None:
        """The method's data-dependent init (LST's pruning), cached by what it depends on; init_progress events."""
        exp = self.exp
        # ladder_init=pca reads the same examples' taps (a magnitude init too)
        reads = exp.init in ("fisher", "distillation") or (exp.init == "magnitude" and exp.ladder_init == "pca")
        subset = self._init_features() if reads else []
        cache = None
        # adapter side blocks (side_block) start as the identity: nothing is chosen from the backbone, nothing cached
        if self.method == "lst" and exp.init != "random" and exp.side_block == "transformer":
            key, parts = init_key(exp, self.backbone.name, self.backbone.folder, subset)
            cache = InitCache(exp.runs_dir, key, parts)
        progress = InitProgress(self.sink, exp.init, len(subset))
        model.initialize(
            self.data.batcher.batches(
                subset,
                exp.batch_size if exp.init == "distillation" else fisher_rows(exp.batch_size, exp.r, self.data.device),
            ),
            functools.partial(self.phase, model=model),
            init=exp.init,
            loss_fn=self._stoppable(self.loss),
            cache=cache,
            progress=progress.advance,
        )
        progress.finished(cache)  # whether LST's index sets were computed or read from the cache (None: no init)

    def _train(self, model: MethodModel):
        exp, data, state, total_steps = self.exp, self.data, self.state, self.total_steps
        params, optimizer, scheduler = make_optimizer(
            model, exp.lr_for(self.method), exp.weight_decay, exp.warmup_for(total_steps), total_steps
        )
        self.optimizer, self.scheduler = optimizer, scheduler
        meter = SavedTensorMeter(model)
        fail_at = fail_alloc_step(self.method)
        with self.phase("train", model, optimizer, with_grads=True):
            if self.resume_payload is not None:
                self.state = state = checkpoint.apply(self.resume_payload, model, optimizer, scheduler)
                self.saved_position = state.position()
                self.memory.note_saved(state.saved_peak)
                self.resume_payload = None  # loaded; frees the CPU copy of the state
            self.session_started = time.time()
            stop.check()
            for epoch in range(state.epoch, exp.epochs):
                model.train()
                skip = state.step_in_epoch  # batches of this epoch already done before a resume (else 0)
                for batch in data.batcher.batches(
                    data.features["train"], exp.batch_size, exp.seed + epoch, skip_batches=skip
                ):
                    t0 = time.perf_counter()
                    if state.step + 1 == fail_at:
                        raise torch.OutOfMemoryError(f"{FAIL_ALLOC_ENV}={fail_at}: simulated allocation failure")
                    loss = training_step(
                        model,
                        batch,
                        self.loss,
                        params,
                        optimizer,
                        scheduler,
                        exp.max_grad_norm,
                        self.autocast,
                        before_backward=self._check_finite,
                        forward_context=meter.measure(),
                    )
                    self.memory.note_saved(meter.bytes)
                    state.step += 1
                    state.step_in_epoch += 1
                    allocated, reserved = current_cuda_memory(data.device)
                    self.sink.emit(
                        "train_step",
                        step=state.step,
                        total_steps=total_steps,
                        epoch=epoch,
                        loss=round(loss.item(), 6),
                        lr=scheduler.get_last_lr()[0],
                        step_s=round(time.perf_counter() - t0, 4),
                        memory={
                            "allocated_bytes": allocated,
                            "reserved_bytes": reserved,
                            "saved_for_backward_bytes": meter.bytes,
                        },
                    )
                    stop.check()  # a stop asked for during this step: checkpoint here (see execute)
                    if (
                        exp.checkpoint_every
                        and state.step % exp.checkpoint_every == 0
                        and state.step_in_epoch < self.steps_per_epoch
                    ):  # the epoch end saves anyway
                        self._save_checkpoint("interval")
                val = self.evaluate(model, "validation", epoch, state.step)
                if state.best_val is None or val["score"] > state.best_val["score"]:
                    state.best_val, state.best_epoch = val, epoch
                    state.best_state = {
                        n: p.detach().to("cpu", copy=True) for n, p in model.trainable_named_parameters().items()
                    }
                state.epoch, state.step_in_epoch = epoch + 1, 0
                self._save_checkpoint("epoch_end")
        return state.best_state, state.best_val, state.best_epoch

    def _check_finite(self, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise BadInput(
                f"the training loss became {loss.item()} at step {self.state.step + 1}",
                f"lower the learning rate (now {self.exp.lr_for(self.method)})",
            )

    @torch.no_grad()
    def evaluate(self, model: MethodModel, split: str, epoch: int, step: int) -> dict:
        size = self.exp.eval_batch_size or 2 * self.exp.batch_size
        if self.data.instruct is not None:  # instruction tuning: per-token loss and generated answers
            result = instruct_eval.evaluate(model, self.data, split, size, self.autocast)
            self.sink.emit(
                "evaluation",
                split=split,
                step=step,
                epoch=epoch,
                examples=len(self.data.features[split]),
                metrics=result,
            )
            return result
        batches = self.data.batcher.batches(self.data.features[split], size)
        preds, refs = predict_split(model, batches, self.spec, self.data.text_format, self.autocast)
        if self.data.text_format is not None and (unknown := preds.count(UNKNOWN)):  # an UNKNOWN_SCORE too (-1.0)
            self.sink.log(f"{split}: {unknown} of {len(preds)} generated answers are no label; counted as wrong")
        result = task_metrics.compute(self.spec, preds, refs)
        self.sink.emit("evaluation", split=split, step=step, epoch=epoch, examples=len(refs), metrics=result)
        return result
