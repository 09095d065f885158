"""A Hugging Face cache laid out exactly as huggingface_hub writes it (models--org--name/blobs/<sha256>,
snapshots/<commit>/<file> as relative links to the blobs, refs/<name> holding the commit), filled from the embedded
all-MiniLM-L6-v2 files. test_hub_cache.py builds its cache with it, and the e2e (test/run-e2e.sh) gives code-server one
so the Experiment form's backbone picker has a cached model to list:

    python engine/tests/hub_layout.py HF_HOME/hub
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

from ladderlab.backbones import default_backbone_path

REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
MAIN = "a" * 40  # the commit refs/main names
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt")


def repo_folder(cache: Path) -> Path:
    return cache / ("models--" + REPO_ID.replace("/", "--"))


def add_snapshot(repo: Path, commit: str, ref: str, files: dict[str, Path]) -> Path:
    """One commit of the repo as huggingface_hub stores it; returns the snapshot folder."""
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for name, source in files.items():
        blob = repo / "blobs" / hashlib.sha256(source.read_bytes()).hexdigest()
        if not blob.exists():
            try:
                os.link(source, blob)  # the same bytes; a copy where the folders are on different disks
            except OSError:
                shutil.copyfile(source, blob)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / ref).write_text(commit)  # no newline, as huggingface_hub writes it
    return snapshot


def minilm_cache(cache: Path) -> Path:
    """``cache`` (an HF_HUB_CACHE folder) holding the embedded model as REPO_ID at MAIN; returns the repo folder."""
    source = default_backbone_path()
    add_snapshot(repo_folder(cache), MAIN, "main", {name: source / name for name in FILES})
    return repo_folder(cache)


if __name__ == "__main__":
    print(minilm_cache(Path(sys.argv[1])))
