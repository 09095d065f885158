"""The user's own data (task ``file``): one .csv, .tsv or .jsonl file with text and label columns.

* .csv is read with standard CSV quoting (what spreadsheets and pandas write);
* .tsv is read like GLUE, quoting off, so stray ``"`` in sentences are kept as text;
* .jsonl is one JSON object per line; keys are the column names.

The task kind is inferred from the labels: if every label is a finite number and there are more
than 10 distinct values, or any value is fractional, it is regression (pearson/spearman);
otherwise classification over the sorted distinct values. There is no separate dev file, so
validation and test are each 10% of the file (at least 1), sampled with the run seed.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path

from ..errors import BadInput, for_client, label
from . import splits
from .glue import MAX_FILE_BYTES, UTF8_HINT, check_file_size, column_index, read_table
from .types import Example, TaskData, TaskSpec

MAX_BYTES = MAX_FILE_BYTES
MAX_DISTINCT_CLASSES = 10  # more distinct numeric labels than this means a score, not classes
EXTENSIONS = (".csv", ".tsv", ".jsonl")


def file_hint() -> str:
    return for_client(
        cli="pass --data path/to/file.csv (or .tsv, .jsonl)",
        vscode="choose your .csv, .tsv or .jsonl file in the Experiment view's Data field (Browse…)",
    )


def _open(path: Path) -> None:
    if path.is_dir():
        raise BadInput(
            f"{path} is a folder; task 'file' reads one .csv, .tsv or .jsonl file",
            hint=for_client(
                cli="pass --data path/to/file.csv, or pick the task the folder holds (e.g. sst2 for GLUE SST-2)",
                vscode="choose one .csv, .tsv or .jsonl file in the Experiment view's Data field (Browse…), or set "
                "Task to the task the folder holds (e.g. GLUE SST-2)",
            ),
        )
    if not path.is_file():
        raise BadInput(f"data file {path} not found", hint=file_hint())
    if path.suffix.lower() not in EXTENSIONS:
        raise BadInput(
            f"{path}: unknown file type '{path.suffix}'; expected one of {', '.join(EXTENSIONS)}",
            hint="rename the file to match its format (comma-separated .csv, tab-separated .tsv, "
            "or one JSON object per line .jsonl)",
        )
    check_file_size(path, MAX_BYTES)


def _jsonl_rows(path: Path):
    """Yield (line, object) from a .jsonl file; blank lines are skipped."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8").removeprefix("\ufeff")
            except UnicodeDecodeError:
                raise BadInput(f"{path}:{n}: not valid UTF-8", hint=UTF8_HINT) from None
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                raise BadInput(
                    f"{path}:{n}: not valid JSON ({e.msg})",
                    'each line must be one JSON object, e.g. {"text": "...", "label": "positive"}',
                ) from None
            if not isinstance(obj, dict):
                raise BadInput(
                    f"{path}:{n}: expected a JSON object per line, found {type(obj).__name__}",
                    'each line must be one JSON object, e.g. {"text": "...", "label": "positive"}',
                )
            yield n, obj


def _rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """Return the column names and an iterator of (line, {column: value}), whatever the format."""
    if path.suffix.lower() == ".jsonl":
        rows = _jsonl_rows(path)
        first = next(rows, None)
        if first is None:
            raise BadInput(f"{path}: no data rows (the file is empty)", file_hint())
        return list(first[1]), itertools.chain([first], rows)
    delimiter, quoting = ("\t", csv.QUOTE_NONE) if path.suffix.lower() == ".tsv" else (",", csv.QUOTE_MINIMAL)
    columns, table = read_table(path, delimiter=delimiter, quoting=quoting)
    return columns, ((line, dict(zip(columns, row, strict=True))) for line, row in table)


def _records(path: Path | str, columns: list[str], rows, text_columns: list[str] | None, label_column: str):
    """Return (text column names, [(line, texts, raw label)]); only the needed columns are kept."""
    if isinstance(text_columns, str):  # a single name given bare
        text_columns = [text_columns]
    if text_columns is None:
        if "text" not in columns:
            raise BadInput(
                f"{path}: no 'text' column; columns found: {', '.join(columns) or '(none)'}",
                hint=for_client(
                    cli="name the text column(s) with --text-columns (one, or two for sentence pairs)",
                    vscode="name the text column(s) in the Experiment view's Text column(s) field (one, or two "
                    "for sentence pairs)",
                ),
            )
        text_columns = ["text"]
    if not 1 <= len(text_columns) <= 2:
        raise BadInput(
            f"text_columns takes one or two column names, got {len(text_columns)}: {text_columns}",
            "one column for single texts, two for sentence pairs",
        )
    for name in (*text_columns, label_column):
        column_index(path, columns, name)  # BadInput naming the columns found
    records = []
    for line, row in rows:
        texts = []
        for name in (*text_columns, label_column):
            if name not in row:  # only .jsonl rows can differ from the first one
                raise BadInput(
                    f"{path}:{line}: missing key '{name}'; keys found: {', '.join(row) or '(none)'}",
                    "every line needs the same keys as the first",
                )
        for name in text_columns:
            value = row[name]
            if isinstance(value, str) and value.strip():
                texts.append(value)
            elif isinstance(value, str) or value is None:
                raise BadInput(f"{path}:{line}: text column '{name}' is empty", "fill in or remove that row")
            else:
                raise BadInput(
                    f"{path}:{line}: text column '{name}' holds {type(value).__name__}, not text",
                    "write the text as a JSON string",
                )
        records.append((line, texts, row[label_column]))
    return text_columns, records


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        x = float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _label_name(value, where: str) -> str:
    if isinstance(value, bool):  # JSON true/false
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None or isinstance(value, str):
        raise BadInput(f"{where}: label is empty", "give every row a label, or remove the row")
    raise BadInput(
        f"{where}: label must be a string or number, found {type(value).__name__}",
        "write the label as a string or a number",
    )


