"""The ``sweep`` block of an experiment file: read it, refuse what cannot run (before anything starts), expand it.

    {"task": "sst2", "methods": ["lst", "lora"], ...,
     "sweep": {"grid": {"lr": [1e-3, 3e-3]},
               "per_method": {"lst": {"r": [4, 8]}, "lora": {"lora_rank": [4, 8]}},
               "seeds": [0, 1], "max_trials": 64,
               "early_stopping": {"metric": "score", "mode": "max", "grace_period": 1, "reduction_factor": 4}}}

``grid`` crosses any experiment field's values for every method; ``per_method`` adds fields for one method only (so
Figure 5's LST r and LoRA rank are one file); ``seeds`` repeats each grid point (default: the file's seed). A grid
field a method does not use (``r`` for LoRA) is left out of that method's points, so no two trials train the same.
Each value is checked by its field's own rules (config.build_experiment), so the sweep accepts exactly what a run
does, and a refusal names the sweep's field and value. ``seed`` and ``methods`` have their own keys (seeds, the
file's methods with per_method), so the grid refuses them.

``early_stopping`` (off when absent; the Ray backend only) stops hopeless trials with Ray Tune's ASHAScheduler on a
validation metric, for learning-rate sweeps: its keys are ASHAScheduler's, its time unit is the epoch (a run
validates after each one), and ``max_t`` is the longest trial's epochs (ray_backend._EarlyStopper).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import FIELDS, build_experiment, load_experiment_file
from ..data import canonical_task, task_spec
from ..errors import BadInput
from ..fields import info_of
from ..filepaths import resolve_file_paths
from .trials import Trial

KEYS = ("grid", "per_method", "seeds", "max_trials", "early_stopping")
DEFAULT_MAX_TRIALS = 64
# Fields the grid refuses, and the sweep key that varies them instead.
OWN_KEYS = {"seed": "seeds", "methods": "per_method"}
EXAMPLE = '"sweep": {"grid": {"r": [4, 8]}, "seeds": [0, 1]}'
# ASHAScheduler's own names and defaults (metric: the run's main validation figure; mode max: higher is better)
EARLY_STOPPING = {"metric": "score", "mode": "max", "grace_period": 1, "reduction_factor": 4}
EARLY_EXAMPLE = '"early_stopping": {"metric": "score", "grace_period": 1, "reduction_factor": 2}'


@dataclass(frozen=True)
class SweepSpec:
    grid: dict[str, list]  # field -> values, for every method
    per_method: dict[str, dict[str, list]]  # method -> field -> values, for that method only
    seeds: list[int]
    max_trials: int
    early_stopping: dict | None = None  # EARLY_STOPPING's keys, every one given (defaults filled in); None: off

    def to_json(self) -> dict:
        block = {"grid": self.grid, "per_method": self.per_method, "seeds": self.seeds, "max_trials": self.max_trials}
        return block if self.early_stopping is None else {**block, "early_stopping": self.early_stopping}


def read_sweep_file(path: str | Path) -> tuple[dict, SweepSpec]:
    """An experiment file with a sweep block -> (its other values, paths resolved from its folder; the sweep)."""
    raw = load_experiment_file(path, allow_sweep=True)
    if "sweep" not in raw:
        raise BadInput(
            f"experiment file {path} has no sweep block",
            f"add one, e.g. {EXAMPLE}, or run it with `ladderlab compare --config {path}`",
        )
    block = raw.pop("sweep")
    folder = Path(path).parent
    values = resolve_file_paths(raw, folder)
    return values, parse_sweep(block, values, folder)


def parse_sweep(block: Any, values: dict, folder: Path | None = None) -> SweepSpec:
    """Check the sweep block against the experiment ``values`` it varies; BadInput naming the sweep field."""
    if not isinstance(block, dict):
        raise BadInput(f"sweep must be an object, got {json.dumps(block)}", f"e.g. {EXAMPLE}")
    unknown = sorted(set(block) - set(KEYS))
    if unknown:
        raise BadInput(f"sweep: unknown key(s) {', '.join(unknown)}", f"a sweep block holds {', '.join(KEYS)}")
    base = build_experiment(values, {})  # the file's own errors first, in run's words
    grid = _grid(block.get("grid", {}), "sweep.grid", folder)
    per_method_raw = block.get("per_method", {})
    if not isinstance(per_method_raw, dict):
        raise BadInput(
            "sweep.per_method must be an object of method -> grid",
            'e.g. "per_method": {"lst": {"r": [4, 8]}, "lora": {"lora_rank": [4, 8]}}',
        )
    per_method = {}
    for method, sub in per_method_raw.items():
        if method not in base.methods:
            raise BadInput(
                f"sweep.per_method names {method!r}, which is not in methods ({', '.join(base.methods)})",
                f'add {method!r} to "methods", or remove sweep.per_method.{method}',
            )
        per_method[method] = _grid(sub, f"sweep.per_method.{method}", folder)
        for name in per_method[method]:
            if name in grid:
                raise BadInput(
                    f"sweep.per_method.{method}.{name}: {name} is in sweep.grid too", "name each field in one place"
                )
            applies = info_of(FIELDS[name]).methods
            if applies is not None and method not in applies:
                raise BadInput(
                    f"sweep.per_method.{method}.{name}: {name} applies to {', '.join(applies)} only, not {method}",
                    f"move it under sweep.per_method.{applies[0]}" if applies[0] in base.methods else f"remove {name}",
                )
    for name in grid:
        applies = info_of(FIELDS[name]).methods
        if applies is not None and not set(applies) & set(base.methods):
            raise BadInput(
                f"sweep.grid.{name}: {name} applies to {', '.join(applies)} only, and methods are "
                f"{', '.join(base.methods)}",
                f"add {applies[0]} to methods, or remove {name} from the grid",
            )
    seeds = _seeds(block.get("seeds", [base.seed]))
    max_trials = block.get("max_trials", DEFAULT_MAX_TRIALS)
    if not isinstance(max_trials, int) or isinstance(max_trials, bool) or max_trials < 1:
        raise BadInput(f"sweep.max_trials must be a whole number of at least 1, got {json.dumps(max_trials)}")
    if not grid and not any(per_method.values()) and len(seeds) == 1:
        raise BadInput(
            "sweep: nothing to sweep (no grid and one seed)",
            f"give a field several values or several seeds, e.g. {EXAMPLE}; or run the file with `ladderlab compare`",
        )
    spec = SweepSpec(grid, per_method, seeds, max_trials)
    _check_values(spec, values, base.methods)
    trials = expand(values, spec)
    if len(trials) > max_trials:
        raise BadInput(
            f"sweep expands to {len(trials)} trials, more than max_trials ({max_trials})",
            f'raise "max_trials" in the sweep block to {len(trials)} or more, or shorten a list of values',
        )
    if "early_stopping" in block:
        spec = replace(spec, early_stopping=_early_stopping(block["early_stopping"], trials))
    return spec


def _early_stopping(block: Any, trials: list[Trial]) -> dict:
    """The early_stopping block with ASHAScheduler's defaults filled in; BadInput naming the key it refuses."""
    where = "sweep.early_stopping"
    if not isinstance(block, dict):
        raise BadInput(f"{where} must be an object, got {json.dumps(block)}", f"e.g. {EARLY_EXAMPLE}")
    unknown = sorted(set(block) - set(EARLY_STOPPING))
    if unknown:
        raise BadInput(
            f"{where}: unknown key(s) {', '.join(unknown)}", f"it holds {', '.join(EARLY_STOPPING)} (ASHA's names)"
        )
    out = {**EARLY_STOPPING, **block}
    experiments = [build_experiment(t.values, {}) for t in trials]
    reported = set.intersection(*(set(_validation_metrics(e.task)) for e in experiments))
    if out["metric"] not in reported:
        raise BadInput(
            f"{where}.metric: every trial's validation reports {', '.join(sorted(reported))}, "
            f"not {json.dumps(out['metric'])}",
            'use one of them ("score" is the task\'s main figure, higher is better)',
        )
    if out["mode"] not in ("max", "min"):
        raise BadInput(f'{where}.mode must be "max" or "min", got {json.dumps(out["mode"])}', 'use "max" for score')
    grace = out["grace_period"]
    epochs = min(e.epochs for e in experiments)
    if not isinstance(grace, int) or isinstance(grace, bool) or grace < 1:
        raise BadInput(f"{where}.grace_period must be a whole number of epochs, at least 1, got {json.dumps(grace)}")
    if grace >= epochs:
        raise BadInput(
            f"{where}.grace_period: {grace} epochs leaves no epoch to save (a trial trains {epochs})",
            f"set grace_period below epochs ({epochs}), or train more epochs",
        )
    factor = out["reduction_factor"]
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not factor > 1:
        raise BadInput(
            f"{where}.reduction_factor must be a number above 1, got {json.dumps(factor)}",
            "ASHA keeps the best 1/reduction_factor of the trials at each rung: 2 halves, 4 (its default) quarters",
        )
    return out


