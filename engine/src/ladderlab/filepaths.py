"""Paths written in an experiment file are read from the file's own folder, as the extension's form writes them.

A ``*.ladder.json`` names its data (and a backbone folder, a runs folder) relative to where it lies, so the same file
means the same data whether ``ladderlab --config`` is started from the repository root, from the file's folder, or
by the extension; ``~`` is the home folder (Path.expanduser) and ``..`` climbs from the file's folder. The extension
applies the same rule (src/views/pathPolicy.ts, ``experimentPath``). Flags stay relative to the working folder, as
any command-line path is. A hub name (a model id ``org/name[@revision]``, a dataset ``org/name[:config]``) stays as
written unless a file or folder by that name lies beside the experiment file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import FIELDS
from .data.hf_datasets import parse_dataset_name
from .data.sample import SAMPLE
from .fields import info_of
from .hub import parse_hub_id

# Fields whose value is a path, and the words that are not paths. The backbone is a folder unless it is "default" or
# "preset:NAME" (backbones.py); data is a path unless it is the packaged sample's word.
PATH_FIELDS = ("backbone", *(name for name, f in FIELDS.items() if info_of(f).path))
NOT_A_PATH = {"backbone": ("default",), "data": (SAMPLE,)}
NOT_A_PATH_PREFIX = {"backbone": "preset:"}
HUB_NAME = {"backbone": parse_hub_id, "data": parse_dataset_name}  # a hub name, or None when the value is not one


def is_path_value(name: str, value: object) -> bool:
    """Whether ``value`` of field ``name`` names a file or folder (not a word such as "default" or "sample")."""
    if name not in PATH_FIELDS or not isinstance(value, str) or value == "":
        return False
    prefix = NOT_A_PATH_PREFIX.get(name)
    return value not in NOT_A_PATH.get(name, ()) and not (prefix and value.startswith(prefix))


def resolve_file_paths(values: dict, folder: Path) -> dict:
    """``values`` (read from a file in ``folder``) with every relative path made absolute from ``folder``."""
    out = dict(values)
    for name in PATH_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and is_path_value(name, value):
            path = Path(value).expanduser()
            parse = HUB_NAME.get(name)
            if parse is not None and parse(value) is not None and not (folder / path).exists():
                continue  # a hub name, read by hub.py / data/hf_datasets.py
            # Lexically, as Node's path.resolve does in the extension: "a/../b" is "b", symlinks are kept.
            out[name] = os.path.abspath(folder / path)
    return out
