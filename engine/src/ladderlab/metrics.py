"""The official metric of each task, as the GLUE leaderboard and the LST paper report them.

All values are on a 0-100 scale (accuracy 91.3, not 0.913), the scale of the GLUE leaderboard
and of the paper's tables, so our numbers can be compared with theirs as printed.

=====================================  ==============================
task                                   metrics
=====================================  ==============================
sst2, mnli, qnli, rte, imdb, file      accuracy
mrpc, qqp                              f1 (of class 1), accuracy
cola                                   matthews_corr
stsb, file (regression)                pearson, spearman
=====================================  ==============================

The table itself lives in ``ladderlab.data.task_spec`` (``TaskSpec.metrics``); ``compute`` only
follows the spec, so the two cannot disagree. ``score`` is always added: the single metric, or
for two-metric tasks their mean, which is how GLUE folds MRPC, QQP and STS-B into one number.
It is the ``main_metric`` used to pick epochs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, matthews_corrcoef

from .data.types import TaskSpec


def _correlation(fn, predictions: np.ndarray, references: np.ndarray) -> float:
    """pearson/spearman, with 0.0 where the correlation is undefined.

    A constant prediction (typical of a regression head early in training, or a collapsed one) has
    zero variance, and scipy returns NaN with a warning. Such a model carries no information about
    the ordering of the pairs, so 0 is the meaningful value; NaN would also poison the "best epoch"
    comparison (NaN > x is always False) and is not valid JSON in events. Non-finite predictions
    (a diverged model) are scored 0 for the same reasons.
    """
    if not np.all(np.isfinite(predictions)) or np.ptp(predictions) == 0 or np.ptp(references) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(fn(predictions, references)[0])
    return 0.0 if math.isnan(value) else value


def _positive_f1(predictions: np.ndarray, references: np.ndarray) -> float:
    """F1 of class 1, 2·TP / (2·TP + FP + FN), and 0 when nothing is positive in either: what GLUE reports, and
    what scikit-learn's f1_score(pos_label=1, average="binary", zero_division=0) gives."""
    tp = int(np.sum((predictions == 1) & (references == 1)))
    wrong = int(np.sum((predictions == 1) != (references == 1)))  # false positives + false negatives
    return 2 * tp / (2 * tp + wrong) if tp or wrong else 0.0


def _one(name: str, predictions: np.ndarray, references: np.ndarray) -> float:
    if name == "accuracy":
        return float(accuracy_score(references, predictions))
    if name == "f1":  # F1 of the positive class (1 = equivalent / duplicate), as GLUE reports it
        return _positive_f1(predictions, references)
    if name == "matthews_corr":
        with warnings.catch_warnings():  # a constant prediction gives 0.0, sklearn may warn about it
            warnings.simplefilter("ignore")
            return float(matthews_corrcoef(references, predictions))
    if name == "pearson":
        return _correlation(pearsonr, predictions, references)
    if name == "spearman":
        return _correlation(spearmanr, predictions, references)
    raise ValueError(f"unknown metric {name!r}")


def compute(spec: TaskSpec, predictions, references) -> dict[str, float]:
    """Score predictions against references with the task's official metrics, on a 0-100 scale.

    ``predictions``: class indices (ints) for classification, floats for regression; any
    sequence, numpy array or CPU tensor. A negative class index is a generated answer that named no
    class (T5's text-to-text format, ``data.text2text.UNKNOWN``): it is scored as a wrong class by every
    metric, as the LST reference's metrics do (its F1 turns such an answer into the opposite of the
    reference). Returns ``{metric: value, ..., "score": main value}`` with the names of
    ``spec.metrics``; ``score`` is the mean of them (one metric: that metric).
    """
    dtype = float if spec.is_regression else np.int64
    predictions = np.asarray(predictions, dtype=dtype).reshape(-1)
    references = np.asarray(references, dtype=dtype).reshape(-1)
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if len(references) == 0:
        raise ValueError("no examples to score")
    if not spec.is_regression:  # the next class after the reference: wrong, and a real class for F1 and Matthews
        predictions = np.where(predictions < 0, (references + 1) % spec.num_labels, predictions)
    result = {name: 100.0 * _one(name, predictions, references) for name in spec.metrics}
    result["score"] = float(np.mean(list(result.values())))
    return result
