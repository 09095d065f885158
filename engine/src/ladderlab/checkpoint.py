"""Checkpoints in the run folder, and what ``ladderlab resume RUN_DIR`` needs to continue exactly.

``checkpoint.pt`` holds everything that changes during training: the trainable weights, the optimizer and the
LR schedule, the RNG states (Python, torch CPU, CUDA), the data position (epoch + batches done in it; the
batcher's order depends only on seed + epoch, so the remaining batches are the same), the step counter, the
best validation weights and metrics so far, and the run's config. What does not change (the frozen backbone) is
rebuilt on resume by the same seeded code, then the trainable state is loaded over it. LST's pruning init is not
redone: it writes only trainable weights (the side network, its ladders), which the checkpoint holds. The file
is replaced atomically (temp + rename): a kill -9 at any moment leaves the previous checkpoint or the new one,
never half of one. A run stopped or killed before its first checkpoint has nothing to continue from: resume starts it
again from the beginning in its own folder (same run id, its config.json; events.jsonl keeps the first attempt).
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .errors import BadInput
from .runstore import write_atomic, write_json_atomic

CHECKPOINT = "checkpoint.pt"
SIDECAR = "checkpoint.json"  # step/epoch of checkpoint.pt, readable without torch (the extension shows it)
FORMAT = 1


@dataclass
class TrainState:
    """Where training is. (epoch, step_in_epoch) is the position of the NEXT batch; step_in_epoch may equal the
    epoch's batch count, meaning its batches are done but its validation is not."""

    step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    best_val: dict | None = None
    best_epoch: int = 0
    saved_peak: int = 0  # largest saved-for-backward bytes of a step so far (the train phase's memory figure)
    elapsed_s: float = 0.0  # training time of earlier sessions of this run
    best_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    def position(self) -> tuple[int, int]:
        return self.epoch, self.step_in_epoch


def rng_state() -> dict:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    random.setstate(_as_tuple(state["python"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x):
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def save(
    run_dir: Path, *, config: dict, model, optimizer, scheduler, state: TrainState, total_steps: int, reason: str
) -> tuple[Path, int]:
    """Write checkpoint.pt (atomically) and its sidecar; return (path, bytes)."""
    path = Path(run_dir) / CHECKPOINT
    payload = {
        "format": FORMAT,
        "config_json": json.dumps(config, sort_keys=True),
        "cwd": os.getcwd(),  # relative data/backbone paths in config.json are relative to this
        "total_steps": total_steps,
        "state": {k: v for k, v in asdict(state).items() if k != "best_state"},
        "best_state": state.best_state,
        "trainable": {n: p.detach().to("cpu", copy=True) for n, p in model.trainable_named_parameters().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(),
    }
    write_atomic(path, lambda tmp: torch.save(payload, tmp), "a checkpoint")
    write_json_atomic(
        path.with_name(SIDECAR),
        {
            "step": state.step,
            "total_steps": total_steps,
            "epoch": state.epoch,
            "step_in_epoch": state.step_in_epoch,
            "reason": reason,
            "ts": round(time.time(), 3),
        },
    )
    return path, path.stat().st_size


def load(run_dir: Path) -> dict:
    path = Path(run_dir) / CHECKPOINT
    try:
        # weights_only: a checkpoint is data; loading it never runs code from the file.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        # open_for_resume checked that it exists; only a file removed meanwhile (a second process) lands here
        raise BadInput(
            f"{run_dir} has no {CHECKPOINT} any more (was the run resumed or deleted meanwhile?)",
            "resume it again: a run without a checkpoint starts from the beginning",
        ) from None
    except Exception as e:  # any unreadable file is the same problem for the user
        raise BadInput(
            f"cannot read {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
            "the checkpoint is damaged; start the run again",
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise BadInput(
            f"{path} is not a Ladder Lab checkpoint of format {FORMAT}",
            "it was written by another version of the engine; start the run again",
        )
    payload["config"] = json.loads(payload["config_json"])
    return payload


def open_for_resume(run_dir: str | Path) -> tuple[dict, dict | None]:
    """Check that RUN_DIR can be resumed; return (config.json as a dict, checkpoint payload). BadInput otherwise.
    The payload is None when the run stopped before its first checkpoint: it starts again from config.json."""
    folder = Path(run_dir).expanduser()
    if not folder.is_dir():
        raise BadInput(f"run folder not found: {folder}", "pass the folder of a stopped run (under your runs_dir)")
    if (folder / "summary.json").is_file():
        raise BadInput(
            f"run {folder.name} already finished (it has summary.json); there is nothing to resume",
            "start a new run to train again",
        )
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(
            f"{folder} has no config.json, so it is not a Ladder Lab run folder", "pass the folder of a stopped run"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(
            f"{config_path} is not valid JSON ({e})", "the run folder is damaged; start the run again"
        ) from None
    if not (folder / CHECKPOINT).is_file():
        return config, None
    payload = load(folder)
    saved = payload["config"]
    differing = sorted(k for k in set(config) | set(saved) if config.get(k) != saved.get(k))
    if differing:
        raise BadInput(
            f"{config_path} does not match the config the checkpoint was trained with "
            f"(differs in: {', '.join(differing)})",
            "restore config.json as it was, or start a new run with the new settings",
        )
    return config, payload


def apply(payload: dict, model, optimizer, scheduler) -> TrainState:
    """Load the trainable weights, optimizer, schedule and RNG states; return the training position."""
    mismatch = model.trainable_mismatch(payload["trainable"])
    if mismatch:
        raise BadInput(
            f"the checkpoint does not fit the model built from config.json "
            f"({len(mismatch)} parameters differ, e.g. {mismatch[0]})",
            "the engine or backbone changed since the run started; start the run again",
        )
    model.load_trainable(payload["trainable"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    restore_rng(payload["rng"])
    return TrainState(**payload["state"], best_state=payload["best_state"])


def remove(run_dir: Path) -> None:
    """After a successful finish: the checkpoint is no longer needed (summary.json marks the run finished)."""
    for name in (CHECKPOINT, SIDECAR):
        (Path(run_dir) / name).unlink(missing_ok=True)
