"""The LST paper's Figure 8 in miniature, plus its Appendix A designs: what the ladders add, on real data.

    .venv/bin/python bench/figure8.py --data ../shared/data/glue/SST-2           # ~30 min on 2 quiet CPU cores
    .venv/bin/python bench/figure8.py --data ../shared/data/glue/SST-2 --quick   # smoke run, a couple of minutes

--data is the full GLUE SST-2 folder (train.tsv, dev.tsv). The embedded backbone (all-MiniLM-L6-v2), r=8 and
every side layer kept for every design, as the paper runs Figure 8 ("we do not drop any layer in the side network
but only remove the shortcuts"); LST's learning rate (3e-3) for all. Designs (experiment fields of method lst):

- lst: ladders into every side block (the paper's design), pruning (Fisher) init, then distillation init;
- side_tuning: one late fusion before the head (Zhang et al.), pruning init, then distillation init;
- compression: the pruned side network alone, no backbone, pruning init, then distillation init;
- Appendix A: side_block adapter (Adapter blocks + gates), fusion cross_attention (Transformer blocks +
  cross-attention). A design this engine does not have (a field or a choice missing) is skipped and listed.

Same protocol as bench/sst2_accuracy.py (3,000 training sentences; validation = 1,000 held out of train picks
the best epoch; test = the official dev set, 872 sentences). One seed: the binomial standard error of a test
accuracy near 80% is about 1.4 points, so differences under ~3 points are not evidence. The paper's ordering
(T5-base, GLUE) is LST > side-tuning > compression, with pruning and distillation init close; the table says
whether this run shows it. The result goes to bench/results/figure8-<date>-cpu.json (--quick: -quick.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import time
from pathlib import Path

import torch

from ladderlab.comparison import prepare
from ladderlab.config import FIELDS, build_experiment
from ladderlab.errors import BadInput
from ladderlab.events import EventSink
from ladderlab.fields import info_of
from ladderlab.train import Run

HERE = Path(__file__).resolve().parent
DISTIL = {"init": "distillation"}
# name -> the fields that make the design (on top of the paper's LST settings below)
DESIGNS = {
    "lst": {},
    "lst-distillation": DISTIL,
    "side_tuning": {"side_network": "side_tuning"},
    "side_tuning-distillation": {"side_network": "side_tuning", **DISTIL},
    "compression": {"side_network": "compression"},
    "compression-distillation": {"side_network": "compression", **DISTIL},
    "adapter-blocks": {"side_block": "adapter"},
    "cross-attention": {"fusion": "cross_attention"},
}
# (full, --quick): the quick settings only show that every design builds, initialises, trains and evaluates.
SETTINGS = {
    "max_train_examples": (3000, 64),
    "max_eval_examples": (None, 32),
    "epochs": (4, 1),
    "fisher_samples": (128, 8),
    "distill_steps": (100, 4),
}


def missing(fields: dict) -> str | None:
    """Why this engine cannot run the design (a field or choice not there yet), or None."""
    for name, value in fields.items():
        if name not in FIELDS:
            return f"this engine has no field {name}"
        choices = info_of(FIELDS[name]).choices
        if choices is not None and value not in choices:
            return f"this engine's {name} has no choice {value}"
    return None


def phase_seconds(run_dir: Path) -> tuple[float | None, float | None]:
    """(init, training) seconds from the run's own events: run start to the train phase, train to eval."""
    starts = {}
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "run_started":
            starts["run"] = event["ts"]
        elif event["type"] == "phase_started":
            starts.setdefault(event["phase"], event["ts"])
    init = starts["train"] - starts["run"] if {"run", "train"} <= starts.keys() else None
    train = starts["eval"] - starts["train"] if {"train", "eval"} <= starts.keys() else None
    return (round(init, 1) if init is not None else None), (round(train, 1) if train is not None else None)


