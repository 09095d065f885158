"""Run folders: the source of truth the extension and scripts read back.

<runs_dir>/<YYYYmmdd-HHMMSS>-<method>-<4 hex>/
    config.json          the resolved experiment (every default filled in) + the method
    events.jsonl         every event of the run, one per line, flushed as written
    metrics.json         final test metrics (and the best validation metrics)
    summary.json         the run_finished summary (method, trainable %, memory, metrics)
    trainable.safetensors  the trained parameters (only what the method trains)
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from .errors import BadInput


def create_run_dir(runs_dir: str | Path, method: str) -> Path:
    root = Path(runs_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"cannot create runs directory {root}: {e.strerror}", "pass --runs-dir to a writable folder") from None
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


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temp file then rename, so a reader never sees half a file, even after a kill."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_trainable(path: Path, named_params: dict[str, torch.Tensor]) -> None:
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in named_params.items()}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, path)
