"""Run folders: the source of truth the extension and scripts read back.

<runs_dir>/<YYYYmmdd-HHMMSS>-<method>-<4 hex>/
    config.json          the resolved experiment (every default filled in) + the method, its lr, the device, the
                         comparison it was part of and the experiment file it was started from (null: flags only)
    label.json           (optional, written by the extension) the user's name for the run: {"label": "..."}
    events.jsonl         every event of the run, one per line, flushed as written
    metrics.json         final test metrics (and the best validation metrics)
    summary.json         the run_finished summary (method, trainable %, memory, metrics)
    trainable.safetensors  the trained parameters (only what the method trains)
    checkpoint.pt        while training: the resumable state (ladderlab.checkpoint); deleted at a successful end
    checkpoint.json      while training: step/epoch of checkpoint.pt, for display

Every file is written to a temp file and renamed into place, so a reader (or a resume after kill -9) never sees
half a file; a full disk is a clear BadInput and the previous version of the file stays intact.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors.torch import save_file

from .errors import BadInput, for_client

# Where runs started from VS Code go (the extension passes it as --runs-dir): what a hint read there says to change.
RUNS_SETTING = "the ladderLab.runsDir setting"


def create_run_dir(runs_dir: str | Path, method: str) -> Path:
    root = Path(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(
            f"cannot create runs directory {root}: {e.strerror}",
            for_client(cli="pass --runs-dir to a writable folder", vscode=f"set {RUNS_SETTING} to a writable folder"),
        ) from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for _ in range(100):
        # mkdir without exist_ok is atomic: two runs started at once never share a folder.
        path = root / f"{stamp}-{method}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a unique run folder under {root}")


# errno values that mean "the disk (or the user's quota) is full".
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def write_atomic(path: Path, write: Callable[[Path], None], what: str = "run files") -> None:
    """``write(tmp)`` then fsync and rename over ``path``. On any failure the temp file is removed and ``path``
    keeps its previous content; a full disk becomes a BadInput saying where and what to do."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError) and e.errno in DISK_FULL:
            raise BadInput(
                f"no space left writing {what} to {path}",
                "free space on that disk, or "
                + for_client(
                    cli="pass --runs-dir to a folder on a disk with room",
                    vscode=f"set {RUNS_SETTING} to a folder on a disk with room",
                ),
            ) from None
        raise


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temp file then rename, so a reader never sees half a file, even after a kill."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)

    write_atomic(path, write, path.name)


def save_trainable(path: Path, named_params: Mapping[str, torch.Tensor]) -> None:
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in named_params.items()}
    write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata={"format": "pt"}), path.name)


def repair_torn_tail(path: Path) -> int:
    """Cut an unterminated last line (a write torn by kill -9) off a JSON-lines file before appending to it, so
    the file never holds a bad line in the middle. Returns the number of bytes removed (0 if the file is whole)."""
    if not path.is_file():
        return 0
    with open(path, "rb+") as f:
        data = f.read()
        if not data or data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
        return len(data) - keep
