"""``ladderlab generate RUN_DIR`` (cli_generate.py): a worker that loads a finished instruct run once and answers the
prompts stdin brings, one JSON line each. A tiny Llama checkpoint (test_llama_family's 54-word tokenizer, weights at
std 0.2) is side-tuned (LST) through the CLI on 8 prompt/answer pairs written 4 times each, so the validation split
that picks the saved epoch holds pairs the run learnt; the worker must then give the memorised answers back. The
extension's integration test (test/integration/tryModel.test.ts) trains the same run through ``memorising_experiment``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import helpers
from ladderlab import cli
from test_llama_family import write_tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py

PAIRS = {
    "question 1 red": "apple river",
    "question 2 green": "stone",
    "question 3 blue": "cloud music paper",
    "question 4 black": "garden",
    "question 5 white": "window summer",
    "question 6 yellow": "winter",
    "question 7 red green": "blue white",
    "question 8 music": "yellow stone apple",
}


def memorising_experiment(root: str | Path) -> dict:
    """Writes the tiny Llama checkpoint and the pairs under ``root``; returns the experiment that memorises them
    (LST, r=4 with magnitude pruning as test_llama_family.py trains it; one step of all 32 lines an epoch, 60 epochs:
    the answers come back through the side network's key/value cache)."""
    root = Path(root)
    write_tiny_checkpoint("llama", root / "backbone")
    data = root / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in PAIRS.items()) * 4)
    return {
        "backbone": str(root / "backbone"),
        "task": "instruct",
        "data": str(data),
        "methods": ["lst"],
        "r": 4,
        "init": "magnitude",
        "epochs": 60,
        "batch_size": 32,
        "lr": 1e-2,
        "warmup_ratio": 0,
        "max_length": 32,
        "checkpoint_every": 1000,
    }


@pytest.fixture(scope="module")
def instruct_run(tmp_path_factory):
    """The run folder of an LST run that memorised PAIRS."""
    root = tmp_path_factory.mktemp("generate")
    experiment = root / "memorise.ladder.json"
    experiment.write_text(json.dumps(memorising_experiment(root)))
    runs = root / "runs"
    code = cli.main(helpers.cli("compare --json --config", experiment, "--runs-dir", runs))
    assert code == 0
    (run,) = (d for d in runs.iterdir() if not d.name.startswith("."))  # dot-folders are caches, not runs
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metrics"]["exact_match"] == 100.0, summary["metrics"]  # the test split: pairs it learnt
    return run


def worker(run, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ladderlab.cli", "generate", str(run), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ask(process: subprocess.Popen, request: dict | str) -> dict:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write((request if isinstance(request, str) else json.dumps(request)) + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def test_the_worker_answers_prompts_with_the_memorised_responses(instruct_run):
    process = worker(instruct_run)
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert ready == {
            "ready": True,
            "method": "lst",
            "task": "instruct",
            "chat": False,
            "max_new_tokens": 128,
            "device": "cuda" if torch.cuda.is_available() else "cpu",  # --device auto
        }
        for prompt in ("question 3 blue", "question 7 red green", "question 1 red"):  # one worker, several prompts
            answer = ask(process, {"prompt": prompt})
            assert answer["text"] == PAIRS[prompt]
            assert answer["tokens"] == len(PAIRS[prompt].split()) + 1  # the words, then the end token
            assert 0 < answer["seconds"] < 10
        bad = ask(process, "not json")
        assert bad["error"].startswith("a request is not JSON") and '{"prompt": "..."}' in bad["hint"]
        assert "neither a non-empty prompt" in ask(process, {"prompt": " "})["error"]
        assert ask(process, {"prompt": "question 2 green", "max_new_tokens": 1}) == {
            "text": "stone",
            "tokens": 1,
            "seconds": pytest.approx(0, abs=10),
        }
        # streamed: the text so far after each token, then the answer as unstreamed
        partials = [ask(process, {"prompt": "question 8 music", "stream": True})]
        while "partial" in partials[-1]:
            partials.append(json.loads(process.stdout.readline()))
        final = partials.pop()
        assert final["text"] == PAIRS["question 8 music"] and final["tokens"] == 4
        texts = ["yellow", "yellow stone", "yellow stone apple", "yellow stone apple"]  # the end token adds no text
        assert [p["partial"] for p in partials] == texts
        assert [p["tokens"] for p in partials] == [1, 2, 3, 4]
        assert "stream must be true or false" in ask(process, {"prompt": "question 1 red", "stream": "yes"})["error"]
    finally:
        out, err = process.communicate(timeout=30)  # stdin closed: the worker ends
    assert process.returncode == 0, err
    assert out == ""


def test_a_chat_prompt_goes_through_the_chat_template(instruct_run):
    """The run trained on plain prompts; a request of chat messages is written through the template (which this
    model never saw, so only the call is checked: an answer comes back, no error)."""
    from ladderlab.cli_generate import Generator

    generator = Generator(str(instruct_run))
    assert not generator.chat
    ids = generator.prompt_ids([{"role": "user", "content": "question 1 red"}])
    assert generator.tokenizer.decode(ids) == "user question 1 red assistant"
    assert generator.prompt_ids("question 1 red") == generator.tokenizer("question 1 red")["input_ids"]


@pytest.mark.parametrize(
    ("make_run", "args", "needle"),
    [
        (lambda tmp, run: tmp / "missing", [], "run folder not found"),
        (lambda tmp, run: run, ["--max-new-tokens", "0"], "--max-new-tokens must be between 1 and 4096"),
        pytest.param(
            lambda tmp, run: run,
            ["--device", "cuda"],
            "device cuda requested but CUDA is not available here",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA"),
        ),
    ],
)
def test_a_run_that_cannot_be_loaded_is_exit_2(instruct_run, tmp_path, capsys, make_run, args, needle):
    code = cli.main(["generate", str(make_run(tmp_path, instruct_run)), *args])
    assert code == 2
    assert needle in capsys.readouterr().err


def test_a_classification_run_is_refused_naming_the_onnx_path(tmp_path, capsys):
    run = tmp_path / "sst2-run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"task": "sst2", "method": "lst"}))
    assert cli.main(["generate", str(run)]) == 2
    assert "is a sst2 run; generate reads runs of task instruct" in capsys.readouterr().err
