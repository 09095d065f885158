"""The data split follows data_seed, not seed: runs over training seeds see one split (the paper's three seeds per
cell), and a new data_seed draws another split. Goes through the comparison's own data preparation."""

from __future__ import annotations

from helpers import SST2, experiment
from ladderlab.comparison import prepare


def _split(**overrides) -> tuple[list[str], list[str]]:
    exp = experiment(
        backbone="preset:bert-tiny",
        task="sst2",
        data=str(SST2),
        max_train_examples=24,
        max_eval_examples=8,
        **overrides,
    )
    _, data = prepare(exp)
    return [e.text_a for e in data.task.train], [e.text_a for e in data.task.validation]


def test_the_training_seed_leaves_the_split_alone():
    assert _split(seed=1) == _split(seed=2)


def test_the_data_seed_draws_another_split():
    assert _split(data_seed=1) != _split(data_seed=2)
    assert _split(data_seed=7, seed=1) == _split(data_seed=7, seed=3)
