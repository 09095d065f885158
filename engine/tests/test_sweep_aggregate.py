"""The parts of a sweep's aggregate that a small real sweep does not reach: the Pareto front of score vs peak memory
(per task) and the GLUE average over several tasks. Grid points as aggregate() builds them; no training."""

from __future__ import annotations

import pytest

from ladderlab.sweep.aggregate import glue_average, pareto


def point(method: str, task: str, score: float | None, peak: int | None, **grid) -> dict:
    return {
        "method": method,
        "point": {"task": task, **grid},
        "task": task,
        "mean": {} if score is None else {"score": score},
        "peak_bytes": peak,
    }


def test_the_front_keeps_what_no_other_point_beats_on_both_score_and_memory():
    points = [
        point("lst", "sst2", 80.0, 100, r=16),
        point("lst", "sst2", 85.0, 150, r=8),
        point("lora", "sst2", 84.0, 300, lora_rank=8),  # LST r=8 scores more with less memory
        point("full", "sst2", 90.0, 900),
        point("adapter", "sst2", 80.0, 120, adapter_size=6),  # same score as LST r=16, more memory
        point("bitfit", "sst2", None, None),  # every trial failed: not on any front
    ]
    front = pareto(points)
    assert [(f["method"], f["score"], f["peak_bytes"]) for f in front] == [
        ("lst", 80.0, 100),
        ("lst", 85.0, 150),
        ("full", 90.0, 900),
    ]


def test_scores_of_different_tasks_make_separate_fronts():
    points = [point("lst", "sst2", 80.0, 100), point("lst", "rte", 60.0, 50), point("lora", "rte", 55.0, 200)]
    front = pareto(points)
    assert [(f["task"], f["method"]) for f in front] == [("sst2", "lst"), ("rte", "lst")]


def test_the_glue_average_is_per_method_and_point_over_its_tasks():
    points = [
        point("lst", "sst2", 90.0, 1, r=8),
        point("lst", "rte", 60.0, 1, r=8),
        point("lst", "sst2", 88.0, 1, r=16),
        point("lst", "rte", None, None, r=16),  # failed: the average says which tasks it covers
    ]
    rows = glue_average(points)
    assert rows[0] == {"method": "lst", "point": {"r": 8}, "tasks": ["rte", "sst2"], "score": pytest.approx(75.0)}
    assert rows[1] == {"method": "lst", "point": {"r": 16}, "tasks": ["sst2"], "score": pytest.approx(88.0)}
