"""Accuracy effect of each LST memory/speed lever on real data (SST-2, MiniLM), on a CPU budget.

    .venv/bin/python bench/lst_levers_accuracy.py --data GLUE/SST-2     # ~12 min on 2 quiet CPU cores

--data is the full GLUE SST-2 folder, as for bench/sst2_accuracy.py.

Same protocol as bench/sst2_accuracy.py (3,000 training sentences, 2 epochs, validation = 1,000 held out of
train, test = the official dev set, 872): LST at lr 3e-3 with the paper's settings, then with each lever of
``ladderlab bench`` turned on. A lever should leave accuracy within noise (one point = 9 test sentences;
the standard error is about 1.4 points). side_heads=4 needs init=random (the pruning init keeps every head),
so it is compared with the paper's settings under init=random.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import time
from pathlib import Path

from ladderlab.comparison import prepare
from ladderlab.config import build_experiment
from ladderlab.events import EventSink
from ladderlab.train import Run

HERE = Path(__file__).resolve().parent
# backbone_mode=inference is not trained here: its logits are bit-identical to no_grad's (test_lst_levers.py).
VARIANTS = {
    "paper": {},
    "taps-bf16": {"tap_dtype": "bf16"},
    "backbone-bf16": {"backbone_dtype": "bf16", "tap_dtype": "bf16"},
    "cached-taps": {"tap_cache": "cpu"},
    "paper-init-random": {"init": "random"},
    "side-heads-4-init-random": {"init": "random", "side_heads": 4},
}


def _result_file() -> Path:
    return HERE / "results" / f"lst-levers-accuracy-{datetime.date.today().isoformat()}-cpu.json"


def _write(rows: list[dict]) -> Path:
    """After every run, merged with the day's earlier rows (a variant run again replaces its row)."""
    out = _result_file()
    kept = json.loads(out.read_text())["rows"] if out.exists() else []
    names = {r["variant"] for r in rows}
    merged = [r for r in kept if r["variant"] not in names] + rows
    out.write_text(
        json.dumps(
            {
                "date": datetime.date.today().isoformat(),
                "device": "cpu",
                "task": "sst2",
                "train_examples": 3000,
                "epochs": 2,
                "lr": 3e-3,
                "rows": merged,
            },
            indent=2,
        )
        + "\n"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the full GLUE SST-2 folder (train.tsv, dev.tsv)")
    parser.add_argument("--variants", help=f"comma-separated subset of: {', '.join(VARIANTS)}")
    args = parser.parse_args()
    chosen = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    base = build_experiment(
        {},
        {
            "backbone": "default",
            "task": "sst2",
            "data": args.data,
            "methods": ["lst"],
            "max_train_examples": 3000,
            "epochs": 2,
            "batch_size": 16,
            "lr": 3e-3,
            "max_length": 128,
            "runs_dir": str(HERE / ".runs"),
            "device": "cpu",
        },
    )
    backbone, data = prepare(base)
    sink = EventSink("quiet")
    rows = []
    for name in chosen:
        levers = VARIANTS[name]
        exp = dataclasses.replace(base, **levers)
        started = time.time()
        summary = Run(exp, "lst", backbone, data, sink).execute()
        rows.append(
            {
                "variant": name,
                "levers": levers,
                "test_accuracy": round(summary["metrics"]["accuracy"], 2),
                "validation_accuracy": round(summary["validation_metrics"]["accuracy"], 2),
                "best_epoch": summary["best_epoch"],
                "saved_for_backward_bytes": summary["memory"]["saved_for_backward_bytes"],
                "accounted_bytes": summary["memory"]["accounted_bytes"],
                "seconds": round(time.time() - started, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        out = _write(rows)
    print(f"written {out}")


if __name__ == "__main__":
    main()
