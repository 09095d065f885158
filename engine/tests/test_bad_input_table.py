"""Nothing let in: every kind of bad input ends with exit status 2, ONE message naming the field or file and a
hint saying what to do, one ``bad_input`` error event (valid against the protocol schema), and no traceback.

One table, run in-process through ``cli.main`` (the same code path as the command line, minus the process start).
Every file is real and made on the spot; the resume cases use a real run stopped by the test-only allocation
failure hook, which leaves a real checkpoint behind.
"""

from __future__ import annotations

import errno
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import torch

import helpers
from helpers import SCHEMA, SST2
from ladderlab import checkpoint, cli
from ladderlab.errors import CLIENT_ENV

TINY = [*helpers.TINY, "--fisher-samples", "2", "--runs-dir", "runs"]
# bert-tiny (random weights, MiniLM tokenizer) keeps the cases that need a model to seconds.
RUN = ["run", "--method", "lst", "--backbone", "preset:bert-tiny", "--task", "sst2", "--data", str(SST2), *TINY]


@dataclass
class Case:
    id: str
    args: Callable[[Path, pytest.MonkeyPatch], list[str]]  # (tmp folder, monkeypatch) -> CLI arguments
    needle: str  # must appear in the message (case-insensitive): the field or file and what is wrong


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def experiment_file(tmp: Path, content: str | bytes) -> list[str]:
    return ["run", "--config", str(write(tmp / "exp.ladder.json", content))]


def glue_copy(tmp: Path, train_lines: list[str] | None = None, dev: bool = True) -> Path:
    """A GLUE SST-2 folder: the real rows, or the real header with the given lines."""
    folder = tmp / "SST-2"
    real = (SST2 / "train.tsv").read_text().splitlines()
    write(folder / "train.tsv", "\n".join(real[:200] if train_lines is None else [real[0], *train_lines]) + "\n")
    if dev:
        shutil.copy(SST2 / "dev.tsv", folder / "dev.tsv")
    return folder


def sst2_with(tmp: Path, **kwargs) -> list[str]:
    return [*RUN, "--data", str(glue_copy(tmp, **kwargs))]


def user_file(tmp: Path, name: str, content: str | bytes, *extra: str) -> list[str]:
    return [*RUN, "--task", "file", "--data", str(write(tmp / name, content)), *extra]


def labelled_rows(n: int, labels=("pos", "neg")) -> str:
    return "text,label\n" + "".join(f"sentence number {i},{labels[i % len(labels)]}\n" for i in range(n))


def model_folder(tmp: Path, config: str | None, weights: bool = False) -> list[str]:
    folder = tmp / "model"
    folder.mkdir()
    if config is not None:
        write(folder / "config.json", config)
    if weights:
        write(folder / "model.safetensors", b"\0" * 16)
    return [*RUN, "--backbone", str(folder)]


def oversized(tmp: Path) -> list[str]:
    path = tmp / "huge.csv"
    with open(path, "wb") as f:  # sparse: no disk space is used
        f.truncate(2 * 1024**3 + 1)
    return [*RUN, "--task", "file", "--data", str(path)]


