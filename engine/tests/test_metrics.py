"""Official metrics on hand-computable cases, on the 0-100 scale of the GLUE leaderboard."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from ladderlab import metrics
from ladderlab.data import TASKS, task_spec


def compute(task, predictions, references, **spec_kwargs):
    return metrics.compute(task_spec(task, **spec_kwargs), predictions, references)


@pytest.mark.parametrize("task", ["sst2", "qnli", "rte", "imdb"])
def test_accuracy_tasks(task):
    assert compute(task, [1, 0, 1, 1], [1, 0, 0, 1]) == {"accuracy": 75.0, "score": 75.0}


def test_mnli_three_classes():
    result = compute("mnli", [0, 1, 2, 2, 1, 0], [0, 1, 2, 0, 0, 0])
    assert result == {"accuracy": pytest.approx(400 / 6), "score": pytest.approx(400 / 6)}


@pytest.mark.parametrize("task", ["mrpc", "qqp"])
def test_f1_is_of_the_positive_class_and_score_is_the_mean(task):
    # tp=2, fp=1, fn=0 -> F1(class 1) = 4/5; macro F1 would be 0.733; accuracy 3/4
    result = compute(task, [1, 1, 1, 0], [1, 1, 0, 0])
    assert list(result) == ["f1", "accuracy", "score"]
    assert result["f1"] == pytest.approx(80.0)
    assert result["accuracy"] == pytest.approx(75.0)
    assert result["score"] == pytest.approx(77.5)
    assert compute(task, [0, 0, 0, 0], [1, 1, 0, 0])["f1"] == 0.0  # no positive predicted: 0, not NaN


def test_matthews_corr():
    # tp=2 tn=1 fp=1 fn=0 -> (2*1 - 1*0) / sqrt(3*2*2*1) = 0.57735
    assert compute("cola", [1, 1, 1, 0], [1, 1, 0, 0]) == {
        "matthews_corr": pytest.approx(100 / math.sqrt(3)),
        "score": pytest.approx(100 / math.sqrt(3)),
    }
    assert compute("cola", [1, 0, 1, 0], [0, 1, 0, 1])["matthews_corr"] == pytest.approx(-100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compute("cola", [1, 1, 1, 1], [1, 0, 1, 0])["matthews_corr"] == 0.0


def test_pearson_spearman():
    refs = np.array([0.0, 1.2, 2.5, 3.1, 4.8])
    linear = compute("stsb", 2 * refs + 1, refs)
    assert linear == {"pearson": pytest.approx(100.0), "spearman": pytest.approx(100.0), "score": pytest.approx(100.0)}
    cubic = compute("stsb", refs**3, refs)  # monotone but not linear
    assert cubic["spearman"] == pytest.approx(100.0) and cubic["pearson"] < 99.0
    assert cubic["score"] == pytest.approx((cubic["pearson"] + cubic["spearman"]) / 2)
    reversed_ = compute("file", -refs, refs, regression=True)
    assert reversed_["pearson"] == pytest.approx(-100.0) and reversed_["spearman"] == pytest.approx(-100.0)


def test_constant_or_diverged_regression_scores_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compute("stsb", [2.5] * 4, [0.0, 1.0, 2.0, 3.0]) == {"pearson": 0.0, "spearman": 0.0, "score": 0.0}
        assert compute("stsb", [np.nan, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0])["score"] == 0.0


def test_names_types_and_inputs():
    for task in TASKS[:-2]:  # not file (labels from its file) nor instruct (instruct_eval.py scores it)
        spec = task_spec(task)
        preds = [0.5, 1.5, 3.0, 2.0] if spec.is_regression else [0, 1, 1, 0]
        refs = [1.0, 2.0, 2.5, 0.5] if spec.is_regression else [0, 1, 0, 1]
        result = metrics.compute(spec, np.array(preds), tuple(refs))
        assert list(result) == [*spec.metrics, "score"]
        assert all(type(v) is float and math.isfinite(v) for v in result.values())
    assert compute("file", [0, 2, 1], [0, 2, 2], labels=["a", "b", "c"]) == {
        "accuracy": pytest.approx(200 / 3),
        "score": pytest.approx(200 / 3),
    }
    with pytest.raises(ValueError, match="2 predictions for 3 references"):
        compute("sst2", [0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="no examples"):
        compute("sst2", [], [])
