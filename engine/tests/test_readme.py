"""The README's CLI examples run as written after set-up: each `ladderlab …` line of its "engine CLI" block parses,
names files and folders that exist in the repository, and makes a valid experiment (training them is the demo's
and the other tests' job; this keeps the page from rotting when a flag, a file or a default changes)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from helpers import REPO
from ladderlab import cli

BLOCK = re.search(r"## The engine CLI\s+```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
LINES = [line.split("  #")[0].strip() for line in BLOCK.group(1).splitlines()] if BLOCK else []
COMMANDS = [line for line in LINES if line.startswith("ladderlab ")]


def test_the_block_is_found():
    assert len(COMMANDS) >= 3, "the README's engine CLI block moved or lost its examples"


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_example_is_a_valid_command(line: str, monkeypatch):
    monkeypatch.chdir(REPO)  # the README runs them from the repository root
    argv = shlex.split(line)[1:]
    if "--help" in argv:
        with pytest.raises(SystemExit) as done:
            cli.build_parser().parse_args(argv)
        assert done.value.code == 0
        return
    args = cli.build_parser().parse_args(argv)
    if argv[0] == "sweep":  # the file's sweep block expands into valid trials (each one a valid experiment)
        from ladderlab.sweep.spec import expand, read_sweep_file

        assert expand(*read_sweep_file(args.config))
        return
    exp = cli._experiment(args)  # reads --config, merges flags, validates: raises BadInput on anything wrong
    if exp.data is not None:
        assert (REPO / exp.data).exists(), f"{line}: --data {exp.data} does not exist"
    assert args.config is None or Path(args.config).is_file()
