"""LST against LoRA at equal training time, on a bench/lst_accuracy.py setting (issue 16).

    .venv/bin/python bench/equal_time.py                  # demo-2k, seed 0: about 7 minutes on 2 cores
    .venv/bin/python bench/equal_time.py --seeds 0,1,2

The arms run one after another in this process, so their times compare only on an otherwise idle machine. An arm's
time is its training steps alone (sst2_accuracy.train_seconds): no init, loading or evaluation. Each arm is printed
with that time as a ratio of LoRA's epoch, and with its test and validation accuracy. The rows go to
bench/results/equal-time-<setting>-<date>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import statistics
from pathlib import Path

import torch
from lst_accuracy import GLUE, SETTINGS, setting_fields
from sst2_accuracy import run_all

from ladderlab.config import build_experiment

HERE = Path(__file__).resolve().parent
# arm -> (method, experiment fields over the setting's). LoRA's single epoch is the reference the others are timed
# against. The second LST epoch can read the taps kept from the first instead of running the backbone (tap_cache).
ARMS = {
    "lora": ("lora", {}),
    "lst": ("lst", {}),
    "lst, 2 epochs": ("lst", {"epochs": 2}),
    "lst, 2 epochs, tap_cache cpu": ("lst", {"epochs": 2, "tap_cache": "cpu"}),
}
REFERENCE = "lora"


def summarise(rows: list[dict]) -> str:
    """One line per arm: mean training time, its ratio of the reference's, and mean test/validation accuracy."""

    def mean(arm: str, key: str) -> float:
        return statistics.mean(r[key] for r in rows if r["arm"] == arm)

    reference = mean(REFERENCE, "train_seconds")
    lines = []
    for arm in ARMS:
        if not any(r["arm"] == arm for r in rows):
            continue
        seconds = mean(arm, "train_seconds")
        tests = [r["test_accuracy"] for r in rows if r["arm"] == arm]
        spread = f" ± {statistics.stdev(tests):.2f}" if len(tests) > 1 else ""
        lines.append(
            f"{arm:30} {seconds:6.1f} s ({seconds / reference:.2f}x {REFERENCE}'s)  "
            f"test {statistics.mean(tests):.2f}{spread}  validation {mean(arm, 'validation_accuracy'):.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", default="demo-2k", choices=list(SETTINGS))
    parser.add_argument("--glue", default=GLUE, help="the GLUE folder holding SST-2/ (the sst2 setting)")
    parser.add_argument("--seeds", default="0")
    # 3e-3: the rate bench/lst_accuracy.py chose on validation for both methods on demo-2k, at 1 and at 2 epochs
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()
    base = build_experiment({}, {**setting_fields(args.setting, args.glue), "runs_dir": str(HERE / ".runs")})
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for arm, (method, fields) in ARMS.items():
            exp = dataclasses.replace(base, seed=seed, **fields)
            for result in run_all(exp, {method: args.lr}, [method], quiet=True):
                rows.append({"arm": arm, "seed": seed, **fields, **result})
    print(f"{args.setting}, seeds {args.seeds}, {torch.get_num_threads()} threads:\n{summarise(rows)}")
    out = HERE / "results" / f"equal-time-{args.setting}-{datetime.date.today().isoformat()}.json"
    doc = {"setting": args.setting, "settings": SETTINGS[args.setting], "threads": torch.get_num_threads()}
    out.write_text(json.dumps({**doc, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
