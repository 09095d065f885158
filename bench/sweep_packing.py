"""Sweep packing on one GPU: 4 LST trials sharing the device under Ray vs the same 4 run one after another.

    .venv/bin/python bench/sweep_packing.py                         # preset:t5-base LST on the packaged SST-2 sample
    .venv/bin/python bench/sweep_packing.py --backbone preset:bert-base --quick

Needs CUDA (and the sweep extra: pip install 'ladderlab[sweep]'); elsewhere it says so and exits 1. Each of the 4
trials is an LST run (seeds 0-3, same settings). Packed: RayBackend() on a local Ray; each trial asks for the GPU
share its estimated training peak needs (sweep/resources.py), so the 4 run at once on one device (the CPU cores
allow it: one core per trial). One after another: LocalBackend in this process (what --backend local does). The
result: wall time of each and their ratio, each trial's own torch peak (summary.json), the GPU share each asked
for, and the device's peak memory in use while the packed trials ran (all processes: total minus free, sampled
every 0.2 s, less what was in use before). Written to bench/results/sweep-packing-<date>-<gpu>.json.

Ray refuses to start a local cluster where it would listen beyond 127.0.0.1 (ray_backend.py); on such a machine,
run this in a network namespace with only loopback, as root:
    unshare -n sh -c 'ip link set lo up; exec "$0" "$@"' .venv/bin/python bench/sweep_packing.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from ladderlab.events import EventSink
from ladderlab.sweep.spec import parse_sweep
from ladderlab.sweep.store import SweepStore

HERE = Path(__file__).resolve().parent
SEEDS = [0, 1, 2, 3]


def values(backbone: str, quick: bool, runs_dir: Path) -> dict:
    return {
        "backbone": backbone,
        "task": "sst2",
        "data": "sample",  # the SST-2 sample packaged with the engine: runs wherever the engine is installed
        "methods": ["lst"],
        "r": 8,
        "epochs": 1,
        "batch_size": 32,
        "max_length": 128,
        "max_train_examples": 256 if quick else 2000,
        "max_eval_examples": 64 if quick else 300,
        "runs_dir": str(runs_dir),
    }


class DeviceInUse:
    """The peak of the device's memory in use by every process (total minus free), sampled in a thread."""

    def __init__(self, period_s: float = 0.2):
        self.period_s, self.peak, self.baseline = period_s, 0, self.used()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def used() -> int:
        free, total = torch.cuda.mem_get_info()
        return total - free

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.used())
            self._done.wait(self.period_s)

    def __enter__(self) -> DeviceInUse:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._done.set()
        self._thread.join()


def run_sweep(backend, exp_values: dict) -> tuple[float, SweepStore]:
    spec = parse_sweep({"seeds": SEEDS}, exp_values)
    store = SweepStore.create(exp_values["runs_dir"], exp_values, spec, None, EventSink("quiet"), backend=backend)
    started = time.perf_counter()
    backend.run(store.expand(), store, store.runs_dir)
    return time.perf_counter() - started, store


def trial_rows(store: SweepStore) -> list[dict]:
    rows = []
    for t in store.manifest["trials"]:
        summary_path = store.runs_dir / (t["run_id"] or "-") / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
        rows.append(
            {
                "trial_id": t["trial_id"],
                "seed": t["seed"],
                "status": t["status"],
                "train_peak_bytes": summary["memory"]["train_peak_bytes"] if summary else None,
                "duration_s": summary["duration_s"] if summary else None,
                "score": summary["metrics"].get("score") if summary else None,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="preset:t5-base")
    ap.add_argument("--quick", action="store_true", help="256 training rows instead of 2,000: a smoke run")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(
            "sweep_packing: no CUDA device here; this benchmark measures GPU packing and runs only on a GPU",
            file=sys.stderr,
        )
        sys.exit(1)
    from ladderlab.sweep.local import LocalBackend
    from ladderlab.sweep.ray_backend import RayBackend  # the sweep extra: imported once CUDA is known to be there

    gpu = torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory(prefix="sweep-packing-") as tmp:
        one_by_one_s, sequential = run_sweep(
            LocalBackend(EventSink("quiet")), values(args.backbone, args.quick, Path(tmp) / "seq")
        )
        packed_values = values(args.backbone, args.quick, Path(tmp) / "packed")
        backend = RayBackend(EventSink("quiet"))
        with DeviceInUse() as device:
            packed_s, packed = run_sweep(backend, packed_values)
        shares = {t: {**r.bundle(), "estimated_peak_bytes": r.peak_bytes} for t, r in backend.resources.items()}
        result = {
            "gpu": gpu,
            "device_total_bytes": torch.cuda.mem_get_info()[1],
            "settings": {k: v for k, v in packed_values.items() if k != "runs_dir"},
            "trials": len(SEEDS),
            "one_after_another_s": round(one_by_one_s, 1),
            "packed_s": round(packed_s, 1),
            "packed_vs_one_after_another": round(packed_s / one_by_one_s, 3),
            "packed_device_peak_in_use_bytes": device.peak - device.baseline,
            "resources_per_trial": shares,
            "packed_trials": trial_rows(packed),
            "one_after_another_trials": trial_rows(sequential),
        }
    print(json.dumps(result, indent=2))
    name = f"sweep-packing-{time.strftime('%Y-%m-%d')}-{gpu.replace(' ', '-').lower()}{'-quick' if args.quick else ''}"
    out = HERE / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
