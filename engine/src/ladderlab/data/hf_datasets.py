"""Data through the ``datasets`` library: a folder written by ``save_to_disk`` (a Dataset or a DatasetDict), a
.parquet or .arrow file, a folder of them (split names read from the file names, as ``load_dataset`` reads them), or
a hub dataset ``org/name[:config]`` already in the user's datasets cache (e.g. ``nyu-mll/glue:sst2``; offline, as
the package runs).

The splits then follow the same rules as the TSV/CSV readers: a GLUE task takes ``train`` and ``validation`` (MNLI:
``validation_mismatched`` for model selection, ``validation_matched`` as test) by the paper's rule (splits.py), with
GLUE's column names as the hub's GLUE has them; task ``file`` reads one split (``train``, or the only one) with
``text_columns``/``label_column`` through userfile's rules (10% validation, 10% test). Column and label errors are
the readers' own. ``datasets`` is imported only here and only when such a source is given: runs without it work.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import BadInput, for_client
from . import splits, userfile
from .glue import FORMATS, column_index
from .types import Example, TaskData, TaskSpec

_NAME = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?::(?P<config>[\w.-]+))?$", re.ASCII)
FILE_TYPES = {".parquet": "parquet", ".arrow": "arrow"}  # suffix -> datasets' packaged builder
SAVED_MARKERS = ("dataset_dict.json", "state.json")  # what save_to_disk writes (DatasetDict, Dataset)
# The hub's GLUE (nyu-mll/glue) column names; the label column is "label" in every task.
GLUE_COLUMNS: dict[str, tuple[str, str | None]] = {
    "cola": ("sentence", None),
    "sst2": ("sentence", None),
    "mrpc": ("sentence1", "sentence2"),
    "qqp": ("question1", "question2"),
    "stsb": ("sentence1", "sentence2"),
    "mnli": ("premise", "hypothesis"),
    "qnli": ("question", "sentence"),
    "rte": ("sentence1", "sentence2"),
}


def parse_dataset_name(value: str) -> tuple[str, str | None] | None:
    """(repo id, config or None) when ``value`` is written as a hub dataset name; None otherwise."""
    match = _NAME.match(value)
    if match is None or value.startswith("."):
        return None
    return match["repo"], match["config"]


def is_source(data: str) -> bool:
    """Whether ``data`` is for this reader: a saved dataset, parquet/arrow files, or a hub name that is not a path."""
    path = Path(data).expanduser()
    if path.is_file():
        return path.suffix.lower() in FILE_TYPES
    if path.is_dir():
        if (path / "train.tsv").is_file():  # a GLUE TSV folder stays one, whatever else lies in it
            return False
        return any((path / m).is_file() for m in SAVED_MARKERS) or any(
            p.suffix.lower() in FILE_TYPES for p in path.rglob("*")
        )
    return parse_dataset_name(data) is not None


def read_file_task(
    data: str, text_columns: list[str] | None, label_column: str | None
) -> tuple[list[Example], tuple[str, ...] | None, list[str]]:
    """Task ``file``: (examples, class names or None for regression, notes) from one split, as userfile.read."""
    tables = _tables(data)
    split = "train" if "train" in tables or len(tables) != 1 else next(iter(tables))
    table = _split(tables, split, data)
    # ClassLabel ints are read as their names, as a file would have written them.
    names = {c: f.names for c, f in table.features.items() if hasattr(f, "names")}
    rows = (
        (f"row {i + 1}", {c: names[c][v] if c in names and isinstance(v, int) and v >= 0 else v for c, v in r.items()})
        for i, r in enumerate(table)
    )
    where = f"{data} [{split}]"
    return userfile.from_rows(where, where, list(table.column_names), rows, text_columns, label_column)


def load_glue(
    task: str, spec: TaskSpec, data: str, *, seed: int, validation_size: int, max_train, max_eval
) -> TaskData:
    """A GLUE task's splits from a ``datasets`` source, by the paper's rule (as glue.load)."""
    if task not in GLUE_COLUMNS:
        raise BadInput(
            f"task '{task}' reads its own files, not a datasets source ({data})",
            "read it as task 'file', naming its columns with text_columns and label_column (IMDB from the hub: "
            "text, label)",
        )
    tables = _tables(data)
    fmt = FORMATS[task]

    def read(split: str) -> list[Example]:
        return _glue_examples(task, f"{data} [{split}]", _split(tables, split, data))

    train = read("train")
    if task == "mnli":
        validation, test = read("validation_mismatched"), read("validation_matched")
        note = (
            f"MNLI ({data}): {len(train):,} train (all used); validation = validation_mismatched "
            f"({len(validation):,}), test = validation_matched ({len(test):,})"
        )
    else:
        display = f"{fmt.folder} ({data})"
        dev = read("validation")
        train, validation, test, note = splits.paper_split(
            task, display, train, dev, seed=seed, validation_size=validation_size
        )
    return splits.finish(spec, train, validation, test, [note], seed=seed, max_train=max_train, max_eval=max_eval)


def _tables(data: str) -> dict:
    """{split name: datasets.Dataset} from the source, through datasets' own loaders."""
    try:
        import datasets
    except ImportError:
        raise BadInput(
            f"{data} is a datasets source, and the datasets library is not installed",
            for_client(
                cli="pip install datasets (the engine's extra: pip install 'ladderlab[datasets]')",
                vscode="install it into the engine's Python environment (python -m pip install datasets with the "
                "interpreter Ladder Lab uses, e.g. the workspace's .venv), or give the data as a .csv/.tsv/.jsonl file",
            ),
        ) from None
    datasets.disable_progress_bars()  # stderr belongs to the run's own messages
    datasets.logging.set_verbosity_error()  # "using the latest cached version": the notes say what was read
    path = Path(data).expanduser()
    try:
        if path.is_dir() and any((path / m).is_file() for m in SAVED_MARKERS):
            loaded = datasets.load_from_disk(str(path))
        elif path.is_file():
            loaded = datasets.load_dataset(FILE_TYPES[path.suffix.lower()], data_files={"train": str(path)})
        elif path.is_dir():
            loaded = datasets.load_dataset(str(path))
        else:
            repo, config = parse_dataset_name(data) or (data, None)
            loaded = datasets.load_dataset(repo, config)
    except (FileNotFoundError, ConnectionError, ValueError) as e:
        raise BadInput(*_unreadable(data, path, e)) from None
    return dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}