def run_design(name: str, fields: dict, base, backbone, data, sink) -> dict:
    row: dict = {"design": name, "fields": fields}
    if (why := missing(fields)) is not None:
        return {**row, "status": "skipped", "reason": why}
    started = time.time()
    try:
        exp = dataclasses.replace(base, **fields)
        summary = Run(exp, "lst", backbone, data, sink).execute()
    except (BadInput, NotImplementedError) as e:  # a design this engine refuses is a result, not a crash
        return {**row, "status": "failed", "reason": str(e)}
    init_s, train_s = phase_seconds(Path(summary["run_dir"]))
    return {
        **row,
        "status": "ok",
        "trainable_pct": summary["trainable_pct"],
        "validation_accuracy": round(summary["validation_metrics"]["accuracy"], 2),
        "test_accuracy": round(summary["metrics"]["accuracy"], 2),
        "best_epoch": summary["best_epoch"],
        "saved_for_backward_bytes": summary["memory"]["saved_for_backward_bytes"],
        "accounted_bytes": summary["memory"]["accounted_bytes"],
        "init_seconds": init_s,
        "train_seconds": train_s,
        "seconds": round(time.time() - started, 1),
    }


def table(rows: list[dict], test_size: int) -> str:
    lines = [
        "| design | trainable % | init s | train s | saved-for-backward MiB | val acc | test acc (± s.e.) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['design']} | {r['status']}: {r['reason']} | | | | | |")
            continue
        p = r["test_accuracy"] / 100
        se = 100 * math.sqrt(p * (1 - p) / test_size)
        lines.append(
            f"| {r['design']} | {r['trainable_pct']:.2f} | {r['init_seconds']} | {r['train_seconds']} | "
            f"{r['saved_for_backward_bytes'] / 2**20:.1f} | {r['validation_accuracy']:.2f} | "
            f"{r['test_accuracy']:.2f} ± {se:.1f} |"
        )
    return "\n".join(lines)


def ordering(rows: list[dict]) -> str:
    """Whether this run shows the paper's ordering LST > side-tuning > compression (pruning init)."""
    acc = {r["design"]: r["test_accuracy"] for r in rows if r["status"] == "ok"}
    needed = ("lst", "side_tuning", "compression")
    if not all(d in acc for d in needed):
        return "paper's ordering not checked: a design of Figure 8 did not run"
    shown = acc["lst"] > acc["side_tuning"] > acc["compression"]
    values = ", ".join(f"{d} {acc[d]:.2f}" for d in needed)
    return f"paper's ordering LST > side-tuning > compression {'holds' if shown else 'does NOT hold'} here ({values})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the full GLUE SST-2 folder (train.tsv, dev.tsv)")
    parser.add_argument("--quick", action="store_true", help="tiny settings: shows every design runs, no figures")
    parser.add_argument("--designs", help=f"comma-separated subset of: {', '.join(DESIGNS)}")
    args = parser.parse_args()
    chosen = args.designs.split(",") if args.designs else list(DESIGNS)
    if unknown := [d for d in chosen if d not in DESIGNS]:
        parser.error(f"unknown design(s) {unknown}; choose from {', '.join(DESIGNS)}")
    sizes = {name: values[1 if args.quick else 0] for name, values in SETTINGS.items()}
    base = build_experiment(
        {},
        {
            "backbone": "default",
            "task": "sst2",
            "data": args.data,
            "methods": ["lst"],
            "r": 8,
            "init": "fisher",
            "ladder_init": "selection",  # the paper's pruning init (pca, the default since issue 16, is ours)
            "batch_size": 16,
            "lr": 3e-3,
            "max_length": 64,  # SST-2 sentences are short: 64 tokens fit 99% (bench/sst2_accuracy.py)
            "runs_dir": str(HERE / ".runs"),
            "device": "cpu",
            **sizes,
        },
    )
    backbone, data = prepare(base)
    sink = EventSink("quiet")
    load_before = os.getloadavg()
    rows = []
    for name in chosen:
        rows.append(run_design(name, DESIGNS[name], base, backbone, data, sink))
        print(json.dumps(rows[-1]), flush=True)
    test_size = len(data.features["test"])
    verdict = ordering(rows)
    print(table(rows, test_size))
    print(verdict)
    out = HERE / "results" / f"figure8-{datetime.date.today().isoformat()}-cpu{'-quick' if args.quick else ''}.json"
    result = {
        "date": datetime.date.today().isoformat(),
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "backbone": "all-MiniLM-L6-v2 (embedded)",
        "task": "sst2",
        "settings": {**sizes, "r": 8, "lr": 3e-3, "batch_size": 16, "max_length": 64, "keep_layers": "all"},
        "test_examples": test_size,
        "quick": args.quick,
        "ordering": verdict,
        "rows": rows,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
