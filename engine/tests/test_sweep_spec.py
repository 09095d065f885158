"""The sweep block: its expansion into trials, and every grid refused before anything starts, with one message that
names the sweep field (and the value a field refuses). No training here: parsing and checks only."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from helpers import SST2
from ladderlab.config import load_experiment_file
from ladderlab.errors import BadInput
from ladderlab.schema import json_schema
from ladderlab.sweep.spec import DEFAULT_MAX_TRIALS, expand, parse_sweep, read_sweep_file

BASE = {"task": "sst2", "data": str(SST2), "methods": ["lst", "lora"], "seed": 7}


def trials(sweep: dict, **values):
    return expand({**BASE, **values}, sweep)


def test_expansion_order_per_method_then_point_then_seed():
    got = trials({"grid": {"lr": [1e-3, 3e-3]}, "per_method": {"lst": {"r": [4, 8]}}, "seeds": [0, 1]})
    assert [t.trial_id for t in got] == [f"t{i:04d}" for i in range(12)]
    assert [(t.method, t.point, t.seed) for t in got[:4]] == [
        ("lst", {"lr": 1e-3, "r": 4}, 0),
        ("lst", {"lr": 1e-3, "r": 4}, 1),
        ("lst", {"lr": 1e-3, "r": 8}, 0),
        ("lst", {"lr": 1e-3, "r": 8}, 1),
    ]
    assert [(t.method, t.point, t.seed) for t in got[8:10]] == [("lora", {"lr": 1e-3}, 0), ("lora", {"lr": 1e-3}, 1)]
    lst = got[3]
    assert lst.values == {**BASE, "lr": 1e-3, "r": 8, "seed": 1, "methods": ["lst"]}


def test_a_grid_field_a_method_does_not_use_stays_out_of_its_points():
    """r is LST's: LoRA trains once per seed, not once per r (two identical runs would only look like data)."""
    got = trials({"grid": {"r": [4, 8]}})
    assert [(t.method, t.point, t.seed) for t in got] == [("lst", {"r": 4}, 7), ("lst", {"r": 8}, 7), ("lora", {}, 7)]


def test_seeds_default_to_the_files_seed_and_a_seeds_only_sweep_is_fine():
    assert {t.seed for t in trials({"grid": {"lr": [1e-3, 1e-2]}})} == {7}
    assert [t.seed for t in trials({"seeds": [0, 1, 2]}, methods=["lst"])] == [0, 1, 2]


def test_a_file_with_a_sweep_block_is_read_by_sweep_and_refused_by_run(tmp_path: Path):
    data = tmp_path / "data"  # a relative path in the grid is read from the file's folder, as the file's own are
    path = tmp_path / "f.ladder.json"
    path.write_text(json.dumps({**BASE, "data": "data", "sweep": {"grid": {"data": ["data", str(SST2)]}}}))
    values, spec = read_sweep_file(path)
    assert values["data"] == str(data) and spec.grid["data"] == [str(data), str(SST2)]
    assert spec.max_trials == DEFAULT_MAX_TRIALS
    with pytest.raises(BadInput, match="has a sweep block") as info:
        load_experiment_file(path)
    assert f"ladderlab sweep --config {path}" in (info.value.hint or "")


