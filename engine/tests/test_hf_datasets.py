"""``--data`` from the datasets library (data/hf_datasets.py): a save_to_disk folder, parquet files, a hub dataset in
the datasets cache. Each is built here from the same real GLUE SST-2 rows as the TSV fixture (fixtures/glue-real,
from ../shared/data/glue), with the hub GLUE's columns and ClassLabel, and must give exactly the splits the TSV
reader gives: same split rule, same seeds, same examples. Bad columns, a missing split, a dataset not in the cache
are refused with the readers' own kind of message. Offline: the cache is filled with datasets' own builder."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import pytest

from helpers import SST2, TINY_LST, load_fails
from ladderlab.comparison import run_comparison
from ladderlab.config import build_experiment
from ladderlab.data import load_task
from ladderlab.data.glue import FORMATS, read_file
from ladderlab.events import EventSink

datasets = pytest.importorskip("datasets")

SPLIT_OPTIONS = {"seed": 3, "max_train_examples": 64, "max_eval_examples": 32}


@pytest.fixture(scope="module")
def sst2_dict():
    """The fixture's SST-2 rows as the hub's nyu-mll/glue sst2 holds them: sentence, label (ClassLabel), idx."""
    features = datasets.Features(
        {
            "sentence": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["negative", "positive"]),
            "idx": datasets.Value("int32"),
        }
    )

    def table(tsv: str):
        rows = read_file(FORMATS["sst2"], SST2 / tsv)
        columns = {
            "sentence": [e.text_a for e in rows],
            "label": [e.label for e in rows],
            "idx": list(range(len(rows))),
        }
        return datasets.Dataset.from_dict(columns, features=features)

    return datasets.DatasetDict({"train": table("train.tsv"), "validation": table("dev.tsv")})


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path, monkeypatch) -> Path:
    """datasets reads HF_DATASETS_CACHE at import: the constant stands in for it, so nothing lands in $HOME."""
    cache = tmp_path / "datasets-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(cache))
    return cache


def _splits(task_data):
    return task_data.spec, task_data.train, task_data.validation, task_data.test


def test_save_to_disk_and_parquet_folders_split_as_the_tsv_folder(sst2_dict, tmp_path):
    expected = _splits(load_task("sst2", str(SST2), **SPLIT_OPTIONS))
    saved = tmp_path / "saved"
    sst2_dict.save_to_disk(str(saved))
    parquet = tmp_path / "parquet"
    for split, table in sst2_dict.items():
        table.to_parquet(str(parquet / f"{split}.parquet"))  # split names from file names, as load_dataset reads them
    for source in (saved, parquet):
        loaded = load_task("sst2", str(source), **SPLIT_OPTIONS)
        assert _splits(loaded) == expected, source
        assert "1,000 as validation" in loaded.notes[0]  # the paper's hold-out, as for the TSV folder


def test_a_hub_dataset_from_the_datasets_cache(sst2_dict, tmp_path, datasets_cache):
    """nyu-mll/glue:sst2 as the cache holds it after a load on a connected machine (nyu-mll___glue/sst2/0.0.0/<hash>/
    glue-train.arrow + dataset_info.json), written here by datasets' own parquet builder from local files."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    files = {}
    for split, table in sst2_dict.items():
        files[split] = str(tmp_path / f"{split}.parquet")
        table.to_parquet(files[split])
    builder = Parquet(
        cache_dir=str(datasets_cache), dataset_name="glue", config_name="sst2", data_files=files, hash="0" * 40
    )
    builder.download_and_prepare()
    # The builder names its config folder after its data files; the hub's configs are named plainly.
    (datasets_cache / "nyu-mll___glue").mkdir()
    shutil.move(Path(builder.cache_dir).parents[1], datasets_cache / "nyu-mll___glue" / "sst2")
    assert _splits(load_task("sst2", "nyu-mll/glue:sst2", **SPLIT_OPTIONS)) == _splits(
        load_task("sst2", str(SST2), **SPLIT_OPTIONS)
    )
    error = load_fails("not in the datasets cache", "mnli", "nyu-mll/glue:mnli")
    assert str(datasets_cache) in error.message and "Available configs in the cache: ['sst2']" in error.message
    assert "load_dataset('nyu-mll/glue', 'mnli')" in (error.hint or "") and "save_to_disk" in (error.hint or "")
    load_fails("nyu-mll/absent is not in the datasets cache", "sst2", "nyu-mll/absent")


