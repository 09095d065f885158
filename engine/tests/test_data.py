"""Dataset readers: GLUE fixtures in the original TSV formats, the paper's split rule, task specs.
IMDB and the user's own files: test_data_files.py."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from helpers import FIXTURES, REAL_GLUE, load_fails
from ladderlab.data import TASKS, load_task, task_spec
from ladderlab.data.types import Example
from ladderlab.errors import BadInput

GLUE = FIXTURES / "glue"

# task: (folder, train rows, dev rows, first train row (text_a, text_b, label))
GLUE_FIXTURES = {
    "sst2": ("SST-2", 12, 8, ("a warm , funny and quietly moving film ", None, 1)),
    "qnli": (
        "QNLI",
        10,
        6,
        (
            "When was the bridge completed?",
            "Construction of the bridge was completed in 1932 after six years of work.",
            0,
        ),
    ),
    "qqp": (
        "QQP",
        10,
        6,
        ("How do I learn to play the guitar by myself?", "What is the best way to teach myself guitar?", 1),
    ),
    "rte": (
        "RTE",
        8,
        6,
        (
            "The festival, which started in 1987, attracts about 40,000 visitors every August.",
            "The festival takes place in August.",
            0,
        ),
    ),
    "mrpc": (
        "MRPC",
        8,
        7,
        (
            "The company said quarterly profit rose 12 percent to $ 48 million .",
            "Quarterly profit climbed 12 percent to $ 48 million , the company said .",
            1,
        ),
    ),
    "cola": ("CoLA", 10, 6, ("The children ate the cake before dinner.", None, 1)),
    "stsb": ("STS-B", 8, 6, ("A woman is slicing a tomato.", "A woman is cutting a tomato.", 4.8)),
}


def copy_task(tmp_path: Path, folder: str) -> Path:
    return Path(shutil.copytree(GLUE / folder, tmp_path / folder))


# ---------------------------------------------------------------- GLUE fixtures and the split rule


@pytest.mark.parametrize("task", sorted(GLUE_FIXTURES))
def test_glue_fixture_splits(task):
    folder, n_train, n_dev, first = GLUE_FIXTURES[task]
    data = load_task(task, str(GLUE / folder), validation_size=4)
    spec = task_spec(task)
    assert data.spec == spec and spec.main_metric == "score"
    everything = data.train + data.validation + data.test
    if task in ("rte", "mrpc", "cola", "stsb"):  # < 10k train: all of train, dev halved
        assert len(data.train) == n_train and data.train[0] == Example(*first)
        assert (len(data.validation), len(data.test)) == (n_dev // 2, n_dev - n_dev // 2)
    else:  # validation held out from train, test = dev
        assert (len(data.train), len(data.validation), len(data.test)) == (n_train - 4, 4, n_dev)
        assert Example(*first) in data.train + data.validation
        assert not set(data.train) & set(data.validation)
    assert len(set(everything)) == n_train + n_dev
    if spec.is_regression:
        assert all(isinstance(e.label, float) and 0 <= e.label <= 5 for e in everything)
    else:  # labels are indices and every class occurs in the fixture
        assert {e.label for e in everything} == set(range(spec.num_labels))
    assert all((e.text_b is None) == (task in ("sst2", "cola")) for e in everything)
    assert data.notes and folder in data.notes[0]


def test_mnli_validation_is_mismatched_and_test_is_matched():
    data = load_task("mnli", str(GLUE / "MNLI"))
    assert (len(data.train), len(data.validation), len(data.test)) == (9, 5, 6)
    assert data.validation[0] == Example(
        "Your gift helped us feed over 500 families this winter.", "The donation helped feed families.", 0
    )
    assert data.test[1] == Example("The new rule takes effect in January.", "The rule has been in effect for years.", 2)
    assert task_spec("mnli").labels == ("entailment", "neutral", "contradiction")
    assert "dev_mismatched" in data.notes[0]


def test_quotes_are_text_and_bom_is_dropped():
    stsb = load_task("stsb", str(GLUE / "STS-B"))
    assert Example('"We will not give up," the minister said.', "The minister vowed to keep going.", 3.4) in stsb.train
    assert (GLUE / "MRPC" / "train.tsv").read_bytes().startswith(b"\xef\xbb\xbfQuality")
    assert len(load_task("mrpc", str(GLUE / "MRPC")).train) == 8


def test_columns_are_found_by_header_name(tmp_path):
    folder = copy_task(tmp_path, "SST-2")
    for name in ("train.tsv", "dev.tsv"):
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        swapped = ["\t".join(reversed(line.split("\t"))) for line in lines]
        (folder / name).write_text("\n".join(swapped) + "\n", encoding="utf-8")
    original = load_task("sst2", str(GLUE / "SST-2"), validation_size=4)
    assert load_task("sst2", str(folder), validation_size=4) == original


def test_task_names_and_glue_root_are_accepted():
    a = load_task("SST-2", str(GLUE), validation_size=4)  # GLUE root: the task folder is found inside
    assert a == load_task("sst2", str(GLUE / "SST-2"), validation_size=4)


def big_sst2(tmp_path: Path, n: int = 200) -> Path:
    folder = tmp_path / "SST-2"
    folder.mkdir()
    for name, count in (("train.tsv", n), ("dev.tsv", 60)):
        rows = [f"review number {i} of {name} \t{int(i % 4 == 0)}" for i in range(count)]  # 25% positive
        (folder / name).write_text("sentence\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_same_seed_same_splits_other_seed_other_splits(tmp_path):
    folder = str(big_sst2(tmp_path))
    kw = dict(validation_size=20, max_train_examples=50, max_eval_examples=10)
    a, b, c = (load_task("sst2", folder, seed=s, **kw) for s in (1, 1, 2))
    assert (a.train, a.validation, a.test, a.notes) == (b.train, b.validation, b.test, b.notes)
    assert a.validation != c.validation and a.train != c.train and a.test != c.test
    halves = [load_task("rte", str(GLUE / "RTE"), seed=s).validation for s in range(10)]
    assert len({tuple(h) for h in halves}) > 1  # the dev halving also follows the seed


def test_subsets_are_capped_stratified_and_leave_test_alone(tmp_path):
    folder = str(big_sst2(tmp_path))
    full = load_task("sst2", folder, validation_size=20)
    sub = load_task("sst2", folder, validation_size=20, max_train_examples=40, max_eval_examples=12)
    assert (len(full.train), len(full.validation), len(full.test)) == (180, 20, 60)
    assert (len(sub.train), len(sub.validation), len(sub.test)) == (40, 12, 12)
    assert set(sub.train) <= set(full.train) and set(sub.validation) <= set(full.validation)
    assert set(sub.test) <= set(full.test)
    assert sum(e.label for e in sub.train) == 10  # 25% positive, as in the whole train set
    assert sum(e.label for e in full.validation) == 5
    assert any("train subset: 40 of 180" in n for n in sub.notes)
    assert load_task("sst2", folder, validation_size=20, max_train_examples=40).test == full.test


def test_real_sst2_counts():
    """Real SST-2 rows (2,000 train, 200 dev): the large-task rule holds 1,000 out of train as validation."""
    data = load_task("sst2", str(REAL_GLUE / "SST-2"))
    assert (len(data.train), len(data.validation), len(data.test)) == (1_000, 1_000, 200)
    assert data.notes == [
        "SST-2: 2,000 train examples; held out 1,000 as validation (seed 42), "
        "leaving 1,000 to train on; test = official dev (200)"
    ]
    assert sum(e.label for e in data.validation) == 550  # stratified: 1,101 of the 2,000 rows are positive


def test_real_stsb_counts_with_quoting_off():
    """Real STS-B rows: some forum sentences open with a quote, which CSV quoting would merge into other rows."""
    folder = REAL_GLUE / "STS-B"
    with open(folder / "train.tsv", encoding="utf-8", newline="") as f:
        assert sum(1 for _ in csv.reader(f, delimiter="\t")) - 1 == 297  # quoting on: 3 of the 300 rows lost
    data = load_task("stsb", str(folder))
    assert (len(data.train), len(data.validation), len(data.test)) == (300, 50, 50)
    assert data.train[0] == Example("A plane is taking off.", "An air plane is taking off.", 5.0)
    assert "dev (100) halved into 50 validation / 50 test" in data.notes[0]


# ---------------------------------------------------------------- GLUE bad inputs


def test_glue_bad_folders(tmp_path):
    load_fails("unknown task 'sst3'; valid tasks: sst2, mnli", "sst3", str(GLUE / "SST-2"))
    load_fails("SST-2 needs a data folder", "sst2", None)
    load_fails(r"nowhere not found", "sst2", str(tmp_path / "nowhere"))
    load_fails("is a file, not a folder", "sst2", str(GLUE / "SST-2" / "train.tsv"))
    (tmp_path / "empty").mkdir()
    err = load_fails(r"train\.tsv not found", "sst2", str(tmp_path / "empty"))
    assert "dev.tsv" in err.hint
    folder = copy_task(tmp_path, "RTE")
    (folder / "dev.tsv").unlink()
    load_fails(r"RTE/dev\.tsv not found", "rte", str(folder))
    folder = copy_task(tmp_path, "MNLI")
    (folder / "dev_mismatched.tsv").unlink()
    load_fails(r"dev_mismatched\.tsv not found", "mnli", str(folder))


@pytest.mark.parametrize(
    "content, match",
    [
        ("sentence\tlabels\nfine film \t1\n", r"train\.tsv: missing column 'label'; columns found: sentence, labels"),
        ("sentence\tlabel\nfine film \t1\nbad film \t0\textra\n", r"train\.tsv:3: expected 2 tab-separated fields"),
        ("sentence\tlabel\nfine film \t1\nbad film \t2\n", r"train\.tsv:3: label '2' is not one of 0, 1"),
        ("sentence\tlabel\nfine film \t1\ncaf\xe9 \t0\n", r"train\.tsv:3: not valid UTF-8 \(byte 0xe9"),
        ("", r"train\.tsv: the file is empty"),
        ("sentence\tlabel\n", r"train\.tsv: no data rows"),
    ],
)
def test_glue_bad_files(tmp_path, content, match):
    folder = copy_task(tmp_path, "SST-2")
    (folder / "train.tsv").write_bytes(content.encode("latin-1"))  # latin-1 makes \xe9 a non-UTF-8 byte
    err = load_fails(match, "sst2", str(folder), validation_size=1)
    if "UTF-8" in match:
        assert "UTF-8" in err.hint


def test_glue_bad_labels_by_name_and_scores(tmp_path):
    folder = copy_task(tmp_path, "RTE")
    (folder / "dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n0\tA b.\tA.\tneutral\n", encoding="utf-8")
    load_fails(r"RTE/dev\.tsv:2: label 'neutral' is not one of entailment, not_entailment", "rte", str(folder))
    folder = copy_task(tmp_path, "STS-B")
    text = (folder / "train.tsv").read_text(encoding="utf-8").replace("4.800", "high")
    (folder / "train.tsv").write_text(text, encoding="utf-8")
    load_fails(r"STS-B/train\.tsv:2: label 'high' is not a similarity score between 0 and 5", "stsb", str(folder))
    folder = copy_task(tmp_path, "CoLA")
    with open(folder / "train.tsv", "a", encoding="utf-8") as f:
        f.write("gj04\t1\tThe mark column is missing.\n")
    load_fails(r"CoLA/train\.tsv:11: expected 4 tab-separated fields", "cola", str(folder))


def test_bad_sizes():
    load_fails("cannot hold out 1,000 validation examples from a training set of 12", "sst2", str(GLUE / "SST-2"))
    load_fails("max_train_examples must be a positive whole number", "rte", str(GLUE / "RTE"), max_train_examples=0)
    load_fails("text_columns and label_column apply to task 'file' only", "rte", str(GLUE / "RTE"), label_column="x")


# ---------------------------------------------------------------- task specs


def test_task_specs():
    assert TASKS == ("sst2", "mnli", "qnli", "qqp", "rte", "mrpc", "cola", "stsb", "imdb", "file", "instruct")
    expected = {
        "mrpc": ("f1", "accuracy"),
        "qqp": ("f1", "accuracy"),
        "cola": ("matthews_corr",),
        "stsb": ("pearson", "spearman"),
    }
    assert task_spec("instruct").metrics == ("exact_match", "token_loss")  # data/instruct.py
    for task in TASKS[:-2]:
        spec = task_spec(task)
        assert spec.name == task and spec.main_metric == "score"
        assert spec.metrics == expected.get(task, ("accuracy",))
    assert task_spec("stsb").is_regression and task_spec("STS-B").name == "stsb"
    assert task_spec("cola").labels == ("unacceptable", "acceptable")
    assert task_spec("mrpc").labels == ("not_equivalent", "equivalent")
    assert task_spec("qqp").labels == ("not_duplicate", "duplicate")
    assert task_spec("qnli").labels == task_spec("rte").labels == ("entailment", "not_entailment")
    assert task_spec("sst2", labels=["negative", "positive"]) == task_spec("sst2")
    assert task_spec("file", regression=True).metrics == ("pearson", "spearman")
    assert task_spec("file", labels=["b", "a"]).labels == ("b", "a")
    for kwargs in ({}, {"labels": ["a"]}, {"labels": ["a", "b"], "regression": True}):
        with pytest.raises(BadInput):
            task_spec("file", **kwargs)
    with pytest.raises(BadInput, match="fixed labels"):
        task_spec("sst2", labels=["bad", "good"])
    with pytest.raises(BadInput, match="valid tasks: sst2, mnli, qnli, qqp, rte, mrpc, cola, stsb, imdb, file"):
        task_spec("squad")