def _validation_metrics(task: str) -> tuple[str, ...]:
    """What a run of ``task`` reports at each validation (metrics.compute): the task's metrics and ``score``."""
    name = canonical_task(task)
    if name == "file":  # classes or regression, as the file's label column turns out
        return ("score", "accuracy", "pearson", "spearman")
    return ("score", *task_spec(name).metrics)


def _grid(grid: Any, where: str, folder: Path | None) -> dict[str, list]:
    if not isinstance(grid, dict):
        raise BadInput(f"{where} must be an object of field -> list of values", f"e.g. {EXAMPLE}")
    for name, options in grid.items():
        if name in OWN_KEYS:
            raise BadInput(f"{where}.{name}: {name} cannot be in a grid", f"use sweep.{OWN_KEYS[name]} to vary {name}")
        if name not in FIELDS:
            raise BadInput(f"{where}.{name}: unknown field {name!r}", f"known fields: {', '.join(FIELDS)}")
        if not isinstance(options, list):
            raise BadInput(f"{where}.{name} must be a list of values, got {json.dumps(options)}", f"e.g. {EXAMPLE}")
        if not options:
            raise BadInput(f"{where}.{name} is an empty list", f"give {name} one or more values, or remove it")
        texts = [json.dumps(v, sort_keys=True) for v in options]
        if len(set(texts)) != len(texts):
            raise BadInput(f"{where}.{name} lists a value twice: {json.dumps(options)}", "list each value once")
    # Paths in a grid are read from the file's folder, as the file's own paths are (filepaths.py).
    if folder is None:
        return dict(grid)
    return {name: [resolve_file_paths({name: v}, folder)[name] for v in options] for name, options in grid.items()}


