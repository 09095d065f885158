"""Readers for the original GLUE TSV files (as written by GLUE's ``download_glue_data.py``).

Each task folder holds ``train.tsv`` and ``dev.tsv`` (MNLI: ``dev_matched.tsv`` and
``dev_mismatched.tsv``). Files are read with quoting OFF: STS-B and MNLI sentences contain
``"`` characters, and with CSV quoting on, rows get merged (STS-B train drops from 5,749 to 5,711).
Columns are looked up by header name, so a reordered file still reads; CoLA has no header and
is read by position.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import BadInput, for_client, label
from . import sample, splits
from .types import Example, TaskData, TaskSpec

# The csv module refuses fields over 128 KiB by default; user files may hold whole documents,
# so the limit is lifted (a field still cannot exceed one line when quoting is off).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

Quoting = Literal[0, 1, 2, 3]  # csv.QUOTE_MINIMAL, QUOTE_ALL, QUOTE_NONNUMERIC, QUOTE_NONE

UTF8_HINT = "re-save the file as UTF-8 (most editors offer 'Save with Encoding')"
MAX_FILE_BYTES = 2 * 1024**3  # beyond this a data file would not fit in memory as Python strings


def check_file_size(path: Path, limit: int = MAX_FILE_BYTES) -> None:
    size = path.stat().st_size
    if size > limit:
        raise BadInput(
            f"{path} is {size / 1024**3:.1f} GiB; data files over 2 GiB are not supported",
            hint="take a random subset of the rows into a smaller file (a few hundred thousand "
            "examples is plenty for parameter-efficient fine-tuning)",
        )


def read_table(
    path: Path, *, delimiter: str, quoting: Quoting, fieldnames: tuple[str, ...] | None = None
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Open a delimited UTF-8 file; return its column names and an iterator of (line number, fields).

    ``fieldnames`` is for header-less files (CoLA). Rows whose field count differs from the header
    raise BadInput with file:line. Blank lines are skipped. Decoding is done line by line so that
    a bad byte is reported with its line number, and a UTF-8 byte-order mark (Excel, MRPC) is dropped.
    """

    def lines() -> Iterator[str]:
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise BadInput(
                        f"{path}:{n}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})",
                        hint=UTF8_HINT,
                    ) from None
                yield text.removeprefix("\ufeff") if n == 1 else text

    reader = csv.reader(lines(), delimiter=delimiter, quoting=quoting)
    if fieldnames is None:
        header = next(reader, None)
        if header is None:
            raise BadInput(
                f"{path}: the file is empty (no header line)",
                for_client(
                    cli="point --data at the complete file (its first line names the columns)",
                    vscode="choose the complete file in the Experiment view's Data field (its first line names the "
                    "columns)",
                ),
            )
        columns = [c.strip() for c in header]
    else:
        columns = list(fieldnames)

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for row in reader:
                if not row or row == [""]:
                    continue
                if len(row) != len(columns):
                    sep = "tab" if delimiter == "\t" else repr(delimiter)
                    raise BadInput(
                        f"{path}:{reader.line_num}: expected {len(columns)} {sep}-separated fields "
                        f"({', '.join(columns)}), found {len(row)}",
                        f"fix that line: every row needs one {sep}-separated value per column",
                    )
                yield reader.line_num, row
        except csv.Error as e:
            raise BadInput(
                f"{path}:{reader.line_num}: cannot parse the line ({e})", "fix the quoting on that line"
            ) from None

    return columns, rows()


def column_index(path: Path | str, columns: list[str], name: str) -> int:
    if name not in columns:
        raise BadInput(
            f"{path}: missing column '{name}'; columns found: {', '.join(columns) or '(none)'}",
            for_client(
                cli="check that --task matches these files; for your own file (task 'file') name the columns "
                "with --text-columns and --label-column",
                vscode="check that the Experiment view's Task matches these files; for your own file (Task: Own "
                "file) name the columns in its Text column(s) and Label column fields",
            ),
        )
    return columns.index(name)


@dataclass(frozen=True)
class GlueFormat:
    folder: str  # folder name in the GLUE distribution, also the display name
    text_a: str
    text_b: str | None
    label: str
    labels: tuple[str, ...] | None  # class names in index order; None = regression (STS-B)
    by_name: bool = False  # labels written as names (MNLI, QNLI, RTE) rather than 0/1
    fieldnames: tuple[str, ...] | None = None  # header-less files (CoLA)


