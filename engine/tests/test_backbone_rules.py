"""The rules that need the backbone's shape (backbone_rules.py): the table of cases the extension's mirror
(protocol/backboneRules.ts, test/unit/backbone-rules.test.ts) must agree on, and that the CLI refuses a bad r
before it reads any data or builds any model."""

from __future__ import annotations

import json
import time

import pytest
from transformers import AutoConfig

import helpers
from helpers import FIXTURES, REPO, SST2
from ladderlab import cli
from ladderlab.backbone_rules import backbone_problems
from ladderlab.backbones import PRESETS
from ladderlab.config import build_experiment

TABLE = json.loads((FIXTURES / "backbone-rules.json").read_text())


def _config(values: dict):
    fields = dict(values)
    return AutoConfig.for_model(fields.pop("model_type"), **fields)


@pytest.mark.parametrize("case", TABLE, ids=[c["case"] for c in TABLE])
def test_engine_refuses_what_the_table_says(case):
    exp = build_experiment({}, case["experiment"])
    got = [
        {"field": p.field, "message": p.message, "hint": p.hint}
        for p in backbone_problems(exp, _config(case["config"]))
    ]
    assert got == case["problems"]


def test_table_covers_every_rule_and_family():
    fields = {p["field"] for c in TABLE for p in c["problems"]}
    assert fields == {"r", "keep_layers", "side_heads", "freeze_layers"}
    assert {c["config"]["model_type"] for c in TABLE} == {"bert", "t5", "gpt2"}
    assert any(not c["problems"] for c in TABLE)  # and cases that pass


def test_the_extension_mirrors_the_engine_presets():
    """src/views/backboneInfo.ts carries the presets' configs (the form and the checks before a run read them)."""
    text = (REPO / "src" / "views" / "backboneInfo.ts").read_text()
    block = text[text.index("// presets-begin") : text.index("// presets-end")]
    mirrored = json.loads(block[block.index("{") : block.rindex("}") + 1])
    assert mirrored == PRESETS


def test_bad_r_is_refused_before_the_data_is_read(tmp_path, monkeypatch, capsys):
    """The data folder does not exist: had the engine read data first, that would be the error."""
    monkeypatch.chdir(tmp_path)
    start = time.monotonic()
    code = cli.main(
        helpers.cli(
            "compare --methods lora,lst --backbone preset:bert-tiny --task sst2 --r 32 --format events --data",
            tmp_path / "no-such-folder",
        )
    )
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2
    assert "the side attention width 2 (= 64/r) is not divisible by 4 heads" in err
    assert "no-such-folder" not in err
    assert not (tmp_path / ".ladderlab").exists()  # no run folder: nothing started
    assert elapsed < 30


def test_kept_layer_out_of_range_is_refused_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(
        helpers.cli(
            "run --method lst --backbone preset:bert-tiny --task sst2 --keep-layers 1,4 --format events --data", SST2
        )
    )
    assert code == 2
    assert "keep_layers [4] out of range: the backbone has 4 layers per stack" in capsys.readouterr().err
    assert not (tmp_path / ".ladderlab").exists()