LR = {"grid": {"lr": [1e-3, 3e-3]}}  # what early stopping is for: a learning-rate sweep
# (sweep block, words the message must hold, words the hint must hold)
REFUSED = [
    ({"grid": {"rank": [4]}}, "sweep.grid.rank: unknown field", "known fields"),
    ({"grid": {"r": [4, 1]}}, "sweep.grid.r: value 1 is refused: r (reduction factor) must be between 2 and 64", ""),
    ({"grid": {"init": ["fisher", "xavier"]}}, 'sweep.grid.init: value "xavier" is refused', "choose from"),
    ({"grid": {"r": []}}, "sweep.grid.r is an empty list", "one or more values"),
    ({"grid": {"r": 8}}, "sweep.grid.r must be a list of values", ""),
    ({"grid": {"r": [4, 4]}}, "sweep.grid.r lists a value twice", ""),
    ({"grid": {}}, "nothing to sweep", "several seeds"),
    ({}, "nothing to sweep", ""),
    ({"per_method": {"adapter": {"adapter_size": [6]}}}, "sweep.per_method names 'adapter'", "add 'adapter'"),
    ({"per_method": {"lora": {"r": [4, 8]}}}, "sweep.per_method.lora.r: r applies to lst only", "per_method.lst"),
    ({"per_method": {"lora": {"lora_rank": [4, 0]}}}, "sweep.per_method.lora.lora_rank: value 0 is refused", ""),
    ({"grid": {"r": [4]}, "per_method": {"lst": {"r": [8]}}}, "sweep.per_method.lst.r: r is in sweep.grid too", ""),
    ({"grid": {"lr": [1e-3, 2e-3, 3e-3]}, "seeds": [0, 1], "max_trials": 10}, "expands to 12 trials", '"max_trials"'),
    ({"seeds": [0, "1"]}, "sweep.seeds must be a non-empty list of whole numbers", ""),
    ({"seeds": 3}, "sweep.seeds must be a non-empty list", ""),
    ({"seeds": [0, -1]}, "sweep.seeds: value -1 is refused: seed must be between 0 and", ""),
    ({"seeds": [1, 1]}, "sweep.seeds lists a seed twice", ""),
    ({"grid": {"seed": [0, 1]}}, "sweep.grid.seed: seed cannot be in a grid", "sweep.seeds"),
    ({"grid": {"methods": [["lst"], ["lora"]]}}, "sweep.grid.methods: methods cannot be in a grid", "per_method"),
    ({"grids": {"r": [4]}}, "sweep: unknown key(s) grids", "grid, per_method, seeds, max_trials"),
    ({"seeds": [0, 1], "max_trials": 0}, "sweep.max_trials must be a whole number of at least 1", ""),
    ("r=4,8", "sweep must be an object", ""),
    (
        {**LR, "early_stopping": {"metric": "loss"}},
        'early_stopping.metric: every trial\'s validation reports accuracy, score, not "loss"',
        "use one of them",
    ),
    ({**LR, "early_stopping": {"mode": "up"}}, 'sweep.early_stopping.mode must be "max" or "min"', ""),
    ({**LR, "early_stopping": {"grace_period": 0}}, "sweep.early_stopping.grace_period must be a whole number", ""),
    (
        {**LR, "early_stopping": {"grace_period": 99}},
        "sweep.early_stopping.grace_period: 99 epochs leaves no epoch",
        "below epochs",
    ),
    (
        {**LR, "early_stopping": {"reduction_factor": 1}},
        "sweep.early_stopping.reduction_factor must be a number above 1",
        "",
    ),
    ({**LR, "early_stopping": {"brackets": 2}}, "sweep.early_stopping: unknown key(s) brackets", "ASHA's names"),
    ({**LR, "early_stopping": True}, "sweep.early_stopping must be an object", ""),
]


@pytest.mark.parametrize(("block", "message", "hint"), REFUSED, ids=[r[1][:40] for r in REFUSED])
def test_each_refused_grid_names_its_field(block, message, hint):
    with pytest.raises(BadInput) as info:
        parse_sweep(block, BASE)
    assert message in info.value.message
    assert hint in (info.value.hint or "")


def test_a_grid_over_a_field_no_method_uses_is_refused():
    with pytest.raises(BadInput, match="sweep.grid.lora_rank: lora_rank applies to lora only, and methods are lst"):
        parse_sweep({"grid": {"lora_rank": [4, 8]}}, {**BASE, "methods": ["lst"]})


def test_the_schema_describes_the_sweep_block():
    validator = jsonschema.Draft7Validator(json_schema())
    early = {"metric": "score", "mode": "max", "grace_period": 1, "reduction_factor": 2}
    good = {
        **BASE,
        "sweep": {
            "grid": {"lr": [1e-3]},
            "per_method": {"lst": {"r": [4, 8]}},
            "seeds": [0, 1],
            "early_stopping": early,
        },
    }
    assert not list(validator.iter_errors(good))
    refused = ({"grid": {"r": [1]}}, {"grid": {"seed": [1]}}, {"per_method": {"lora": {"r": [4]}}}, {"seeds": []})
    refused += ({"early_stopping": {"brackets": 2}}, {"early_stopping": {"reduction_factor": 1}})
    for sweep in refused:
        assert list(validator.iter_errors({**BASE, "sweep": sweep})), f"schema accepted {sweep}"