FORMATS = {
    "cola": GlueFormat(
        "CoLA",
        "sentence",
        None,
        "label",
        ("unacceptable", "acceptable"),
        fieldnames=("source", "label", "original_label", "sentence"),
    ),
    "sst2": GlueFormat("SST-2", "sentence", None, "label", ("negative", "positive")),
    "mrpc": GlueFormat("MRPC", "#1 String", "#2 String", "Quality", ("not_equivalent", "equivalent")),
    "qqp": GlueFormat("QQP", "question1", "question2", "is_duplicate", ("not_duplicate", "duplicate")),
    "stsb": GlueFormat("STS-B", "sentence1", "sentence2", "score", None),
    "mnli": GlueFormat(
        "MNLI", "sentence1", "sentence2", "gold_label", ("entailment", "neutral", "contradiction"), by_name=True
    ),
    "qnli": GlueFormat("QNLI", "question", "sentence", "label", ("entailment", "not_entailment"), by_name=True),
    "rte": GlueFormat("RTE", "sentence1", "sentence2", "label", ("entailment", "not_entailment"), by_name=True),
}


def _parse_label(fmt: GlueFormat, value: str, where: str) -> int | float:
    value = value.strip()
    if fmt.labels is None:  # STS-B similarity score
        try:
            score = float(value)
        except ValueError:
            score = math.nan
        if not 0.0 <= score <= 5.0:  # also rejects NaN
            raise BadInput(
                f"{where}: label '{value}' is not a similarity score between 0 and 5", "fix or remove that row"
            )
        return score
    allowed = fmt.labels if fmt.by_name else tuple(str(i) for i in range(len(fmt.labels)))
    if value not in allowed:
        raise BadInput(
            f"{where}: label '{value}' is not one of {', '.join(allowed)} ({fmt.folder} labels)",
            "fix or remove that row, or "
            + for_client(
                cli="check that --task matches the data",
                vscode=f"check that {label('task')} in the Experiment view matches the data",
            ),
        )
    return allowed.index(value)


def read_file(fmt: GlueFormat, path: Path) -> list[Example]:
    if not path.is_file():
        raise BadInput(
            f"{fmt.folder}: {path} not found",
            hint=f"the folder should hold the original GLUE files ({_expected_files(fmt)})",
        )
    check_file_size(path)
    columns, rows = read_table(path, delimiter="\t", quoting=csv.QUOTE_NONE, fieldnames=fmt.fieldnames)
    ia = column_index(path, columns, fmt.text_a)
    ib = column_index(path, columns, fmt.text_b) if fmt.text_b else None
    il = column_index(path, columns, fmt.label)
    examples = [
        Example(row[ia], row[ib] if ib is not None else None, _parse_label(fmt, row[il], f"{path}:{line}"))
        for line, row in rows
    ]
    if not examples:
        raise BadInput(f"{path}: no data rows", "the file has only its header; use the complete GLUE file")
    return examples


def _expected_files(fmt: GlueFormat) -> str:
    dev = "dev_matched.tsv, dev_mismatched.tsv" if fmt.folder == "MNLI" else "dev.tsv"
    return f"train.tsv, {dev}"


def _folder_hint(task: str, fmt: GlueFormat) -> str:
    cli = f"pass --data path/to/glue/{fmt.folder} (the folder with {_expected_files(fmt)})"
    vscode = (
        f"choose the {fmt.folder} folder (with {_expected_files(fmt)}) in the Experiment view's Data field (Browse…)"
    )
    if task in sample.sample_tasks():  # the quickest way to a run: the sample packaged with the engine
        cli += f", or --data sample for the {fmt.folder} sample packaged with the engine"
        vscode += f', or write "sample" there for the {fmt.folder} sample packaged with the engine'
    return for_client(cli=cli, vscode=vscode)


def _task_folder(task: str, fmt: GlueFormat, data: str | None) -> Path:
    if data is None:
        raise BadInput(f"{fmt.folder} needs a data folder", hint=_folder_hint(task, fmt))
    folder = Path(data).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "not found"
        raise BadInput(f"{fmt.folder} data folder {folder} {what}", hint=_folder_hint(task, fmt))
    # Accept the GLUE root too (glue/ containing SST-2/, ...), a common slip.
    if not (folder / "train.tsv").exists() and (folder / fmt.folder / "train.tsv").is_file():
        folder = folder / fmt.folder
    return folder


def load(
    task: str,
    spec: TaskSpec,
    data: str | None,
    *,
    seed: int,
    validation_size: int,
    max_train: int | None,
    max_eval: int | None,
) -> TaskData:
    fmt = FORMATS[task]
    folder = _task_folder(task, fmt, data)
    train = read_file(fmt, folder / "train.tsv")
    if task == "mnli":
        validation = read_file(fmt, folder / "dev_mismatched.tsv")
        test = read_file(fmt, folder / "dev_matched.tsv")
        note = (
            f"MNLI: {len(train):,} train (all used); validation = dev_mismatched ({len(validation):,}), "
            f"test = dev_matched ({len(test):,})"
        )
    else:
        dev = read_file(fmt, folder / "dev.tsv")
        train, validation, test, note = splits.paper_split(
            task, fmt.folder, train, dev, seed=seed, validation_size=validation_size
        )
    return splits.finish(spec, train, validation, test, [note], seed=seed, max_train=max_train, max_eval=max_eval)
