"""Accuracy on real data: every method on SST-2 with the MiniLM backbone, on a CPU budget.

    .venv/bin/python bench/sst2_accuracy.py --data GLUE/SST-2           # the benchmark (~30 min on 2 CPU cores)
    .venv/bin/python bench/sst2_accuracy.py --data GLUE/SST-2 --sweep   # short learning-rate sweep first (~25 min)

--data is the full GLUE SST-2 folder (train.tsv with 67,349 rows, dev.tsv with 872; GLUE's
download_glue_data.py writes it); the rows in engine/tests/fixtures/glue-real are too few for this benchmark.

Splits follow the paper (§4): validation = 1,000 held out from train (picks the best epoch), test = the full
official dev set (872). Each method uses the paper's learning rate (Table 5) unless --sweep (or --lr-file)
gives a better one on validation. Prints the accuracy / trainable % / memory table and writes it as JSON
under bench/results/. Target: LST within 1 point of LoRA.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from ladderlab.comparison import prepare
from ladderlab.config import DEFAULT_LR, build_experiment
from ladderlab.events import EventSink
from ladderlab.train import Run

HERE = Path(__file__).resolve().parent
METHODS = ["lst", "lora", "adapter", "bitfit", "prompt", "full"]
# The paper searched {3e-4, 1e-3, 3e-3} for LST and LoRA; MiniLM is smaller than T5-base, so full
# fine-tuning gets BERT-style rates. Prompt tuning is not swept (each run costs ~4x: 100 extra tokens).
SWEEP = {
    "lst": [1e-3, 3e-3],
    "lora": [3e-4, 1e-3, 3e-3],
    "adapter": [3e-4, 1e-3],
    "bitfit": [1e-3, 3e-3],
    "prompt": [3e-1],
    "full": [3e-5, 1e-4],
}


def run_all(base, lrs: dict[str, float], methods, quiet: bool) -> list[dict]:
    backbone, data = prepare(base)
    sink = EventSink("quiet" if quiet else "text")
    rows = []
    for method in methods:
        exp = dataclasses.replace(base, methods=[method], lr=lrs[method])
        started = time.time()
        try:
            summary = Run(exp, method, backbone, data, sink).execute()
        except Exception as e:  # a diverged lr in a sweep is a result, not a reason to stop
            print(f"{method} lr={lrs[method]:g}: failed: {e}")
            continue
        rows.append(
            {
                "method": method,
                "lr": lrs[method],
                "trainable_pct": summary["trainable_pct"],
                "validation_accuracy": summary["validation_metrics"]["accuracy"],
                "test_accuracy": summary["metrics"]["accuracy"],
                "best_epoch": summary["best_epoch"],
                "accounted_bytes": summary["memory"]["accounted_bytes"],
                "saved_for_backward_bytes": summary["memory"]["saved_for_backward_bytes"],
                "seconds": round(time.time() - started, 1),
                "train_seconds": train_seconds(Path(summary["run_dir"])),
            }
        )
        print(
            f"{method} lr={lrs[method]:g}: val {rows[-1]['validation_accuracy']:.2f} "
            f"test {rows[-1]['test_accuracy']:.2f} ({rows[-1]['seconds']:.0f}s)",
            flush=True,
        )
    return rows


def train_seconds(run_dir: Path) -> float:
    """The run's training time alone: its steps' own durations (events.jsonl), without the init, the evaluations and
    the loading that ``seconds`` includes, so that methods can be compared at equal training time."""
    with open(run_dir / "events.jsonl", encoding="utf-8") as events:
        steps = [json.loads(line) for line in events if '"train_step"' in line]
    return round(sum(e["step_s"] for e in steps if e["type"] == "train_step"), 1)


def table(rows: list[dict]) -> str:
    lines = [
        "| method | lr | trainable % | train memory MiB (accounted) | saved-for-backward MiB | "
        "val acc | test acc (SST-2 dev, 872) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['lr']:g} | {r['trainable_pct']:.2f} | {r['accounted_bytes'] / 2**20:.0f} | "
            f"{r['saved_for_backward_bytes'] / 2**20:.0f} | {r['validation_accuracy']:.2f} | "
            f"{r['test_accuracy']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the full GLUE SST-2 folder (train.tsv, dev.tsv)")
    parser.add_argument("--train", type=int, default=3000, help="training examples (seeded, stratified subset)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64, help="SST-2 sentences are short: 64 tokens fit 99%%")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--sweep", action="store_true", help="sweep learning rates on a small budget first")
    parser.add_argument("--lr-file", help="JSON {method: lr} from an earlier sweep")
    parser.add_argument("--runs-dir", default=".ladderlab/bench-runs")
    args = parser.parse_args()
    methods = args.methods.split(",")
    common = {
        "task": "sst2",
        "data": args.data,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "runs_dir": args.runs_dir,
        "fisher_samples": 128,
    }
    lrs = {m: DEFAULT_LR[m] for m in methods}
    if args.lr_file:
        lrs.update(json.loads(Path(args.lr_file).read_text()))
    if args.sweep:
        sweep_base = build_experiment({}, {**common, "max_train_examples": 1000, "max_eval_examples": 500, "epochs": 1})
        best = {}
        for method in methods:
            for lr in SWEEP[method] if len(SWEEP[method]) > 1 else []:
                for row in run_all(sweep_base, {method: lr}, [method], quiet=True):
                    if method not in best or row["validation_accuracy"] > best[method][1]:
                        best[method] = (lr, row["validation_accuracy"])
        lrs.update({m: lr for m, (lr, _) in best.items()})
        print("sweep picked:", json.dumps(lrs))
    base = build_experiment({}, {**common, "max_train_examples": args.train, "epochs": args.epochs})
    rows = run_all(base, lrs, methods, quiet=True)
    print(table(rows))
    out = HERE / "results" / f"sst2-accuracy-{time.strftime('%Y-%m-%d')}-cpu.json"
    out.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "device": "cpu",
                "train_examples": args.train,
                "epochs": args.epochs,
                "rows": rows,
            },
            indent=2,
        )
    )
    by = {r["method"]: r["test_accuracy"] for r in rows}
    if "lst" in by and "lora" in by:
        print(f"LST - LoRA = {by['lst'] - by['lora']:+.2f} points (target: within 1 point)")


if __name__ == "__main__":
    main()
