"""``ladderlab sweep plan``: what a sweep file would run, before anything runs (the Experiment form shows it).

    {"config": F, "count": 4, "max_trials": 64, "seeds": [0, 1],
     "trials": [{"trial_id": "t0000", "method": "lst", "point": {"r": 4}, "seed": 0,
                 "peak_bytes": 123456, "total_steps": 38}, ...]}

The trials are spec.expand's, after spec.read_sweep_file's checks: the same expansion and the same refusals (naming
the field, exit 2) as ``ladderlab sweep``, nothing created. With ``estimate``, each trial also gets the engine's
predicted training peak (estimate.estimate_run on the run's longest batch, as ``ladderlab estimate`` traces it) and
its number of training steps (train.Run's count: epochs x batches of the training split), from which a client that
knows a measured time per step can tell how long the sweep takes. Seeds share a point's estimate: a seed changes no
tensor's size. Without ``estimate`` nothing imports torch, so the count comes back in well under a second.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .spec import expand, read_sweep_file


def plan(path: str | Path, estimate: bool = False) -> dict:
    values, spec = read_sweep_file(path)  # BadInput for a refused grid, exactly as `ladderlab sweep`
    trials = expand(values, spec)
    rows = [{"trial_id": t.trial_id, "method": t.method, "point": t.point, "seed": t.seed} for t in trials]
    if estimate:
        per_point: dict[str, dict] = {}
        for row, trial in zip(rows, trials, strict=True):
            key = json.dumps([trial.method, trial.point], sort_keys=True)
            if key not in per_point:
                per_point[key] = _estimate(trial.values, trial.method)
            row.update(per_point[key])
    return {"config": str(path), "count": len(rows), "max_trials": spec.max_trials, "seeds": spec.seeds, "trials": rows}


def _estimate(values: dict, method: str) -> dict:
    """One trial's predicted peak and its training steps (None where the training data cannot be read)."""
    from ..backbones import load_backbone  # torch: only when an estimate is asked for
    from ..config import build_experiment
    from ..estimate import data_length, estimate_run

    exp = build_experiment(values, {})
    batch = data_length(exp, load_backbone(exp.backbone))
    peak = estimate_run(exp, method, length=batch["length"], rows=batch["rows"])["peak_bytes"]
    examples = batch.get("train_examples")
    steps = exp.epochs * math.ceil(examples / exp.batch_size) if examples else None
    return {"peak_bytes": peak, "total_steps": steps}


def format_plan(result: dict) -> str:
    """One line per trial, for a terminal."""
    lines = [f"{result['count']} trials (max_trials {result['max_trials']})"]
    for t in result["trials"]:
        point = " ".join(f"{k}={json.dumps(v)}" for k, v in t["point"].items()) or "-"
        extra = ""
        if "peak_bytes" in t:
            steps = "?" if t["total_steps"] is None else t["total_steps"]
            extra = f"  peak {t['peak_bytes'] / 2**20:.1f} MiB  {steps} steps"
        lines.append(f"  {t['trial_id']} {t['method']:8} {point:30} seed {t['seed']}{extra}")
    return "\n".join(lines)
