"""The pruning init's result (the index sets the side network is cut to), or the distillation init's (the side
network's distilled weights), kept under the runs dir by what it depends on, so a re-run, an r-variant's twin, a
sweep trial or a second comparison does not recompute it.

Key: the backbone (its name; for a folder, its path and every weight file's size and mtime), the seed (a preset's
weights and every task head's random init come from it), the Fisher examples themselves (their token ids and
labels, hashed: this covers the data, its split, max_length and the tokenizer), and the settings the choice reads
(init, ladder_init, r, kept layers, side_heads, fisher_samples, backbone_dtype; a pca basis reads the examples too).
Distillation also depends on its training examples (hashed as above, in order), its budget and optimiser
(distill_steps, batch_size, LST's learning rate, max_grad_norm), the taps' dtype and attention kernel, and the
student's starting weights (hashed by distill.py: they carry every field that shapes the side network). Entries are
written atomically; an unreadable entry is treated as a miss and rewritten.
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
    if exp.init in ("fisher", "magnitude"):
        parts.update(ladder_init=exp.ladder_init)  # pca: the sets carry the taps' basis (ladder_basis.py)
    if exp.init == "fisher" or (exp.init == "magnitude" and exp.ladder_init == "pca"):  # pca reads the examples' taps
        parts.update(fisher_samples=exp.fisher_samples, examples=examples_digest(examples))
    if exp.init == "distillation":
        parts.update(
            distill_steps=exp.distill_steps,
            batch_size=exp.batch_size,
            lr=exp.lr_for("lst"),
            max_grad_norm=exp.max_grad_norm,
            tap_dtype=exp.tap_dtype,
            side_attention=exp.side_attention,
            examples=examples_digest(examples),
        )
    return _key_of(parts), parts


def _key_of(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


class InitCache:
    """One entry: ``<runs_dir>/.cache/lst-init/<key>.safetensors`` (tensors only: reading it runs no code).
    ``hit`` says whether the last ``load`` found it."""

    def __init__(self, runs_dir: str | Path, key: str, parts: dict):
        self.folder = Path(runs_dir).expanduser() / ".cache" / "lst-init"
        self.path = self.folder / f"{key}.safetensors"
        self.key, self.parts = key, parts
        self.hit = False

    def depend_on(self, **parts) -> None:
        """Add what only the model knows (distillation: the student's starting weights) to the key."""
        self.parts = {**self.parts, **parts}
        self.key = _key_of(self.parts)
        self.path = self.folder / f"{self.key}.safetensors"

    def load_tensors(self) -> dict[str, torch.Tensor] | None:
        """The entry's tensors by name, or None (missing, damaged, or made from other parts)."""
        try:
            with safe_open(str(self.path), framework="pt") as f:
                if (f.metadata() or {}).get("parts") != json.dumps(self.parts, sort_keys=True):
                    return None
                flat = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is no dict)
        except Exception:  # missing or damaged: recomputed (and a damaged entry replaced)
            return None
        self.hit = True
        return flat

    def load(self) -> dict | None:
        """The pruning init's index sets."""
        flat = self.load_tensors()
        if flat is None:
            return None
        sets: dict[str, list[dict[str, torch.Tensor]]] = {}
        for name, tensor in flat.items():  # "<stack>/<kept layer k>/<role>"
            stack, k, role = name.split("/")
            layers = sets.setdefault(stack, [])
            while len(layers) <= int(k):
                layers.append({})
            layers[int(k)][role] = tensor
        return sets

    def store(self, sets: dict) -> None:
        """The pruning init's index sets."""
        self.store_tensors(
            {
                f"{stack}/{k}/{role}": t  # shared sets (R) stored once each
                for stack, layers in sets.items()
                for k, layer in enumerate(layers)
                for role, t in layer.items()
            }
        )

    def store_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Atomically (a unique temp file in the same folder, then rename): concurrent runs never see half."""
        flat = {name: t.detach().to("cpu", copy=True).contiguous() for name, t in tensors.items()}
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