def full_disk(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The second checkpoint write hits ENOSPC half-way (test_resume checks the first one stays whole)."""
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 1:
            return real_save(obj, f, *args, **kwargs)
        Path(f).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(f))

    monkeypatch.setattr(torch, "save", save)
    return [*RUN, "--checkpoint-every", "1"]


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """A real run folder with a checkpoint at step 2 and no summary: resumable."""
    cwd = tmp_path_factory.mktemp("stopped")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setenv("LADDERLAB_TEST_FAIL_ALLOC_AT_STEP", "3")
        assert cli.main([*RUN, "--max-train-examples", "32", "--checkpoint-every", "1", "--format", "events"]) == 3
    run_dir = helpers.run_folders(cwd / "runs")[0]
    assert checkpoint.load(run_dir)["state"]["step"] == 2
    return run_dir


def resume_copy(change: Callable[[Path], None]):
    def args(tmp: Path, _mp) -> list[str]:
        folder = shutil.copytree(STOPPED["dir"], tmp / "run")
        change(folder)
        return ["resume", str(folder)]

    return args


def edit_config(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["epochs"] = 7
    (folder / "config.json").write_text(json.dumps(config))


STOPPED: dict[str, Path] = {}

CASES = [
    # -- the experiment file ------------------------------------------------------------------------
    Case("file: trailing comma", lambda t, m: experiment_file(t, '{"task": "sst2", "r": 8,}'), "not valid JSON"),
    Case("file: not UTF-8", lambda t, m: experiment_file(t, b'{"task": "caf\xe9"}'), "not UTF-8"),
    Case("file: an array", lambda t, m: experiment_file(t, "[1, 2]"), "must hold a JSON object"),
    Case("file: unknown field", lambda t, m: experiment_file(t, '{"reduction": 8}'), "unknown field(s) reduction"),
    Case("file: r is text", lambda t, m: experiment_file(t, '{"r": "eight"}'), "r must be int"),
    Case("file: device is a number", lambda t, m: experiment_file(t, '{"device": 5}'), "device must be str"),
    Case(
        "file: keep_layers of text",
        lambda t, m: experiment_file(t, '{"keep_layers": ["a"]}'),
        "keep_layers must be a list of ints",
    ),
    Case("file: epochs is true", lambda t, m: experiment_file(t, '{"epochs": true}'), "epochs must be int"),
    Case("file: lrs not an object", lambda t, m: experiment_file(t, '{"lrs": [1]}'), "lrs must be an object"),
    Case("file: missing", lambda t, m: ["run", "--config", str(t / "nope.ladder.json")], "experiment file not found"),
    # -- settings -----------------------------------------------------------------------------------
    Case("unknown task", lambda t, m: [*RUN, "--task", "sst3"], "unknown task 'sst3'"),
    Case("unknown method", lambda t, m: ["compare", "--methods", "lst,qlora"], "unknown method(s): qlora"),
    Case("two methods for run", lambda t, m: ["run", "--methods", "lst,lora"], "run trains one method"),
    Case("method twice", lambda t, m: ["compare", "--methods", "lst,lst"], "lists a method twice"),
    Case("lr negative", lambda t, m: [*RUN, "--lr", "-1"], "lr must be a number in (0, 10)"),
    Case("lrs malformed", lambda t, m: [*RUN, "--lrs", "lora:1e-3"], "lrs: expected method=rate pairs"),
    Case("r below 2", lambda t, m: [*RUN, "--r", "1"], "r (reduction factor) must be between 2 and 64"),
    Case("epochs 0", lambda t, m: [*RUN, "--epochs", "0"], "epochs must be at least 1"),
    Case("batch size 0", lambda t, m: [*RUN, "--batch-size", "0"], "batch_size must be at least 1"),
    Case("max_train_examples 0", lambda t, m: [*RUN, "--max-train-examples", "0"], "max_train_examples must be"),
    Case("warmup ratio 1.5", lambda t, m: [*RUN, "--warmup-ratio", "1.5"], "warmup_ratio must be a number in [0, 1)"),
    Case("weight decay negative", lambda t, m: [*RUN, "--weight-decay", "-0.1"], "weight_decay must be 0 or more"),
    Case("max_grad_norm 0", lambda t, m: [*RUN, "--max-grad-norm", "0"], "max_grad_norm must be more than 0"),
    Case("max_length 5000", lambda t, m: [*RUN, "--max-length", "5000"], "max_length 5000 is larger"),
    Case("checkpoint_every negative", lambda t, m: [*RUN, "--checkpoint-every", "-1"], "checkpoint_every must be"),
    Case("keep_layers decreasing", lambda t, m: [*RUN, "--keep-layers", "3,1"], "keep_layers must be increasing"),
    Case("keep_layers not numbers", lambda t, m: [*RUN, "--keep-layers", "a,b"], "keep_layers: expected a comma"),
    Case("unknown init", lambda t, m: [*RUN, "--init", "xavier"], "unknown init 'xavier'"),
    Case("unknown precision", lambda t, m: [*RUN, "--precision", "fp8"], "unknown precision 'fp8'"),
    Case("unknown device", lambda t, m: [*RUN, "--device", "tpu"], "unknown device 'tpu'"),
    Case(
        "columns for a GLUE task",
        lambda t, m: [*RUN, "--text-columns", "sentence"],
        "text_columns and label_column apply to task 'file' only",
    ),
    Case(
        "runs_dir is a file",
        lambda t, m: [*RUN, "--runs-dir", str(write(t / "afile", "x"))],
        "cannot create runs directory",
    ),
    # -- datasets -----------------------------------------------------------------------------------
    Case("data folder missing", lambda t, m: [*RUN, "--data", str(t / "no" / "such")], "not found"),
    Case("GLUE dev.tsv missing", lambda t, m: sst2_with(t, dev=False), "dev.tsv not found"),
    Case("wrong columns for the task", lambda t, m: [*RUN, "--task", "stsb"], "missing column 'sentence1'"),
    Case(
        "label outside the task's set",
        lambda t, m: sst2_with(t, train_lines=["a fine film\t2"]),
        "label '2' is not one of 0, 1",
    ),
    Case("train.tsv not UTF-8", lambda t, m: [*RUN, "--data", str(_latin1_glue(t))], "not valid UTF-8"),
    Case("train.tsv header only", lambda t, m: sst2_with(t, train_lines=[]), "train.tsv: no data rows"),
    Case("train.tsv empty", lambda t, m: [*RUN, "--data", str(_empty_train(t))], "the file is empty"),
    Case(
        "train.tsv row with a missing field",
        lambda t, m: sst2_with(t, train_lines=["no label here"]),
        "expected 2 tab-separated fields",
    ),
    Case("own file: too large", lambda t, m: oversized(t), "files over 2 GiB are not supported"),
    Case("own file: unknown type", lambda t, m: user_file(t, "data.txt", "text,label\n"), "unknown file type '.txt'"),
    Case(
        "own file: no data",
        lambda t, m: [a for a in RUN if a not in ("--data", str(SST2))] + ["--task", "file"],
        "task 'file' needs a data file",
    ),
    Case("own file: a folder", lambda t, m: [*RUN, "--task", "file"], "is a folder; task 'file' reads one"),
    Case("own file: too few rows", lambda t, m: user_file(t, "few.csv", labelled_rows(5)), "too few examples (5)"),
    Case(
        "own file: one class",
        lambda t, m: user_file(t, "one.csv", labelled_rows(20, ("pos",))),
        "every example has the label 'pos'",
    ),
    Case(
        "own file: no text column", lambda t, m: user_file(t, "cols.csv", "sentence,label\nhi,1\n"), "no 'text' column"
    ),
    Case(
        "own file: label column missing",
        lambda t, m: user_file(t, "lab.csv", labelled_rows(20), "--label-column", "y"),
        "missing column 'y'",
    ),
    Case(
        "own file: JSON lines broken",
        lambda t, m: user_file(t, "d.jsonl", '{"text": "a", "label": 1}\n{"text": \n'),
        "d.jsonl:2: not valid JSON",
    ),
    Case("own file: not UTF-8", lambda t, m: user_file(t, "d.csv", b"text,label\ncaf\xe9,1\n"), "not valid UTF-8"),
    Case(
        "own file: empty text",
        lambda t, m: user_file(t, "e.csv", labelled_rows(12) + '"",pos\n'),
        "text column 'text' is empty",
    ),
    # -- models -------------------------------------------------------------------------------------
    Case(
        "backbone folder missing", lambda t, m: [*RUN, "--backbone", str(t / "no-model")], "backbone folder not found"
    ),
    Case("model folder without config", lambda t, m: model_folder(t, None), "has no config.json"),
    Case("model folder without weights", lambda t, m: model_folder(t, '{"model_type": "bert"}'), "has no weights"),
    Case(
        "model config not JSON",
        lambda t, m: model_folder(t, "{model_type: bert", weights=True),
        "config.json is not valid JSON",
    ),
    Case(
        "model config without model_type",
        lambda t, m: model_folder(t, '{"hidden_size": 8}', weights=True),
        "has no model_type",
    ),
    Case(
        "unsupported architecture",
        lambda t, m: model_folder(t, '{"model_type": "vit"}', weights=True),
        "unsupported architecture 'vit'",
    ),
    Case("unknown preset", lambda t, m: [*RUN, "--backbone", "preset:bert-huge"], "unknown preset 'bert-huge'"),
    Case("r does not divide the width", lambda t, m: [*RUN, "--r", "3"], "r=3 does not divide"),
    Case("kept layer out of range", lambda t, m: [*RUN, "--keep-layers", "0,9"], "keep_layers [9] out of range"),
    # -- resume -------------------------------------------------------------------------------------
    Case("resume: no such folder", lambda t, m: ["resume", str(t / "gone")], "run folder not found"),
    Case("resume: finished run", resume_copy(lambda f: write(f / "summary.json", "{}")), "already finished"),
    # (no checkpoint is no bad input: the run starts again from the beginning, test_resume.py)
    Case(
        "resume: damaged checkpoint",
        resume_copy(lambda f: write(f / checkpoint.CHECKPOINT, b"PK\x03\x04 torn")),
        "cannot read",
    ),
    Case("resume: config changed", resume_copy(edit_config), "differs in: epochs"),
    Case(
        "resume: not a run folder",
        lambda t, m: ["resume", str(write(t / "x" / "note.txt", "x").parent)],
        "has no config.json",
    ),
    # -- the disk -----------------------------------------------------------------------------------
    Case("disk full writing a checkpoint", full_disk, "no space left writing a checkpoint"),
]


def _latin1_glue(tmp: Path) -> Path:
    folder = glue_copy(tmp)
    with open(folder / "train.tsv", "ab") as f:
        f.write(b"caf\xe9 au lait\t1\n")  # Latin-1, as an old spreadsheet export writes it
    return folder


def _empty_train(tmp: Path) -> Path:
    folder = glue_copy(tmp)
    (folder / "train.tsv").write_bytes(b"")
    return folder


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def test_the_table_is_large_enough():
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, monkeypatch, capsys, validator, stopped_run):
    STOPPED["dir"] = stopped_run
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = case.args(tmp_path, monkeypatch)
    capsys.readouterr()
    code = cli.main([*args, "--format", "events"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in out and "Traceback" not in err
    messages = [line for line in err.splitlines() if line.startswith("ladderlab:")]
    assert len(messages) == 1, err  # one message
    assert case.needle.lower() in messages[0].lower(), err
    assert "hint:" in err  # and what to do
    events = [json.loads(line) for line in out.splitlines()]
    for event in events:
        validator.validate(event)
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["kind"] == "bad_input"
    assert case.needle.lower() in errors[0]["message"].lower() and errors[0]["hint"]


# Cases only a terminal can make: the extension always runs `compare --config FILE` (never `run` with two methods).
CLI_ONLY = {"two methods for run"}
FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]*")  # a CLI flag such as --keep-layers (not "2--3" or an em dash)
REPO_WORDS = ("npm install", "scripts/", "ladderlab run", "ladderlab compare", "schemas/")


@pytest.mark.parametrize("case", [c for c in CASES if c.id not in CLI_ONLY], ids=lambda c: c.id)
def test_bad_input_hint_speaks_to_extension_users(case: Case, tmp_path, monkeypatch, capsys, stopped_run):
    """Run by the extension (LADDERLAB_CLIENT=vscode, as src/engine/worker.ts sets it), the same bad input gets a
    hint that names what to change in the Experiment view or a setting, never a CLI flag or a repository command."""
    STOPPED["dir"] = stopped_run
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv(CLIENT_ENV, "vscode")
    args = case.args(tmp_path, monkeypatch)
    capsys.readouterr()
    assert cli.main([*args, "--format", "events"]) == 2
    out, _ = capsys.readouterr()
    error = next(e for e in map(json.loads, out.splitlines()) if e["type"] == "error")
    hint = error["hint"]
    assert hint and not FLAG.search(hint), hint
    assert not any(word in hint for word in REPO_WORDS), hint
