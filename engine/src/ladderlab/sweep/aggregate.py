"""A sweep's results, recomputed from its manifest and the trials' own run folders (summary.json), never cached.

    {"sweep_id", "sweep_dir",
     "trials": [{"run_dir", "method", "point", "seed", "status", "metrics"}],
     "points": [{"method", "point", "trials", "n", "mean": {metric: v}, "std": {metric: v}, "peak_bytes",
                 "memory": {"mean": {figure: v}, "std": {figure: v}}}],
     "pareto": [{"method", "point", "task", "score", "peak_bytes"}],      when any point finished
     "glue_average": [{"method", "point", "tasks", "score"}]}             when the sweep spans several GLUE tasks

Per grid point (method + point), over its finished seeds: ``n`` trials, the mean and the sample standard deviation
(ddof=1, as the paper's "mean ± std over 3 seeds"; 0 when n=1, where it is undefined) of every test metric and of
every memory figure of the run summaries. ``peak_bytes`` is the mean peak training memory: torch's CUDA peak on a
GPU; off CUDA, where there is no allocator peak, the accounted bytes (parameters + gradients + optimizer state +
saved activations, memory.py). The Pareto front is drawn per task (scores of different tasks do not compare):
the points no other point beats on both score (higher) and peak_bytes (lower).

Only finished trials count: a trial that failed, was stopped, or was stopped early by the sweep's ASHA
(``early_stopped``: it never reached its test evaluation, so it has no test metrics, and a score from a shorter
training would pull its point's mean down for a reason that is not the point's) is listed in ``trials`` with its
status and ``metrics`` null, counts in its point's ``trials`` but not in ``n``; a point none of whose trials finished
has no mean and is left off the Pareto front.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from ..config import build_experiment
from ..data import TASKS, canonical_task
from .store import SweepStore

GLUE_TASKS = TASKS[:8]


def peak_bytes(summary: dict) -> int | None:
    memory = summary.get("memory", {})
    peak = memory.get("train_peak_bytes")
    return peak if peak is not None else memory.get("accounted_bytes")


def _summary(store: SweepStore, record: dict) -> dict | None:
    if record["status"] != "finished" or not record["run_id"]:
        return None
    path = store.runs_dir / record["run_id"] / "summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _stats(rows: list[dict]) -> tuple[dict, dict]:
    """Mean and sample std (ddof=1; 0 for one row) of each key every row has a number for."""
    keys = [k for k in rows[0] if all(isinstance(r.get(k), (int, float)) for r in rows)]
    if not keys:
        return {}, {}
    table = np.array([[r[k] for k in keys] for r in rows], dtype=float)
    mean = table.mean(axis=0)
    std = table.std(axis=0, ddof=1) if len(rows) > 1 else np.zeros(len(keys))
    return dict(zip(keys, mean.tolist(), strict=True)), dict(zip(keys, std.tolist(), strict=True))


def aggregate(store: SweepStore) -> dict:
    manifest = store.manifest
    file_task = canonical_task(build_experiment(manifest["values"], {}).task)
    trials, groups = [], defaultdict(list)  # (method, point as JSON) -> [summary | None], in expansion order
    for record in manifest["trials"]:
        summary = _summary(store, record)
        trials.append(
            {
                "trial_id": record["trial_id"],
                "run_dir": str(store.runs_dir / record["run_id"]) if record["run_id"] else None,
                "method": record["method"],
                "point": record["point"],
                "seed": record["seed"],
                "status": record["status"],
                "metrics": summary["metrics"] if summary else None,
            }
        )
        groups[(record["method"], json.dumps(record["point"], sort_keys=True))].append((record["point"], summary))
    points = []
    for (method, _), seeds in groups.items():
        done = [s for _, s in seeds if s is not None]
        entry = {"method": method, "point": seeds[0][0], "trials": len(seeds), "n": len(done)}
        if done:
            mean, std = _stats([s["metrics"] for s in done])
            memory_mean, memory_std = _stats([s["memory"] for s in done])
            peaks = [p for p in map(peak_bytes, done) if p is not None]
            entry.update(
                mean=mean,
                std=std,
                peak_bytes=round(float(np.mean(peaks))) if peaks else None,
                memory={"mean": memory_mean, "std": memory_std},
            )
        else:
            entry.update(mean={}, std={}, peak_bytes=None, memory={"mean": {}, "std": {}})
        entry["task"] = canonical_task(entry["point"].get("task", file_task))
        points.append(entry)
    results = {"sweep_id": store.sweep_id, "sweep_dir": str(store.dir), "trials": trials, "points": points}
    if any(p["n"] for p in points):
        results["pareto"] = pareto(points)
    glue = sorted({p["task"] for p in points} & set(GLUE_TASKS))
    if len(glue) > 1:
        results["glue_average"] = glue_average(points)
    for p in points:
        del p["task"]  # the point names it when it varies; the experiment file otherwise
    return results


def pareto(points: list[dict]) -> list[dict]:
    """Per task, the points on the front of score (up) vs peak_bytes (down), cheapest first."""
    front = []
    for task in dict.fromkeys(p["task"] for p in points):
        cands = [p for p in points if p["task"] == task and "score" in p["mean"] and p["peak_bytes"] is not None]
        if not cands:
            continue
        score = np.array([p["mean"]["score"] for p in cands])
        peak = np.array([p["peak_bytes"] for p in cands], dtype=float)
        # dominated[i]: some j is at least as good on both and better on one
        better_or_equal = (score[None, :] >= score[:, None]) & (peak[None, :] <= peak[:, None])
        strictly = (score[None, :] > score[:, None]) | (peak[None, :] < peak[:, None])
        dominated = (better_or_equal & strictly).any(axis=1)
        for i in np.flatnonzero(~dominated)[np.argsort(peak[~dominated], kind="stable")]:
            p = cands[i]
            front.append(
                {
                    "method": p["method"],
                    "point": p["point"],
                    "task": task,
                    "score": p["mean"]["score"],
                    "peak_bytes": p["peak_bytes"],
                }
            )
    return front


def glue_average(points: list[dict]) -> list[dict]:
    """Per method and grid point less its task: the mean over GLUE tasks of each task's mean score (Table 1's Avg),
    with the tasks it covers (a task whose trials all failed is left out and not listed)."""
    rows: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for p in points:
        if p["task"] in GLUE_TASKS and "score" in p["mean"]:
            rest = {k: v for k, v in p["point"].items() if k != "task"}
            rows[(p["method"], json.dumps(rest, sort_keys=True))][p["task"]] = p["mean"]["score"]
    return [
        {
            "method": method,
            "point": json.loads(rest),
            "tasks": sorted(scores),
            "score": float(np.mean(list(scores.values()))),
        }
        for (method, rest), scores in rows.items()
    ]
