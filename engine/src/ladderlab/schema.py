"""What ``ladderlab schema`` writes, both made from the Experiment declaration (config.py):

- the JSON schema of ``*.ladder.json`` files (``schemas/ladder.schema.json``: completion and validation in editors);
- the TypeScript field module the extension and its webviews import (``protocol/experimentFields.ts``).

Both are committed; ``scripts/generate`` rewrites them and a test fails when either is stale.
"""

from __future__ import annotations

import json
from typing import Any

from .config import DEFAULT_LR, FIELDS, KIND, METHODS, STARTER, Experiment
from .data import TASKS
from .data.sample import SAMPLE, sample_tasks
from .fields import GROUPS, default_of, info_of, nullable
from .sweep.spec import DEFAULT_MAX_TRIALS, EARLY_STOPPING, OWN_KEYS

_JSON_TYPES = {
    "string": "string",
    "int": "integer",
    "number": "number",
    "stringList": "array",
    "intList": "array",
    "rates": "object",
}


def _bounds(info) -> dict:
    keys = (
        ("minimum", info.minimum),
        ("maximum", info.maximum),
        ("exclusiveMinimum", info.exclusive_minimum),
        ("exclusiveMaximum", info.exclusive_maximum),
    )
    return {k: v for k, v in keys if v is not None}


def _property(name: str) -> dict:
    field = FIELDS[name]
    info, kind = info_of(field), KIND[name]
    description = info.help[0].upper() + info.help[1:] + "."
    if info.null_means:
        description += f" Left out or null: {info.null_means}."
    if info.methods:
        description += f" Applies to: {', '.join(info.methods)}."
    prop: dict[str, Any] = {"title": info.label, "description": description}
    if kind == "enum":
        prop["enum"] = list(info.choices or ())
    else:
        prop["type"] = [_JSON_TYPES[kind], "null"] if nullable(Experiment, field) else _JSON_TYPES[kind]
    prop["default"] = default_of(field)
    if kind in ("int", "number"):
        prop.update(_bounds(info))
    if kind in ("stringList", "intList"):
        items: dict[str, Any] = (
            {"enum": list(info.choices)}
            if info.choices
            else {"type": "integer" if kind == "intList" else "string", **_bounds(info)}
        )
        prop["items"] = items
        prop.update({k: v for k, v in (("minItems", info.min_items), ("maxItems", info.max_items)) if v is not None})
        if info.unique:
            prop["uniqueItems"] = True
    if kind == "rates":
        prop["propertyNames"] = {"enum": list(METHODS)}
        prop["additionalProperties"] = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10}
    if info.pattern:
        prop["pattern"] = f"^({info.pattern})$"
    if info.suggestions:
        prop["examples"] = list(info.suggestions)
    return prop


def json_schema() -> dict:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://ladderlab.invalid/schemas/ladder.schema.json",
        "title": "Ladder Lab experiment (*.ladder.json)",
        "description": "Generated from the engine's Experiment (engine/src/ladderlab/config.py) by `ladderlab schema`."
        " Each field is also a `ladderlab` CLI flag (keep_layers -> --keep-layers). Omitted fields take"
        " the engine's default.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "$schema": {"type": "string"},
            **{name: _property(name) for name in FIELDS},
            "sweep": _sweep_property(),
        },
    }


def _grid_property(names: list[str], description: str, items_of) -> dict:
    """A grid: each field -> a non-empty list of its values. By reference (``items_of(name)``), so the schema says
    each field's rules once: the top-level property for the grid's items, the grid's entry for a per-method grid."""
    return {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": {name: items_of(name) for name in names},
    }


def _sweep_property() -> dict:
    """The sweep block (engine/src/ladderlab/sweep/spec.py: its checks; this is what editors complete)."""
    gridded = [name for name in FIELDS if name not in OWN_KEYS]
    seed = _property("seed")
    return {
        "type": "object",
        "title": "Sweep",
        "description": "Run `ladderlab sweep --config FILE`: a grid of runs over the fields below and seeds, each an "
        "ordinary run, aggregated per grid point (mean and std over seeds). run and compare refuse a file with it.",
        "additionalProperties": False,
        "properties": {
            "grid": _grid_property(
                gridded,
                "Field -> the values to try, for every method (seeds: see seeds).",
                lambda name: {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"$ref": f"#/properties/{name}"},
                },
            ),
            "per_method": {
                "type": "object",
                "description": "Method -> a grid for that method only (e.g. r for lst, lora_rank for lora).",
                "additionalProperties": False,
                "properties": {
                    method: _grid_property(
                        [n for n in gridded if method in (info_of(FIELDS[n]).methods or METHODS)],
                        f"The fields that apply to {method}, and their values.",
                        lambda name: {"$ref": f"#/properties/sweep/properties/grid/properties/{name}"},
                    )
                    for method in METHODS
                },
            },
            "seeds": {
                "type": "array",
                "description": "Training seeds; each grid point runs once per seed (the data split stays: data_seed). "
                "Left out: the file's seed.",
                "minItems": 1,
                "uniqueItems": True,
                "items": {k: seed[k] for k in ("type", "minimum", "maximum")},
            },
            "max_trials": {
                "type": "integer",
                "description": "Most trials the grid may expand to; a larger grid is refused before anything runs.",
                "minimum": 1,
                "default": DEFAULT_MAX_TRIALS,
            },
            "early_stopping": {
                "type": "object",
                "description": "Stop hopeless trials early with Ray Tune's ASHA on a validation metric (Ray backend "
                "only; for learning-rate sweeps). Left out: every trial runs to its end.",
                "additionalProperties": False,
                "properties": {
                    "metric": {
                        "type": "string",
                        "description": "A validation metric (score, accuracy...).",
                        "default": EARLY_STOPPING["metric"],
                    },
                    "mode": {"enum": ["max", "min"], "default": EARLY_STOPPING["mode"]},
                    "grace_period": {
                        "type": "integer",
                        "minimum": 1,
                        "default": EARLY_STOPPING["grace_period"],
                        "description": "Epochs every trial trains before it can be stopped.",
                    },
                    "reduction_factor": {
                        "type": "number",
                        "exclusiveMinimum": 1,
                        "default": EARLY_STOPPING["reduction_factor"],
                        "description": "At each rung the best 1/reduction_factor go on.",
                    },
                },
            },
        },
    }


