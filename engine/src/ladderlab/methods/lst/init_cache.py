"""The pruning init's result (the index sets the side network is cut to), kept under the runs dir by what it
depends on, so a re-run, an r-variant's twin, a sweep trial or a second comparison does not recompute it.

Key: the backbone (its name; for a folder, its path and every weight file's size and mtime), the seed (a preset's
weights and every task head's random init come from it), the Fisher examples themselves (their token ids and
labels, hashed: this covers the data, its split, max_length and the tokenizer), and the settings the choice reads
(init, r, kept layers, side_heads, fisher_samples, backbone_dtype). Sets are small (a few thousand indices) and
are written atomically; an unreadable entry is treated as a miss and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

FORMAT = 1  # bump when the choice of sets changes (then old entries are simply never looked up)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".json", ".model", ".txt")


def _backbone_identity(name: str, folder: Path | None) -> dict:
    if folder is None:
        return {"name": name}
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    return {
        "name": name,
        "folder": str(Path(folder).resolve()),
        "files": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files],
    }


def examples_digest(examples: list[dict]) -> str:
    """Hash of the Fisher examples as the model sees them (token ids, masks, labels), in order."""
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps({k: e[k] for k in sorted(e)}, sort_keys=True, default=str).encode())
    return h.hexdigest()


def init_key(exp, backbone_name: str, backbone_folder: Path | None, examples: list[dict]) -> tuple[str, dict]:
    """(key, the parts it was made from). Fisher needs the examples; magnitude reads only the weights."""
    parts = {
        "format": FORMAT,
        "backbone": _backbone_identity(backbone_name, backbone_folder),
        "seed": exp.seed,
        "init": exp.init,
        "r": exp.r,
        "keep_layers": list(exp.keep_layers) if exp.keep_layers is not None else None,
        "side_heads": exp.side_heads,
        "backbone_dtype": exp.backbone_dtype,
    }
    if exp.init == "fisher":
        parts.update(fisher_samples=exp.fisher_samples, examples=examples_digest(examples))
    blob = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32], parts


class InitCache:
    """One entry: ``<runs_dir>/.cache/lst-init/<key>.safetensors`` (tensors only: reading it runs no code).
    ``hit`` says whether the last ``load`` found it."""

    def __init__(self, runs_dir: str | Path, key: str, parts: dict):
        self.path = Path(runs_dir).expanduser() / ".cache" / "lst-init" / f"{key}.safetensors"
        self.key, self.parts = key, parts
        self.hit = False

    def load(self) -> dict | None:
        try:
            with safe_open(str(self.path), framework="pt") as f:
                if (f.metadata() or {}).get("parts") != json.dumps(self.parts, sort_keys=True):
                    return None
                flat = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is no dict)
        except Exception:  # missing or damaged: recomputed (and a damaged entry replaced)
            return None
        sets: dict[str, list[dict[str, torch.Tensor]]] = {}
        for name, tensor in flat.items():  # "<stack>/<kept layer k>/<role>"
            stack, k, role = name.split("/")
            layers = sets.setdefault(stack, [])
            while len(layers) <= int(k):
                layers.append({})
            layers[int(k)][role] = tensor
        self.hit = True
        return sets

    def store(self, sets: dict) -> None:
        """Atomically (a unique temp file in the same folder, then rename): concurrent runs never see half."""
        flat = {
            f"{stack}/{k}/{role}": t.detach().to("cpu", copy=True)  # shared sets (R) stored once each
            for stack, layers in sets.items()
            for k, layer in enumerate(layers)
            for role, t in layer.items()
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            os.close(fd)
            try:
                save_file(flat, tmp, metadata={"parts": json.dumps(self.parts, sort_keys=True)})
                os.replace(tmp, self.path)
            finally:
                Path(tmp).unlink(missing_ok=True)
        except Exception:  # a cache that cannot be written only costs the next run the computation
            pass
