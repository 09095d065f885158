"""What a run is called: the method's name, its identity settings, and the settings that set it apart from the other
runs shown ("LST r=16 · layers 1,3,4,5", "LoRA rank 8 · lr 1e-3").

The engine's side of protocol/runLabel.ts, which names runs in every view of the extension: the same rule, made from
the same field declarations (a field's ``short`` names it in labels; ``short`` with ``methods`` makes it part of those
methods' identity), so the text table of ``compare`` names its rows as the Results table does.
engine/tests/fixtures/run-labels.json holds the cases both must agree on, word for word.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from .config import FIELDS, KIND
from .fields import FieldInfo, default_of, info_of

# Groups that never tell two runs apart: which methods ran together and what happens on a failure (the comparison,
# not the run), where runs and checkpoints go (bookkeeping).
NOT_A_RUN_SETTING = {"methods", "output"}

# The fields a label may show: run settings, less per-method rates (config.json holds each run's resolved lr).
RUN_SETTINGS: list[tuple[str, FieldInfo]] = [
    (name, info_of(f))
    for name, f in FIELDS.items()
    if info_of(f).group not in NOT_A_RUN_SETTING and KIND[name] != "rates"
]
DEFAULTS = {name: default_of(f) for name, f in FIELDS.items()}
_METHOD_LABELS = info_of(FIELDS["methods"]).choice_labels or {}


def method_name(method: str) -> str:
    """ "LST (ladder side-tuning)" -> "LST": the method's label, less its explanation."""
    label = _METHOD_LABELS.get(method)
    return re.sub(r"\s*\(.*\)$", "", label) if label else method


def _number_text(v: float) -> str:
    # Learning rates as the papers write them (1e-3, 3e-4): JavaScript's toExponential(), shortest digits.
    if float(v).is_integer():
        return str(int(v))
    if abs(v) < 0.01:
        digits = Decimal(repr(float(v))).normalize().as_tuple()
        text = "".join(map(str, digits.digits))
        exponent = len(text) - 1 + int(digits.exponent)
        mantissa = text[0] + (f".{text[1:]}" if len(text) > 1 else "")
        return f"{'-' if digits.sign else ''}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    return repr(float(v))


def setting_text(info: FieldInfo, v: Any) -> str:
    """A setting's value as labels show it; keep_layers stays 0-based, as in the file."""
    if v is None:
        return info.null_means or "—"
    if isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return _number_text(v)
    if isinstance(v, list):
        return ",".join(
            _number_text(x)
            if isinstance(x, (int, float)) and not isinstance(x, bool)
            else x
            if isinstance(x, str)
            else json.dumps(x)
            for x in v
        )
    return v if isinstance(v, str) else json.dumps(v)


def _part(info: FieldInfo, v: Any) -> str:
    """ "r=16" for a one-letter name (as the paper writes r), "layers 1,3" otherwise; unnamed fields by their label."""
    text = setting_text(info, v)
    if info.short is None:
        return f"{info.label.lower()} {text}"
    return f"{info.short}={text}" if len(info.short) == 1 else f"{info.short} {text}"


def _applies(info: FieldInfo, method: str) -> bool:
    return info.methods is None or method in info.methods


def _method(config: dict) -> str:
    return config["method"] if isinstance(config.get("method"), str) else "unknown"


def differing_settings(configs: list[dict]) -> list[str]:
    """The settings whose values differ among these runs (compared only among the runs each applies to)."""
    out = []
    for name, info in RUN_SETTINGS:
        values = {json.dumps(c.get(name), sort_keys=True) for c in configs if _applies(info, _method(c))}
        if len(values) > 1:
            out.append(name)
    return out


def run_label(config: dict, among: list[dict] | None = None) -> str:
    """The method's identity settings always (an enum one, or a count whose default is 0, only off its default: the
    method as the paper defines it needs no "init fisher" nor "frozen 0"); any other setting when it differs among
    the runs of the same method in ``among``."""
    method = _method(config)
    peers = [c for c in (among or [config]) if _method(c) == method]
    differing = set(differing_settings(peers if config in peers else [*peers, config]))
    parts = []
    for name, info in RUN_SETTINGS:
        if not _applies(info, method):
            continue
        v = config.get(name)
        identity = info.short is not None and info.methods is not None and v is not None
        if identity and (KIND[name] == "enum" or DEFAULTS[name] == 0) and v == DEFAULTS[name]:
            identity = False
        if identity or name in differing:
            parts.append(_part(info, v))
    return " ".join(filter(None, [method_name(method), " · ".join(parts)]))
