"""A learning-rate sweep with early stopping (ASHA) through ``ladderlab sweep`` on a real Ray; run by
test_sweep_early_stopping.py.

    python ray_early_stopping.py RUNS_DIR REPORT_JSON

Run it only inside a network namespace with loopback alone (see ray_two_node_sweep.py). It starts a local Ray with
one CPU, so the trials run one after another in grid order (ASHA is asynchronous: a trial is judged against those
that reached its epoch before it, so the good learning rate goes first), then runs the CLI in this process: backend
auto finds that Ray listens on 127.0.0.1 only and uses it. Two LST trials on the embedded MiniLM and the packaged
SST-2 sample, 2 epochs each: lr 3e-3, which learns (validation accuracy 73 after its first epoch), and lr 1e-8,
which does not move (62.5): ASHA with reduction_factor 2 keeps the better half at epoch 1. Then ``sweep resume``,
which must leave the early-stopped trial alone. REPORT_JSON: the CLI's exit statuses, the sweep folder, the
resume's events.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported: nothing is reported anywhere

import ray  # noqa: E402

from helpers import phase  # noqa: E402  (tests/ is this script's folder, so on sys.path)
from ladderlab import cli  # noqa: E402

LEARNS, HOPELESS = 3e-3, 1e-8
EXPERIMENT = {
    "methods": ["lst"],
    "task": "sst2",
    "data": "sample",
    "init": "magnitude",
    "max_train_examples": 256,
    "max_eval_examples": 64,
    "epochs": 2,
    "batch_size": 16,
    "max_length": 24,
    "sweep": {
        "grid": {"lr": [LEARNS, HOPELESS]},
        "early_stopping": {"metric": "score", "grace_period": 1, "reduction_factor": 2},
    },
}


def ladderlab(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(list(args))
    return status, out.getvalue()


def main() -> None:
    runs_dir, report_path = Path(sys.argv[1]), Path(sys.argv[2])
    began = time.time()
    runs_dir.mkdir(parents=True)
    config = runs_dir.parent / "lr.ladder.json"
    config.write_text(json.dumps({**EXPERIMENT, "runs_dir": str(runs_dir)}))
    phase("starting a local Ray with one CPU", began)
    ray.init(num_cpus=1, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        phase("sweep of 2 trials starting", began)
        status, out = ladderlab("sweep", "--config", str(config), "--json")
        report: dict = {"status": status, "sweep_dir": json.loads(out)["sweep_dir"] if status == 0 else None}
        report["sweep_s"] = round(time.time() - began, 1)
        phase("sweep done, resuming it", began)
        if report["sweep_dir"]:
            status, out = ladderlab("sweep", "resume", report["sweep_dir"], "--format", "events")
            report["resume"] = {"status": status, "events": [json.loads(line) for line in out.splitlines()]}
    finally:
        ray.shutdown()
    report["seconds"] = round(time.time() - began, 1)
    report_path.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
