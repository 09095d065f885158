"""answer_extraction (config.py; data/instruct.py ``answer_extractor``): what instruction tuning's exact match compares
of the generated and the reference response. No training: the extraction is text in, text out, and a bad pattern is
refused when the experiment is built, before anything loads."""

from __future__ import annotations

import json

import pytest

import helpers
from ladderlab import cli, instruct_eval
from ladderlab.config import build_experiment
from ladderlab.data import instruct
from ladderlab.data.types import TaskData
from ladderlab.errors import BadInput
from test_llama_family import word_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: the one run here is a tiny model

GSM8K_REFERENCE = (
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May. Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April "
    "and May.\n#### 72"
)


def matches(spec: str, generated: str, reference: str) -> bool:
    return instruct.answers_match(generated, reference, instruct.answer_extractor(spec))


def test_full_compares_the_whole_text():
    assert matches("full", "the answer is 72", "the answer is 72")
    assert not matches("full", "72", GSM8K_REFERENCE)


@pytest.mark.parametrize(
    "generated",
    ["She sold 24 and then 48 + 24 = 72. #### 72", "72", "#### 72.0", "so 72 clips"],
)
def test_last_number_compares_final_answers_of_worked_solutions(generated):
    assert matches("last_number", generated, GSM8K_REFERENCE)


@pytest.mark.parametrize(
    ("text", "answer"),
    [("#### 1,200", "1200"), ("-3 degrees", "-3"), ("x = 2.50", "2.5"), ("7 then 8.", "8"), ("no digits", None)],
)
def test_last_number_reads_commas_signs_and_decimals(text, answer):
    assert instruct.answer_extractor("last_number")(text) == answer


def test_a_text_without_an_answer_matches_nothing():
    """Two responses with no number would be equal as None: that is no right answer."""
    assert not matches("last_number", "I do not know", "no idea")
    assert not matches("Answer: (\\w+)", "", "")


def test_a_pattern_with_one_group_compares_the_group():
    spec = "#### (.+)"
    assert matches(spec, "worked out... #### 72", GSM8K_REFERENCE)
    assert not matches(spec, "worked out... #### 73", GSM8K_REFERENCE)
    assert not matches(spec, "72", GSM8K_REFERENCE)  # no "####": no answer
    assert instruct.answer_extractor("(?:the )?answer is (\\w+)")("so the answer is B.") == "B"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [("#### (.+", "is not a regular expression"), ("#### .+", "has 0 groups"), ("(a)(b)", "has 2 groups")],
)
def test_a_bad_pattern_is_refused_naming_the_field(spec, needle):
    with pytest.raises(BadInput, match=needle) as info:
        build_experiment({}, {"task": "instruct", "answer_extraction": spec})
    assert str(info.value).startswith("answer_extraction:")
    assert "one (...) group" in info.value.hint or "#### (.+)" in info.value.hint


def test_the_cli_refuses_a_bad_pattern_with_exit_2(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q {i}", "response": "a"}) + "\n" for i in range(5)))
    code = cli.main(helpers.cli("run --method lst --task instruct --data", data, "--answer-extraction", "(unclosed"))
    assert code == 2
    assert "answer_extraction: '(unclosed' is not a regular expression" in capsys.readouterr().err


def test_evaluation_reads_references_with_the_experiments_extraction():
    """instruct_eval.prepare: the references as evaluation holds them, and the extraction it compares them with."""
    rows = [{"prompt": f"question {i}", "response": f"{i} red {i + 10}"} for i in range(3)]
    examples = [instruct._example(json.dumps(row), f"row {i}") for i, row in enumerate(rows)]
    task = TaskData(instruct.SPEC, examples, examples[:1], examples[1:])
    prepared = instruct_eval.prepare(task, word_tokenizer(), 32, "last_number")
    assert prepared.references["test"] == ["1 red 11", "2 red 12"]
    assert [prepared.extract(r) for r in prepared.references["test"]] == ["11", "12"]
    assert instruct_eval.prepare(task, word_tokenizer(), 32).extract("1 red 11") == "1 red 11"  # default: full


def test_the_run_scores_with_the_experiments_extraction(tmp_path, capsys):
    """The memorising run of test_cli_generate.py (whose test split scores 100 with the whole text): its answers
    are words, so with last_number no answer has one and exact match is 0 while the loss shows them learnt."""
    from test_cli_generate import memorising_experiment

    experiment = tmp_path / "numbers.ladder.json"
    experiment.write_text(json.dumps({**memorising_experiment(tmp_path), "answer_extraction": "last_number"}))
    code = cli.main(helpers.cli("compare --json --config", experiment, "--runs-dir", tmp_path / "runs"))
    assert code == 0, capsys.readouterr().err
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["metrics"]["exact_match"] == 0.0
    assert row["metrics"]["token_loss"] < 0.1
