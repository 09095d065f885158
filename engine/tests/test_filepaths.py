"""Paths in an experiment file are read from the file's folder, whatever the working folder; ``~`` is the home
folder; words that are not paths ("sample", "default", "preset:NAME") stay words; flags stay relative to the working
folder. The extension's form writes paths by the same rule (test/unit/experiment-errors.test.ts)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import SST2
from ladderlab import cli
from ladderlab.data import load_task


def _experiment(config: Path, *flags: str):
    return cli._experiment(cli.build_parser().parse_args(["compare", "--config", str(config), *flags]))


def _write(path: Path, values: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    return path


def test_relative_data_is_read_from_the_files_folder_with_dotdot(tmp_path, monkeypatch):
    (tmp_path / "glue").mkdir()
    (tmp_path / "glue" / "SST-2").symlink_to(SST2, target_is_directory=True)
    config = _write(tmp_path / "experiments" / "a.ladder.json", {"task": "sst2", "data": "../glue/SST-2"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the file's folder nor the data's parent
    exp = _experiment(config)
    assert exp.data == str(tmp_path / "glue" / "SST-2")
    # and the reader finds it there: real rows, not a "not found"
    assert len(load_task("sst2", exp.data, max_train_examples=8).train) == 8


def test_home_words_and_flags(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = _write(tmp_path / "sub" / "b.ladder.json", {"data": "~/glue", "backbone": "../models/bb"})
    exp = _experiment(config)
    assert exp.data == str(tmp_path / "home" / "glue")
    assert exp.backbone == str(tmp_path / "models" / "bb")
    for words in ({"data": "sample", "backbone": "default"}, {"backbone": "preset:t5-tiny"}):
        exp = _experiment(_write(tmp_path / "sub" / "c.ladder.json", words))
        assert (exp.data, exp.backbone) == (words.get("data"), words["backbone"])
    # A flag is a command-line path: it stays as typed (relative to the working folder), and beats the file.
    exp = _experiment(config, "--data", "flagged/SST-2")
    assert exp.data == "flagged/SST-2"
    # A relative runs folder in the file is the file's too.
    exp = _experiment(_write(tmp_path / "sub" / "d.ladder.json", {"runs_dir": "out"}))
    assert exp.runs_dir == str(tmp_path / "sub" / "out")
