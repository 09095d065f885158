"""``lora_targets`` naming layers the backbone does not have is refused in ``comparison.prepare``, before the first
method of a comparison trains (PEFT alone fails only when LoRA's turn comes), with the backbone's real layer names in
the message; a misspelt name beside a good one (which PEFT would skip silently) is refused too."""

from __future__ import annotations

import json

import pytest

import helpers
from helpers import SST2
from ladderlab import cli
from ladderlab.backbone_rules import lora_targets_problem
from ladderlab.backbones import load_backbone
from ladderlab.config import build_experiment
from ladderlab.data import read_for
from ladderlab.errors import CLIENT_ENV


@pytest.fixture(scope="module")
def minilm():
    backbone = load_backbone("default")
    spec = read_for(build_experiment({}, {"task": "sst2", "data": str(SST2), "max_train_examples": 8})).spec
    return backbone, spec


@pytest.mark.parametrize(
    ("targets", "missing"),
    [
        (["query", "value"], None),  # the family's default
        (["query", "key", "dense"], None),
        (["q_proj", "v_proj"], "q_proj, v_proj"),  # another family's names
        (["query", "vaule"], "vaule"),  # PEFT would adapt query alone without a word
        (["attention"], "attention"),  # a whole block: PEFT cannot adapt it
        (["LayerNorm"], "LayerNorm"),
    ],
)
def test_targets_are_matched_as_peft_matches_them(minilm, targets, missing):
    backbone, spec = minilm
    problem = lora_targets_problem(build_experiment({}, {"methods": ["lora"], "lora_targets": targets}), backbone, spec)
    if missing is None:
        assert problem is None
        return
    assert problem is not None and problem.field == "lora_targets"
    assert problem.message.startswith(f"lora_targets {missing}: no such layer in this bert backbone")
    for real in ("query", "key", "value", "dense"):
        assert real in problem.message  # the names that would work


def test_not_checked_without_lora(minilm):
    backbone, spec = minilm
    exp = build_experiment({}, {"methods": ["lst"], "lora_targets": ["nope"]})
    assert lora_targets_problem(exp, backbone, spec) is None


@pytest.mark.parametrize("client", ["cli", "vscode"])
def test_comparison_refuses_before_the_first_method_trains(tmp_path, monkeypatch, capsys, client):
    monkeypatch.chdir(tmp_path)
    if client == "vscode":
        monkeypatch.setenv(CLIENT_ENV, "vscode")
    else:
        monkeypatch.delenv(CLIENT_ENV, raising=False)
    args = "compare --methods bitfit,lora --task sst2 --lora-targets q_proj,v_proj --format events --data"
    code = cli.main(helpers.cli(args, SST2, *helpers.TINY))
    out, err = capsys.readouterr()
    assert code == 2
    assert "lora_targets q_proj, v_proj: no such layer in this bert backbone" in err
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert "run_started" not in {e["type"] for e in events}  # bitfit, first in line, never started
    assert not (tmp_path / ".ladderlab" / "runs").exists() or not any((tmp_path / ".ladderlab" / "runs").iterdir())
    hint = next(e for e in events if e["type"] == "error")["hint"]
    if client == "vscode":
        assert "--" not in hint and "LoRA targets" in hint and "Experiment view" in hint
    else:
        assert "--lora-targets" in hint