def _seeds(seeds: Any) -> list[int]:
    if not isinstance(seeds, list) or not seeds or any(not isinstance(s, int) or isinstance(s, bool) for s in seeds):
        raise BadInput(
            f"sweep.seeds must be a non-empty list of whole numbers, got {json.dumps(seeds)}", "e.g. [0, 1, 2]"
        )
    if len(set(seeds)) != len(seeds):
        raise BadInput(f"sweep.seeds lists a seed twice: {seeds}", "list each seed once")
    return seeds


def _check_values(spec: SweepSpec, values: dict, methods: list[str]) -> None:
    """Each value alone, by its field's rules (so the refusal names it), then each trial as a whole (rules between
    fields, e.g. a learning rate with lrs)."""
    where = [(f"sweep.grid.{name}", name, options, methods) for name, options in spec.grid.items()]
    where += [
        (f"sweep.per_method.{method}.{name}", name, options, [method])
        for method, sub in spec.per_method.items()
        for name, options in sub.items()
    ]
    where.append(("sweep.seeds", "seed", spec.seeds, methods))
    for path, name, options, for_methods in where:
        for value in options:
            _build(path, {**values, "methods": for_methods, name: value}, f"value {json.dumps(value)}")
    for trial in expand(values, spec):
        _build(f"sweep (trial {trial.trial_id}, {trial.method})", trial.values, f"point {json.dumps(trial.point)}")


def _build(where: str, values: dict, what: str) -> None:
    try:
        build_experiment(values, {})
    except BadInput as e:
        raise BadInput(f"{where}: {what} is refused: {e.message}", e.hint) from None


def expand(values: dict, sweep: SweepSpec | dict, sweep_id: str = "") -> list[Trial]:
    """The trials, t0000…: per method (the file's order), per grid point (the grid's fields, then per_method's, the
    last one varying fastest), per seed. A grid field a method does not use is left out of its points. ``sweep``:
    a parsed SweepSpec, or the block as the file has it (checked first)."""
    spec = sweep if isinstance(sweep, SweepSpec) else parse_sweep(sweep, values)
    methods = build_experiment(values, {}).methods
    trials = []
    for method in methods:
        axes = {
            name: options
            for name, options in {**spec.grid, **spec.per_method.get(method, {})}.items()
            if info_of(FIELDS[name]).methods is None or method in (info_of(FIELDS[name]).methods or ())
        }
        for combo in itertools.product(*axes.values()):
            point = dict(zip(axes, combo, strict=True))
            for seed in spec.seeds:
                trial_values = {**values, **point, "seed": seed, "methods": [method]}
                trials.append(Trial(f"t{len(trials):04d}", method, point, seed, trial_values, sweep_id=sweep_id))
    return trials
