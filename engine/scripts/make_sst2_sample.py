"""Cut the SST-2 sample packaged with the engine (ladderlab/samples/sst2) from a full GLUE SST-2 folder.

    python engine/scripts/make_sst2_sample.py path/to/glue/SST-2 [OUT_FOLDER]

Deterministic: the same GLUE files always give the same sample, byte for byte. train.tsv gets TRAIN_ROWS rows drawn
at random (seeded) from GLUE's 67,349 and kept in their original order, so the engine's split rule (1,000 held out
for validation) leaves 3,000 to train on; dev.tsv is GLUE's whole dev set (872), which the engine uses as the test
set. Lines are copied unchanged, header included.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

TRAIN_ROWS = 4000
SEED = "ladderlab-sst2-sample-v1"  # a string seed: random.Random hashes it the same way on every platform
OUT = Path(__file__).resolve().parents[1] / "src" / "ladderlab" / "samples" / "sst2"


def main(glue_sst2: Path, out: Path = OUT) -> None:
    # Bytes, not text: the sample must be the same bytes as GLUE's lines (no newline or encoding translation).
    train = (glue_sst2 / "train.tsv").read_bytes().splitlines(keepends=True)
    header, rows = train[0], train[1:]
    chosen = sorted(random.Random(SEED).sample(range(len(rows)), TRAIN_ROWS))
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.tsv").write_bytes(header + b"".join(rows[i] for i in chosen))
    (out / "dev.tsv").write_bytes((glue_sst2 / "dev.tsv").read_bytes())
    print(f"wrote {out}: train.tsv {TRAIN_ROWS} of {len(rows)} rows, dev.tsv whole")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(*map(Path, sys.argv[1:]))
