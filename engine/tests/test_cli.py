"""The CLI end to end: malformed inputs end with an error event and a clear message (no traceback), and every
event of a real short run validates against protocol/events.schema.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import helpers
from helpers import FIXTURES, REPO, SCHEMA, SST2, cli, cli_here

TINY = [*helpers.TINY, "--fisher-samples", "4"]


def ladderlab(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # An argument list, never a shell string.
    return subprocess.run(
        [sys.executable, "-m", "ladderlab.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft202012Validator(schema)


def test_protocol_version_matches_the_schema():
    from ladderlab.events import PROTOCOL_VERSION

    assert json.loads(SCHEMA.read_text())["x-protocol-version"] == PROTOCOL_VERSION


BAD_INPUTS = [
    ("missing data folder", ["run", "--method", "lst", "--task", "sst2", "--data", "no/such/folder"], "not found"),
    ("wrong columns", ["run", "--method", "lst", "--task", "stsb", "--data", str(SST2)], "column"),
    ("unknown task", ["run", "--method", "lst", "--task", "sst3", "--data", str(SST2)], "unknown task"),
    (
        "r does not divide",
        ["run", "--method", "lst", "--task", "sst2", "--data", str(SST2), "--r", "7"],
        "does not divide",
    ),
    (
        "kept layer out of range",
        ["run", "--method", "lst", "--task", "sst2", "--data", str(SST2), "--keep-layers", "0,9"],
        "out of range",
    ),
    ("unknown method", ["compare", "--methods", "lst,qlora", "--task", "sst2", "--data", str(SST2)], "unknown method"),
    ("missing experiment file", ["run", "--config", "nope.ladder.json"], "not found"),
    ("two methods for run", ["run", "--methods", "lst,lora"], "one method"),
    ("lr out of range", ["run", "--method", "lora", "--lr", "-1"], "lr must be"),
    (
        "missing backbone folder",
        ["run", "--method", "lst", "--backbone", "no/such/model", "--task", "sst2", "--data", str(SST2)],
        "backbone folder not found",
    ),
]


# Through a real `python -m ladderlab.cli` process: one refused before anything loads, one refused once MiniLM is
# built. The others run in this process through cli.main, the code path the process runs (each start costs seconds
# of imports); test_bad_input_table.py checks the same kinds of bad input in-process too, on bert-tiny.
IN_A_PROCESS = {"unknown method", "r does not divide"}


@pytest.mark.parametrize("case,args,needle", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gives_error_event_and_clear_message(tmp_path, validator, case, args, needle, monkeypatch, capsys):
    args = [*args, *TINY, "--runs-dir", str(tmp_path / "runs"), "--format", "events"]
    if case in IN_A_PROCESS:
        result = ladderlab(*args, cwd=tmp_path)
    else:
        result = cli_here(*args, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert needle.lower() in result.stderr.lower(), result.stderr
    errors = [e for e in events_of(result.stdout) if e["type"] == "error"]
    assert len(errors) == 1 and errors[0]["kind"] == "bad_input" and needle.lower() in errors[0]["message"].lower()
    for event in events_of(result.stdout):
        validator.validate(event)


def test_malformed_experiment_file(tmp_path, monkeypatch, capsys):
    config = tmp_path / "broken.ladder.json"
    config.write_text('{"task": "sst2", "r": 8,}')
    result = cli_here("run", "--config", str(config), cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 2 and "not valid JSON" in result.stderr and "Traceback" not in result.stderr
    config.write_text('{"task": "sst2", "reduction": 8}')
    result = cli_here("run", "--config", str(config), cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 2 and "unknown field(s) reduction" in result.stderr


def test_short_compare_events_validate_and_files_are_written(tmp_path, validator):
    """One real comparison (every method, MiniLM, real SST-2): every event on stdout validates, each run
    folder holds its config, events, metrics, summary and trainable weights, and flags beat the file."""
    config = tmp_path / "exp.ladder.json"
    config.write_text(json.dumps({"task": "sst2", "data": str(SST2), "r": 16, "epochs": 3}))
    methods = "--methods lst,lora,adapter,bitfit,prompt,full"
    runs = cli("--runs-dir", tmp_path / "runs", "--format events")
    result = ladderlab(*cli("compare --config", config, methods), *TINY, *runs, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    events = events_of(result.stdout)
    for event in events:
        validator.validate(event)
    types = {e["type"] for e in events}
    assert {
        "run_started",
        "phase_started",
        "train_step",
        "evaluation",
        "phase_memory",
        "log",
        "run_finished",
        "compare_finished",
    } <= types
    finished = [e for e in events if e["type"] == "run_finished"]
    assert [e["summary"]["method"] for e in finished] == ["lst", "lora", "adapter", "bitfit", "prompt", "full"]
    assert {e["phase"] for e in events if e["type"] == "phase_memory"} == {"pruning_init", "train", "eval"}
    comparisons = set()
    for e in finished:
        run_dir = Path(e["summary"]["run_dir"])
        for name in ("config.json", "events.jsonl", "metrics.json", "summary.json", "trainable.safetensors"):
            assert (run_dir / name).is_file(), f"{run_dir.name} lacks {name}"
        cfg = json.loads((run_dir / "config.json").read_text())
        assert cfg["r"] == 16 and cfg["epochs"] == 1  # from the file, and the flag that overrides it
        # Where the run came from (the Runs view groups by it): the experiment file, and one id per comparison.
        assert cfg["experiment_file"] == str(config.resolve())
        comparisons.add(cfg["comparison"])
        written = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
        assert written[0]["type"] == "run_started" and written[-1]["type"] == "run_finished"
        assert all(w["run_id"] == run_dir.name for w in written)
    assert len(comparisons) == 1 and all(comparisons)
    summaries = [e["summary"] for e in finished]
    lst, lora = summaries[0], summaries[1]
    assert lst["memory"]["saved_for_backward_bytes"] < lora["memory"]["saved_for_backward_bytes"]


def test_compare_json_prints_one_object(tmp_path):
    args = cli(
        "compare --methods lst,bitfit --task sst2 --data", SST2, *TINY, "--runs-dir", tmp_path / "runs", "--json"
    )
    result = ladderlab(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert [r["method"] for r in out["rows"]] == ["lst", "bitfit"]
    for row in out["rows"]:
        assert set(row["memory"]) >= {
            "train_peak_bytes",
            "saved_for_backward_bytes",
            "param_bytes",
            "grad_bytes",
            "optimizer_bytes",
        }
        assert row["memory"]["train_peak_bytes"] is None  # CPU: no CUDA peak, and no invented one
        assert 0 < row["trainable_pct"] < 100 and "accuracy" in row["metrics"]


def test_committed_event_fixture_validates(validator):
    """The file the TypeScript tests validate (made by make_event_fixture.py) is valid for Python too."""
    files = sorted((FIXTURES / "events").glob("*.jsonl"))
    assert files, "run engine/tests/make_event_fixture.py"
    for path in files:
        for line in path.read_text().splitlines():
            validator.validate(json.loads(line))


def test_default_runs_dir_is_under_the_current_folder(tmp_path, monkeypatch, capsys):
    args = ("run", "--method", "bitfit", "--task", "sst2", "--data", str(SST2), *TINY)
    result = cli_here(*args, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list((tmp_path / ".ladderlab" / "runs").iterdir())) == 1
    assert REPO.exists()


@pytest.mark.parametrize(
    "backbone,extra", [("preset:t5-tiny", []), ("preset:gpt2-tiny", []), ("preset:bert-tiny", ["--precision", "bf16"])]
)
def test_full_loop_on_every_family(tmp_path, validator, backbone, extra):
    """The whole loop (pruning init, train, validation, test, files) on T5, GPT-2 and BERT shapes; bf16 autocast
    runs on the CPU too."""
    args = cli("compare --backbone", backbone, "--methods lst,lora --task sst2 --data", SST2, *TINY)
    result = ladderlab(*args, *cli("--runs-dir", tmp_path / "runs", "--format events"), *extra, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    events = events_of(result.stdout)
    for event in events:
        validator.validate(event)
    finished = [e["summary"] for e in events if e["type"] == "run_finished"]
    assert [s["method"] for s in finished] == ["lst", "lora"]
    assert all(0 <= s["metrics"]["accuracy"] <= 100 for s in finished)
