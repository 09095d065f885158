"""What freeze_layers saves: the baselines' training memory with their first N layers frozen (the LST paper's Figure 6
baselines), on the embedded MiniLM (6 layers) and real SST-2 rows.

    .venv/bin/python bench/freeze_layers_memory.py                       # the SST-2 rows shipped with the tests
    .venv/bin/python bench/freeze_layers_memory.py --freeze 0,2,4,5 --batch-size 32

Each row is a real run (two steps; memory does not depend on how long it trains): the trainable share and the
"accounted" bytes the engine measures on every device (tensors saved for backward, exactly, plus parameters, gradients
and optimizer state), and the estimator's prediction for the same settings (ladderlab estimate). Accuracy is not
measured here: that is a sweep over freeze_layers. Writes bench/results/freeze-layers-memory-<date>-cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from ladderlab.comparison import run_comparison
from ladderlab.config import build_experiment
from ladderlab.estimate import estimate_all
from ladderlab.events import EventSink

HERE = Path(__file__).resolve().parent
SST2 = HERE.parent / "engine" / "tests" / "fixtures" / "glue-real" / "SST-2"
METHODS = ["full", "lora", "adapter", "bitfit"]
MIB = 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(SST2), help="a GLUE SST-2 folder")
    ap.add_argument("--freeze", default="0,3,5", help="freeze_layers values, comma-separated")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    args = ap.parse_args()
    rows = []
    with TemporaryDirectory() as runs:
        for n in [int(x) for x in args.freeze.split(",")]:
            exp = build_experiment(
                {},
                {
                    "task": "sst2",
                    "data": args.data,
                    "methods": METHODS,
                    "freeze_layers": n,
                    "batch_size": args.batch_size,
                    "max_length": args.max_length,
                    "max_train_examples": 2 * args.batch_size,
                    "max_eval_examples": 16,
                    "epochs": 1,
                    "runs_dir": runs,
                },
            )
            predicted = {row["method"]: row for row in estimate_all(exp)["rows"]}
            for summary in run_comparison(exp, EventSink("quiet")).rows:
                memory, method = summary["memory"], summary["method"]
                rows.append(
                    {
                        "freeze_layers": n,
                        "method": method,
                        "trainable_pct": summary["trainable_pct"],
                        "saved_for_backward_mib": round(memory["saved_for_backward_bytes"] / MIB, 1),
                        "accounted_mib": round(memory["accounted_bytes"] / MIB, 1),
                        "estimated_peak_mib": round(predicted[method]["peak_bytes"] / MIB, 1),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    out = HERE / "results" / f"freeze-layers-memory-{time.strftime('%Y-%m-%d')}-cpu.json"
    settings = {k: v for k, v in vars(args).items() if k != "data"}  # no path of this machine in the result
    result = {"settings": {**settings, "backbone": "default (all-MiniLM-L6-v2)", "methods": METHODS}, "rows": rows}
    result["load_average_1_5_15_min"] = [round(x, 2) for x in os.getloadavg()]
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