def read(
    data: str, text_columns: list[str] | None, label_column: str | None
) -> tuple[list[Example], tuple[str, ...] | None, list[str]]:
    """Read the file; return (examples, class names or None for regression, notes)."""
    path = Path(data).expanduser()
    _open(path)
    columns, rows = _rows(path)
    return from_rows(path, path.name, columns, rows, text_columns, label_column)


def from_rows(
    path: Path | str,
    name: str,
    columns: list[str],
    rows: Iterator[tuple[int | str, dict]],
    text_columns: list[str] | None,
    label_column: str | None,
) -> tuple[list[Example], tuple[str, ...] | None, list[str]]:
    """Examples from rows ``(line, {column: value})`` of ``columns``, whatever they were read from (a file here, a
    ``datasets`` table in hf_datasets.py): ``path`` names the source in messages, ``name`` in the notes."""
    label_column = label_column or "label"
    text_columns, records = _records(path, columns, rows, text_columns, label_column)
    if len(records) < 10:
        raise BadInput(
            f"{path}: too few examples ({len(records)}); at least 10 are needed to hold out "
            "validation and test sets (10% each)",
            "add examples (hundreds or more give useful results)",
        )
    raw = [_label_name(value, f"{path}:{line}") for line, _, value in records]
    numbers = [x for x in map(_number, raw) if x is not None]
    notes = [f"file: {len(records):,} examples from {name} (text: {', '.join(text_columns)}; label: {label_column})"]
    classes: tuple[str, ...]
    if len(numbers) == len(raw):  # every label is a number
        distinct = sorted(set(numbers))
        if len(distinct) > MAX_DISTINCT_CLASSES or any(x != int(x) for x in distinct):
            notes.append(
                f"file: labels are numbers ({len(distinct):,} distinct, {distinct[0]:g} to {distinct[-1]:g})"
                " -> regression, metrics pearson/spearman"
            )
            return ([Example(*_pair(t), float(x)) for (_, t, _), x in zip(records, numbers, strict=True)], None, notes)
        # Few whole numbers: classes, named without a trailing ".0" and ordered numerically.
        names = [f"{int(x)}" for x in numbers]
        classes = tuple(f"{int(x)}" for x in distinct)
    else:
        names = raw
        classes = tuple(sorted(set(names)))
    if len(classes) < 2:
        raise BadInput(
            f"{path}: every example has the label '{', '.join(classes)}'; a classifier needs at least 2 classes",
            for_client(
                cli=f"check --label-column (now '{label_column}'), or add examples of the other classes",
                vscode=f"check {label('label_column')} in the Experiment view (now '{label_column}'), or add examples "
                "of the other classes",
            ),
        )
    mapping = ", ".join(f"{i}={name}" for i, name in enumerate(classes[:20]))
    more = f", ... ({len(classes) - 20:,} more)" if len(classes) > 20 else ""
    notes.append(f"file: classification with {len(classes):,} labels: {mapping}{more}")
    index = {name: i for i, name in enumerate(classes)}
    return [Example(*_pair(t), index[n]) for (_, t, _), n in zip(records, names, strict=True)], classes, notes


def _pair(texts: list[str]) -> tuple[str, str | None]:
    return texts[0], (texts[1] if len(texts) > 1 else None)


def split(
    spec: TaskSpec, examples: list[Example], notes: list[str], *, seed: int, max_train: int | None, max_eval: int | None
) -> TaskData:
    """No dev file: hold out 10% (at least 1) for test, then 10% for validation, stratified and seeded."""
    n = max(1, len(examples) // 10)
    test, rest = splits.sample(examples, n, seed, "file-test")
    validation, train = splits.sample(rest, n, seed, "file-validation")
    notes.append(
        f"file: no dev file; held out {len(validation):,} validation / {len(test):,} test "
        f"(10% each, seed {seed}), {len(train):,} train"
    )
    return splits.finish(spec, train, validation, test, notes, seed=seed, max_train=max_train, max_eval=max_eval)