def _spec(name: str) -> dict:
    """One field as the TypeScript module lists it (camelCase keys; absent = not set)."""
    field = FIELDS[name]
    info = info_of(field)
    spec = {
        "name": name,
        "kind": KIND[name],
        "default": default_of(field),
        "nullable": nullable(Experiment, field),
        "label": info.label,
        "help": info.help,
        "group": info.group,
    }
    optional = {
        "choices": info.choices,
        "choiceLabels": info.choice_labels,
        "suggestions": info.suggestions,
        "minimum": info.minimum,
        "maximum": info.maximum,
        "exclusiveMinimum": info.exclusive_minimum,
        "exclusiveMaximum": info.exclusive_maximum,
        "unit": info.unit,
        "methods": info.methods,
        "nullMeans": info.null_means,
        "path": info.path or None,
        "pattern": info.pattern,
        "minItems": info.min_items,
        "maxItems": info.max_items,
        "unique": info.unique or None,
        "increasing": info.increasing or None,
        "short": info.short,
    }
    spec.update({k: list(v) if isinstance(v, tuple) else v for k, v in optional.items() if v is not None})
    return spec


def _ts_type(name: str) -> str:
    field = FIELDS[name]
    info, kind = info_of(field), KIND[name]
    base = {
        "string": "string",
        "int": "number",
        "number": "number",
        "intList": "number[]",
        "enum": " | ".join(json.dumps(c) for c in info.choices or ()),
        "stringList": "Method[]" if info.choices == METHODS else "string[]",
        "rates": "Partial<Record<Method, number>>",
    }[kind]
    return f"{base} | null" if nullable(Experiment, field) else base


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def typescript_module() -> str:
    fields = ",\n".join(f"  {_js(_spec(name))}" for name in FIELDS)
    values = "\n".join(f"  {name}: {_ts_type(name)};" for name in FIELDS)
    groups = ",\n".join(f"  {{ id: {_js(k)}, label: {_js(v)} }}" for k, v in GROUPS.items())
    return f"""// GENERATED by `ladderlab schema --typescript` from the engine's Experiment
// (engine/src/ladderlab/config.py).
// Do not edit: change config.py and run scripts/generate (a test fails when this file is stale).
// Hand-written helpers over these facts (parse, validate, patch, form texts) are in protocol/experiment.ts.

export type FieldKind = 'string' | 'enum' | 'int' | 'number' | 'stringList' | 'intList' | 'rates';

export interface FieldSpec {{
  readonly name: keyof ExperimentValues;
  readonly kind: FieldKind;
  readonly default: unknown;
  readonly nullable: boolean;
  readonly label: string;
  readonly help: string;
  readonly group: string;
  readonly choices?: readonly string[];
  readonly choiceLabels?: Readonly<Record<string, string>>;
  readonly suggestions?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly unit?: string;
  readonly methods?: readonly string[];
  readonly nullMeans?: string;
  readonly path?: boolean;
  readonly pattern?: string;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly unique?: boolean;
  readonly increasing?: boolean;
  /** How run labels name the field; with methods it is part of the method's identity (protocol/runLabel.ts). */
  readonly short?: string;
}}

export const METHODS = {_js(list(METHODS))} as const;
export type Method = (typeof METHODS)[number];
export const TASKS = {_js(list(TASKS))} as const;
export type Task = (typeof TASKS)[number];
/** The word `data` takes for the sample packaged with the engine, and the tasks that have one (its samples/ folder). */
export const SAMPLE = {_js(SAMPLE)};
export const SAMPLE_TASKS: readonly string[] = {_js(list(sample_tasks()))};
/** The paper's learning rates (LST paper, Table 5), used when neither lr nor lrs names a method. */
export const DEFAULT_LR: Readonly<Record<Method, number>> = {_js(DEFAULT_LR)};

/** The form's sections, in order. */
export const GROUPS = [
{groups},
] as const;

/** Every experiment field, in the engine's order. */
export const FIELDS: readonly FieldSpec[] = [
{fields},
];

/** An experiment with every field resolved (what config.json of a run holds, less `method`). */
export type ExperimentValues = {{
{values}
}};

/** The experiment New Experiment writes and the form starts from. */
export const STARTER_EXPERIMENT: Readonly<Partial<ExperimentValues>> = {_js(STARTER)};
"""
