"""Dataset readers: the 8 GLUE tasks, IMDB, the user's own file and the packaged samples, split by the paper's rule.

``load_task`` is the one entry point; it returns plain ``Example`` lists (no tokenization) and
notes describing every split decision, which the CLI emits as log events.
"""

from __future__ import annotations

from ..errors import BadInput
from . import glue, hf_datasets, imdb, instruct, sample, splits, userfile
from .types import Example, TaskData, TaskSpec

__all__ = ["TASKS", "canonical_task", "task_spec", "load_task", "Example", "TaskData", "TaskSpec"]

TASKS = ("sst2", "mnli", "qnli", "qqp", "rte", "mrpc", "cola", "stsb", "imdb", "file", "instruct")

# Official metrics per task (see ladderlab.metrics for how each is computed).
_METRICS: dict[str, tuple[str, ...]] = {
    "sst2": ("accuracy",),
    "mnli": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "imdb": ("accuracy",),
    "mrpc": ("f1", "accuracy"),
    "qqp": ("f1", "accuracy"),
    "cola": ("matthews_corr",),
    "stsb": ("pearson", "spearman"),
}
_FIXED_LABELS: dict[str, tuple[str, ...] | None] = {
    **{task: fmt.labels for task, fmt in glue.FORMATS.items()},
    "imdb": ("negative", "positive"),
}


def canonical_task(task: str) -> str:
    """'SST-2', 'sts_b', 'MNLI' -> 'sst2', 'stsb', 'mnli' (the GLUE folder spellings are accepted)."""
    name = str(task).strip().lower().replace("-", "").replace("_", "")
    if name not in TASKS:
        raise BadInput(
            f"unknown task '{task}'; valid tasks: {', '.join(TASKS)}",
            "set task to one of them (use 'file' for your own .csv/.tsv/.jsonl)",
        )
    return name


def task_spec(task: str, labels: list[str] | None = None, regression: bool = False) -> TaskSpec:
    """The TaskSpec of a task. ``labels``/``regression`` describe a ``file`` task; for the others
    they may be given (e.g. from a saved run) but must agree with the task's fixed label set."""
    name = canonical_task(task)
    if name == instruct.TASK:  # causal-LM instruction tuning: no labels (instruct.py)
        return instruct.SPEC
    if name == "file":
        if regression == bool(labels):
            raise BadInput("task 'file' needs either its class labels or regression=True (not both, not neither)")
        if labels is not None and (len(labels) < 2 or len(set(labels)) != len(labels)):
            raise BadInput(f"task 'file' needs at least 2 distinct class labels, got {list(labels)}")
        fixed = None if regression or labels is None else tuple(str(x) for x in labels)
        metrics = ("pearson", "spearman") if regression else ("accuracy",)
    else:
        fixed, metrics = _FIXED_LABELS[name], _METRICS[name]
        if (labels is not None and tuple(labels) != fixed) or (regression and fixed is not None):
            raise BadInput(
                f"task '{name}' has the fixed labels {fixed or 'None (regression)'}; "
                f"got labels={labels}, regression={regression}"
            )
    return TaskSpec(name=name, labels=fixed, metrics=metrics, main_metric="score")


def load_task(
    task: str,
    data: str | None,
    *,
    seed: int = 42,
    max_train_examples: int | None = None,
    max_eval_examples: int | None = None,
    text_columns: list[str] | None = None,
    label_column: str | None = None,
    validation_size: int = 1000,
) -> TaskData:
    """Read a task and split it by the paper's rule (see ``splits``); deterministic for a seed.

    ``data``: GLUE task folder (train.tsv, dev.tsv), IMDB reviews.json or its folder (None searches
    node_modules), the user's .csv/.tsv/.jsonl for ``file``, a ``datasets`` source for GLUE tasks and ``file``
    (hf_datasets.py: save_to_disk folder, parquet/arrow, cached hub dataset ``org/name:config``), or ``"sample"``:
    the sample packaged with the engine for the task (``sample.py``). ``text_columns``/``label_column`` apply to
    ``file`` only. Any problem with the data is a BadInput saying what to fix.
    """
    name = canonical_task(task)
    data, sample_notes = sample.resolve(name, data)  # the packaged sample's folder, or data as given
    splits.check_sizes(validation_size, max_train_examples, max_eval_examples)
    caps = {"max_train": max_train_examples, "max_eval": max_eval_examples}
    if name != "file" and (text_columns or label_column):
        raise BadInput(
            f"text_columns and label_column apply to task 'file' only, not '{name}'",
            "remove them, or set task to 'file' to read your own file",
        )
    if name == instruct.TASK:
        return instruct.load(data, seed=seed, max_train=max_train_examples, max_eval=max_eval_examples)
    if name == "file":
        if data is None:
            raise BadInput("task 'file' needs a data file", hint=userfile.file_hint())
        reader = hf_datasets.read_file_task if hf_datasets.is_source(data) else userfile.read
        examples, labels, notes = reader(data, text_columns, label_column)
        spec = task_spec("file", labels=list(labels) if labels else None, regression=labels is None)
        return userfile.split(spec, examples, notes, seed=seed, **caps)
    spec = task_spec(name)
    if data is not None and hf_datasets.is_source(data):  # save_to_disk, parquet/arrow, a cached hub dataset
        loaded = hf_datasets.load_glue(name, spec, data, seed=seed, validation_size=validation_size, **caps)
    elif name == "imdb":
        loaded = imdb.load(spec, data, seed=seed, validation_size=validation_size, **caps)
    else:
        loaded = glue.load(name, spec, data, seed=seed, validation_size=validation_size, **caps)
    loaded.notes[:0] = sample_notes
    return loaded


def read_for(exp) -> TaskData:
    """The task's splits exactly as a run of the experiment ``exp`` (a ``config.Experiment``; not imported here, since
    config imports this package) reads them; ``ladderlab estimate`` reads the same."""
    return load_task(
        exp.task,
        exp.data,
        seed=exp.data_seed,
        max_train_examples=exp.max_train_examples,
        max_eval_examples=exp.max_eval_examples,
        text_columns=exp.text_columns,
        label_column=exp.label_column,
    )
