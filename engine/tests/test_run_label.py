"""The engine names runs as the extension does (protocol/runLabel.ts): the shared table fixtures/run-labels.json, word
for word (the extension's side: test/unit/run-label-shared.test.ts), and compare's text table names its rows so."""

from __future__ import annotations

import json

import pytest

from helpers import FIXTURES
from ladderlab.report import format_table
from ladderlab.run_label import DEFAULTS, run_label

TABLE = json.loads((FIXTURES / "run-labels.json").read_text())


@pytest.mark.parametrize("case", TABLE, ids=[c["case"] for c in TABLE])
def test_same_labels_as_the_extension(case):
    configs = [{**DEFAULTS, **c} for c in case["configs"]]
    assert [run_label(c, configs) for c in configs] == case["labels"]


def _row(tmp_path, name: str, config: dict) -> dict:
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({**DEFAULTS, **config}))
    memory = {"train_peak_bytes": None, "accounted_bytes": 2**20, "saved_for_backward_bytes": 2**19}
    metrics = {"accuracy": 80.0, "score": 80.0}
    return {
        "method": config["method"],
        "run_dir": str(run_dir),
        "trainable_pct": 1.0,
        "memory": memory,
        "metrics": metrics,
    }


def test_text_table_rows_are_named_by_run_label(tmp_path):
    rows = [
        _row(tmp_path, "a", {"method": "lst", "r": 4, "lr": 0.003}),
        _row(tmp_path, "b", {"method": "lst", "r": 16, "lr": 0.003}),
        _row(tmp_path, "c", {"method": "lora", "lr": 0.0003}),
    ]
    table = format_table(rows, failed=[{"method": "full", "kind": "oom", "message": "out of memory"}])
    firsts = [line.split("  ")[0].strip() for line in table.splitlines()[2:5]]
    assert firsts == ["LST r=4", "LST r=16", "LoRA rank 32"]
    assert table.splitlines()[0].startswith("run ")
    assert any(line.startswith("Full fine-tuning") and "FAILED" in line for line in table.splitlines())


def test_text_table_shows_each_run_time(tmp_path):
    timed = {**_row(tmp_path, "a", {"method": "lst", "lr": 0.003}), "duration_s": 41.6}
    untimed = _row(tmp_path, "b", {"method": "lora", "lr": 0.003})  # a summary from before duration_s: a dash
    lines = format_table([timed, untimed]).splitlines()
    cells = [[c for c in line.split("  ") if c.strip()] for line in lines]
    column = [c.strip() for c in cells[0]].index("run time s")
    assert [cells[2][column].strip(), cells[3][column].strip()] == ["42", "-"]


def test_text_table_gives_each_accuracy_its_sampling_error(tmp_path):
    rows = [
        {**_row(tmp_path, "a", {"method": "lst", "lr": 0.003}), "test_examples": 250},  # 80 on 250: ±2.53
        {**_row(tmp_path, "b", {"method": "lora", "lr": 0.003}), "test_examples": 1000},
        _row(tmp_path, "c", {"method": "full", "lr": 0.0001}),  # a summary from before test_examples: a dash
    ]
    rows[1]["metrics"] = {"accuracy": 50.0, "score": 50.0}  # 50 on 1,000: ±1.58
    cells = [[c.strip() for c in line.split("  ") if c.strip()] for line in format_table(rows).splitlines()]
    assert cells[0][-1] == "± SE (accuracy)"
    assert [line[-1] for line in cells[2:]] == ["±2.53", "±1.58", "-"]
    regression = {**_row(tmp_path, "d", {"method": "lst", "lr": 0.003}), "test_examples": 250}
    regression["metrics"] = {"pearson": 80.0, "score": 80.0}  # no accuracy: no binomial error, no column
    assert "± SE" not in format_table([regression, rows[2]])
