"""A comparison in which one method fails: it names the method, counts it and continues (on_failure: continue, the
default) or stops there (on_failure: stop). LoRA fails through the real out-of-memory path (the test hook raises
torch's OutOfMemoryError inside its first training step: error event, memory released), the others train. (LoRA asked
to adapt a module the backbone lacks no longer fails here: prepare refuses it before any method trains,
test_lora_targets.py.)"""

from __future__ import annotations

import json

import jsonschema
import pytest

import helpers
from helpers import SCHEMA, SST2, run_folders
from ladderlab import cli
from ladderlab.oom import FAIL_ALLOC_ENV

SMALL = helpers.cli(
    "--backbone preset:bert-tiny --task sst2 --max-train-examples 16 --max-eval-examples 8 --epochs 1",
    "--batch-size 8 --max-length 32 --runs-dir runs --data",
    SST2,
)


@pytest.fixture(autouse=True)
def lora_runs_out_of_memory(monkeypatch):
    monkeypatch.setenv(FAIL_ALLOC_ENV, "lora:1")


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def _compare(methods: str, *extra: str, mode: str = "--format events") -> list[str]:
    return helpers.cli(f"compare --methods {methods} {mode}", *SMALL, *extra)


def test_a_failed_method_is_named_counted_and_the_others_still_run(tmp_path, monkeypatch, capsys, validator):
    monkeypatch.chdir(tmp_path)
    code = cli.main(_compare("bitfit,lora,adapter"))
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    for event in events:
        validator.validate(event)
    assert code != 0  # the exit status says something failed
    finished = events[-1]
    assert finished["type"] == "compare_finished"
    assert [r["method"] for r in finished["rows"]] == ["bitfit", "adapter"]
    assert [f["method"] for f in finished["failed"]] == ["lora"]
    assert finished["failed"][0]["kind"] == "oom"
    assert "simulated allocation failure" in finished["failed"][0]["message"]
    assert finished["skipped"] == []
    assert "lora failed" in captured.err
    assert sum("-bitfit-" in d.name or "-adapter-" in d.name for d in run_folders(tmp_path / "runs")) == 2


def test_on_failure_stop_ends_the_comparison_at_the_failed_method(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(_compare("bitfit,lora,adapter", "--on-failure", "stop", mode="--json"))
    out = json.loads(capsys.readouterr().out)
    assert code != 0
    assert [r["method"] for r in out["rows"]] == ["bitfit"]
    assert [f["method"] for f in out["failed"]] == ["lora"]
    assert out["skipped"] == ["adapter"]
    assert not any("-adapter-" in d.name for d in run_folders(tmp_path / "runs"))


def test_the_text_table_shows_the_failed_row_and_the_count(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(_compare("lora,bitfit", mode="--format text"))
    out = capsys.readouterr().out
    assert code != 0
    table = out[out.index("run  ") :]  # rows named as the extension names runs (run_label.py)
    assert any(line.split()[:2] == ["LoRA", "FAILED"] for line in table.splitlines())
    assert any(line.startswith("BitFit ") for line in table.splitlines())
    assert "1 of 2 methods failed" in table
