"""One definition of an experiment field (config.Experiment) and what is made from it: the committed JSON schema and
TypeScript field module are current, every field is a CLI flag with a help line, the methods registry and the
declared methods agree, the checks follow the declared ranges, and the starter experiment runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from helpers import REPO
from ladderlab.cli import build_parser
from ladderlab.config import FIELDS, KIND, METHODS, STARTER, build_experiment
from ladderlab.errors import BadInput
from ladderlab.fields import flag, info_of
from ladderlab.methods import BUILDERS
from ladderlab.schema import json_schema, typescript_module

STALE = "is stale: run scripts/generate (it rewrites it from engine/src/ladderlab/config.py) and commit the result"


def test_committed_json_schema_is_current():
    committed = json.loads((REPO / "schemas" / "ladder.schema.json").read_text())
    assert committed == json_schema(), f"schemas/ladder.schema.json {STALE}"


def test_committed_typescript_field_module_is_current():
    committed = (REPO / "protocol" / "experimentFields.ts").read_text()
    assert committed == typescript_module(), f"protocol/experimentFields.ts {STALE}"


def _help_text(command: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command].format_help()


@pytest.mark.parametrize("command", ["run", "compare", "estimate"])
def test_every_field_is_a_flag_with_its_help_line(command):
    text = " ".join(_help_text(command).split())  # argparse wraps lines
    for name, field in FIELDS.items():
        info = info_of(field)
        assert f"{flag(name)} " in text, f"{flag(name)} missing from `ladderlab {command} --help`"
        assert " ".join(info.help.split())[:40] in text, f"{name}'s help line missing from `{command} --help`"
        assert len(info.help) > 15 and info.label, f"{name} needs a label and a real help line"


def test_every_declared_method_has_a_builder_and_back():
    assert list(BUILDERS) == list(METHODS)


def test_the_schema_accepts_and_refuses_what_the_engine_does():
    validator = jsonschema.Draft7Validator(json_schema())
    good = [STARTER, {"r": 16, "keep_layers": [1, 3], "lrs": {"lora": 1e-3}, "device": "cuda:1", "seed": 0}]
    bad = [
        {"r": 1},
        {"r": 65},
        {"methods": []},
        {"methods": ["lst", "lst"]},
        {"methods": ["qlora"]},
        {"init": "xavier"},
        {"lr": 0},
        {"warmup_ratio": 1},
        {"device": "tpu"},
        {"batch_size": 1.5},
        {"keep_layers": []},
        {"seed": -1},
        {"text_columns": ["a", "b", "c"]},
        {"lrs": {"qlora": 0.1}},
    ]
    for values in good:
        assert not list(validator.iter_errors(values)), values
        build_experiment(values, {})
    for values in bad:
        assert list(validator.iter_errors(values)), f"schema accepted {values}"
        with pytest.raises(BadInput):
            build_experiment(values, {})


def test_null_means_the_default_for_every_field():
    exp = build_experiment({name: None for name in FIELDS}, {})
    assert exp.r == 8 and exp.methods == ["lst"] and exp.keep_layers is None


def test_each_kind_is_read_from_the_type_hint():
    assert (KIND["r"], KIND["lr"], KIND["keep_layers"], KIND["methods"], KIND["init"], KIND["lrs"]) == (
        "int",
        "number",
        "intList",
        "stringList",
        "enum",
        "rates",
    )


def test_the_starter_experiment_runs(tmp_path: Path):
    """The file New Experiment writes, run as the extension runs it (compare --config), on fewer examples."""
    starter = tmp_path / "starter.ladder.json"
    starter.write_text(json.dumps(STARTER))
    # Run from a folder outside the repository: the starter's data (the packaged SST-2 sample) comes with the engine.
    shrink = ["--max-train-examples", "40", "--max-eval-examples", "16", "--fisher-samples", "4", "--max-length", "32"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ladderlab.cli",
            "compare",
            "--config",
            str(starter),
            "--json",
            *shrink,
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)["rows"]
    assert [row["method"] for row in rows] == STARTER["methods"]
    assert all(row["metrics"]["accuracy"] >= 0 for row in rows)
