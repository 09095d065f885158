"""The paper's split rule (LST, Sung et al. 2022, §4) and seeded subsetting.

GLUE's test labels are private, so the paper reports on the official dev set and picks
checkpoints on data carved out of what remains:

* large tasks: validation = ``validation_size`` (1,000) examples held out from train, test = dev;
* tasks with fewer than 10k training examples (RTE, MRPC, STS-B, CoLA): train is used whole
  and the dev set is halved into validation and test;
* MNLI: validation = dev_mismatched, test = dev_matched (handled by the GLUE reader).

Every random choice draws from its own ``random.Random`` seeded with a string built from the
run seed and the purpose, so results do not depend on call order, on PYTHONHASHSEED or on
numpy's global state. Sampling is stratified by class so a small subset keeps the class mix.
"""

from __future__ import annotations

import random
from collections import defaultdict

from ..errors import BadInput
from .types import Example, TaskData, TaskSpec

# Decided by task name, not by the size of the file given: the paper names these four, and a
# truncated copy of a large task should not silently switch rules.
SMALL_TASKS = frozenset({"rte", "mrpc", "stsb", "cola"})


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"ladderlab/{seed}/{purpose}")


def sample(examples: list[Example], n: int, seed: int, purpose: str) -> tuple[list[Example], list[Example]]:
    """Pick ``n`` examples (stratified by class label); return (chosen, rest), each in original order."""
    if n >= len(examples):
        return list(examples), []
    rng = _rng(seed, purpose)
    groups: dict[object, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        # Regression scores are not strata: they all go in one group (a plain seeded shuffle).
        groups[ex.label if isinstance(ex.label, int) else None].append(i)
    keys = sorted(groups, key=lambda k: (k is None, k))
    for k in keys:
        rng.shuffle(groups[k])
    # Largest-remainder quotas: each class gets its share of n, ties broken by class order.
    exact = {k: n * len(groups[k]) / len(examples) for k in keys}
    quota = {k: int(exact[k]) for k in keys}
    by_remainder = sorted(keys, key=lambda k: exact[k] - quota[k], reverse=True)
    for k in by_remainder[: n - sum(quota.values())]:
        quota[k] += 1
    chosen = {i for k in keys for i in groups[k][: quota[k]]}
    return (
        [ex for i, ex in enumerate(examples) if i in chosen],
        [ex for i, ex in enumerate(examples) if i not in chosen],
    )


def check_sizes(validation_size: int, max_train: int | None, max_eval: int | None) -> None:
    for name, value in (
        ("validation_size", validation_size),
        ("max_train_examples", max_train),
        ("max_eval_examples", max_eval),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise BadInput(f"{name} must be a positive whole number, got {value!r}")


Splits = tuple[list[Example], list[Example], list[Example], str]  # train, validation, test, note


def hold_out(
    display: str,
    train: list[Example],
    dev: list[Example],
    *,
    seed: int,
    validation_size: int,
    test_name: str = "official dev",
) -> Splits:
    """Large-task rule: validation held out from train, test = the official dev/test set."""
    if validation_size >= len(train):
        raise BadInput(
            f"{display}: cannot hold out {validation_size:,} validation examples from a training set of {len(train):,}",
            hint="pass a smaller validation size (the paper uses 1,000 with the full training set); "
            "to train on fewer examples use max_train_examples, which is applied after the hold-out",
        )
    validation, rest = sample(train, validation_size, seed, "validation")
    note = (
        f"{display}: {len(train):,} train examples; held out {len(validation):,} as validation "
        f"(seed {seed}), leaving {len(rest):,} to train on; test = {test_name} ({len(dev):,})"
    )
    return rest, validation, list(dev), note


def halve_dev(display: str, train: list[Example], dev: list[Example], *, seed: int) -> Splits:
    """Small-task rule: all of train is trained on; dev is split in half into validation and test."""
    if len(dev) < 2:
        raise BadInput(
            f"{display}: the dev set has {len(dev)} example(s); at least 2 are needed to halve it "
            "into validation and test"
        )
    validation, test = sample(dev, len(dev) // 2, seed, "halve-dev")
    note = (
        f"{display}: {len(train):,} train (fewer than 10k, all used); dev ({len(dev):,}) halved into "
        f"{len(validation):,} validation / {len(test):,} test (seed {seed})"
    )
    return list(train), validation, test, note


def paper_split(
    task: str, display: str, train: list[Example], dev: list[Example], *, seed: int, validation_size: int
) -> Splits:
    if task in SMALL_TASKS:
        return halve_dev(display, train, dev, seed=seed)
    return hold_out(display, train, dev, seed=seed, validation_size=validation_size)


def finish(
    spec: TaskSpec,
    train: list[Example],
    validation: list[Example],
    test: list[Example],
    notes: list[str],
    *,
    seed: int,
    max_train: int | None,
    max_eval: int | None,
) -> TaskData:
    """Apply the optional caps (after the split, so test never depends on them) and build TaskData."""
    strat = "" if spec.is_regression else ", stratified by label"
    if max_train is not None and max_train < len(train):
        notes.append(f"train subset: {max_train:,} of {len(train):,} examples (seed {seed}{strat})")
        train, _ = sample(train, max_train, seed, "max-train")
    if max_eval is not None:
        for name, split in (("validation", validation), ("test", test)):
            if max_eval < len(split):
                notes.append(f"{name} capped to {max_eval:,} of {len(split):,} examples (seed {seed}{strat})")
        validation, _ = sample(validation, max_eval, seed, "max-eval-validation")
        test, _ = sample(test, max_eval, seed, "max-eval-test")
    return TaskData(spec=spec, train=train, validation=validation, test=test, notes=notes)