def _unreadable(data: str, path: Path, error: Exception) -> tuple[str, str]:
    first = "; ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    if path.exists():
        return f"cannot read {path} with datasets: {first}", "check that it was written by save_to_disk or to_parquet"
    from datasets import config

    repo, name = parse_dataset_name(data) or (data, None)
    load = f"datasets.load_dataset('{repo}'" + (f", '{name}'" if name else "") + ")"
    return (
        f"dataset {data} is not in the datasets cache (looked in {config.HF_DATASETS_CACHE}) nor a file or folder "
        f"by that name here, and Ladder Lab reads it offline: {first}",
        f"load it once where the hub is reachable ({load}), or save it with save_to_disk / to_parquet and pass "
        "that folder or file",
    )


def _split(tables: dict, name: str, data: str) -> Any:  # a datasets.Dataset (datasets is imported lazily)
    if name not in tables:
        raise BadInput(
            f"{data} has no '{name}' split; splits found: {', '.join(tables) or '(none)'}",
            "save the dataset with its train and validation splits (a DatasetDict), or name your files "
            "train.parquet / validation.parquet",
        )
    return tables[name]


def _glue_examples(task: str, where: str, table) -> list[Example]:
    """A GLUE split's examples; labels as class indices (the hub's ClassLabel order is GLUE's) or names."""
    fmt, (text_a, text_b) = FORMATS[task], GLUE_COLUMNS[task]
    columns = list(table.column_names)
    for name in (text_a, text_b, "label"):
        if name is not None:
            column_index(where, columns, name)  # BadInput naming the columns found
    names = getattr(table.features["label"], "names", None)  # a ClassLabel's names
    examples = []
    for i, row in enumerate(table.select_columns([c for c in (text_a, text_b, "label") if c])):
        at = f"{where} row {i + 1}"
        second = _text(row[text_b], at) if text_b else None
        examples.append(Example(_text(row[text_a], at), second, _label(fmt, row["label"], names, at)))
    if not examples:
        raise BadInput(f"{where}: no rows", "save the complete split")
    return examples


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{where}: the text is empty or not text ({type(value).__name__})", "fix or remove that row")
    return value


def _label(fmt, value, names: list[str] | None, where: str) -> int | float:
    if fmt.labels is None:  # STS-B's similarity score
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 5.0:
            return float(value)
        raise BadInput(f"{where}: label {value!r} is not a similarity score between 0 and 5", "fix or remove that row")
    name = value if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names or fmt.labels):
        name = (names or fmt.labels)[value]
    if name not in fmt.labels:
        unlabelled = " (-1: GLUE's test splits have no labels)" if value == -1 else ""
        raise BadInput(
            f"{where}: label {value!r}{unlabelled} is not one of {', '.join(fmt.labels)} or their index",
            "use the task's train and validation splits, or "
            + for_client(cli="check that --task matches the data", vscode="check the Experiment view's Task"),
        )
    return fmt.labels.index(name)