def test_file_task_on_a_parquet_file_splits_as_the_same_rows_in_a_csv(sst2_dict, tmp_path):
    parquet = tmp_path / "reviews.parquet"
    sst2_dict["train"].to_parquet(str(parquet))
    table = tmp_path / "reviews.csv"
    with open(table, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["sentence", "label"])
        names = sst2_dict["train"].features["label"].names
        writer.writerows((row["sentence"], names[row["label"]]) for row in sst2_dict["train"])
    options = {"seed": 0, "text_columns": ["sentence"], "label_column": "label"}
    ours, theirs = load_task("file", str(parquet), **options), load_task("file", str(table), **options)
    assert ours.spec.labels == ("negative", "positive")  # the ClassLabel's names, not 0/1
    assert _splits(ours) == _splits(theirs) and (len(ours.train), len(ours.test)) == (1600, 200)


def test_bad_columns_splits_and_labels_are_refused(sst2_dict, tmp_path):
    saved = tmp_path / "saved"
    sst2_dict.save_to_disk(str(saved))
    error = load_fails(r"\[train\]: no 'text' column; columns found: sentence, label, idx", "file", str(saved))
    assert "--text-columns" in (error.hint or "")
    load_fails(
        r"missing column 'review'; columns found: sentence, label, idx", "file", str(saved), text_columns=["review"]
    )
    load_fails(r"\[train\]: missing column 'premise'; columns found: sentence, label, idx", "mnli", str(saved))
    one_file = tmp_path / "train.parquet"
    sst2_dict["train"].to_parquet(str(one_file))
    load_fails(r"has no 'validation' split; splits found: train", "sst2", str(one_file))
    unlabelled = tmp_path / "unlabelled"
    datasets.DatasetDict(
        {**sst2_dict, "validation": sst2_dict["validation"].map(lambda r: {"label": -1})}
    ).save_to_disk(str(unlabelled))
    load_fails(r"\[validation\] row 1: label -1 \(-1: GLUE's test splits have no labels\)", "sst2", str(unlabelled))
    load_fails("task 'imdb' reads its own files, not a datasets source", "imdb", str(saved))
    # A GLUE TSV folder stays one, even with a parquet file beside its TSV files.
    tsv = tmp_path / "SST-2"
    shutil.copytree(SST2, tsv)
    shutil.copyfile(one_file, tsv / "extra.parquet")
    assert _splits(load_task("sst2", str(tsv), **SPLIT_OPTIONS)) == _splits(
        load_task("sst2", str(SST2), **SPLIT_OPTIONS)
    )


def test_a_run_on_a_saved_dataset(sst2_dict, tmp_path):
    saved = tmp_path / "saved"
    sst2_dict.save_to_disk(str(saved))
    exp = build_experiment({}, {**TINY_LST, "data": str(saved), "runs_dir": str(tmp_path / "runs"), "epochs": 1})
    outcome = run_comparison(exp, EventSink("quiet"))
    assert not outcome.failed and [row["method"] for row in outcome.rows] == ["lst"]


def test_without_the_datasets_library_other_data_still_reads(sst2_dict, tmp_path, monkeypatch):
    parquet = tmp_path / "train.parquet"
    sst2_dict["train"].to_parquet(str(parquet))
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` now fails, as where it is not installed
    error = load_fails("is a datasets source, and the datasets library is not installed", "file", str(parquet))
    assert "pip install datasets" in (error.hint or "")
    assert len(load_task("sst2", str(SST2), **SPLIT_OPTIONS).train) == 64  # TSV never needs it
