"""What an experiment field is: its metadata, its kind (from the type hint) and the checks that follow from them.

``config.Experiment`` declares each field once with ``setting(...)``; the CLI flags, the JSON schema, the
TypeScript field module and the generic checks below all read that declaration, so a field's type, default,
range, choices, label and help text live in one place.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from .errors import BadInput, flag, for_client, label

# How a field is typed in the experiment file (and spelled in a form input).
KINDS = ("string", "enum", "int", "number", "stringList", "intList", "rates")


@dataclass(frozen=True)
class FieldInfo:
    label: str  # a few words, for the form and tables
    help: str  # one line: what it does and what the usual value is
    group: str  # one of GROUPS: where the form shows it
    choices: tuple[str, ...] | None = None  # a string field's values, or a list field's items
    choice_labels: dict[str, str] | None = None  # how the form names each choice
    suggestions: tuple[str, ...] | None = None  # values the form offers for a free string (not enforced here)
    minimum: float | None = None  # inclusive bounds of a number (of each item of a list of numbers)
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    unit: str | None = None  # e.g. "tokens", "steps"
    methods: tuple[str, ...] | None = None  # the methods it applies to; None = every method
    null_means: str | None = None  # what leaving it out (null) means, e.g. "every layer"
    path: bool = False  # a file or folder path; in an experiment file read from its folder (filepaths.py)
    pattern: str | None = None  # a regular expression a string value must match
    min_items: int | None = None  # shortest list accepted
    max_items: int | None = None  # longest list accepted
    unique: bool = False  # a list may not name an item twice
    increasing: bool = False  # a list of numbers must be increasing (hence without repeats)
    # How run labels name the field ("r" -> "LST r=16", "layers" -> "layers 1,3"). A field with both short and
    # methods is part of those methods' identity: every run label of theirs shows it (an enum one, a variant such as
    # LST's init or fusion, only off its default). Any other field is shown only where it differs among the runs on
    # screen (by short if it has one, else by its label).
    short: str | None = None


# The form's sections, in order: field group -> heading.
GROUPS = {
    "model": "Backbone",
    "task": "Task and data",
    "methods": "Methods",
    "lst": "Ladder side-tuning",
    "levers": "LST memory levers",
    "baselines": "Baselines",
    "training": "Training",
    "output": "Runs",
}


def setting(default: Any, **info: Any) -> Any:
    """A dataclass field with its FieldInfo; a list default is copied per instance."""
    meta = {"info": FieldInfo(**info)}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def info_of(field: dataclasses.Field) -> FieldInfo:
    return field.metadata["info"]


def default_of(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def kind_of(cls: type, field: dataclasses.Field) -> str:
    """The field's kind, read from its type hint (``int | None`` -> "int", ``list[int] | None`` -> "intList")."""
    base = _without_none(typing.get_type_hints(cls)[field.name])
    origin = typing.get_origin(base)
    if origin is list:
        return "intList" if typing.get_args(base) == (int,) else "stringList"
    if origin is dict:
        return "rates"
    if base is int:
        return "int"
    if base is float:
        return "number"
    return "enum" if info_of(field).choices else "string"


def _without_none(hint: Any) -> Any:
    """``int | None`` -> int; any other hint unchanged."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def nullable(cls: type, field: dataclasses.Field) -> bool:
    return type(None) in typing.get_args(typing.get_type_hints(cls)[field.name])


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def interval(info: FieldInfo) -> str | None:
    """The allowed range as text ("between 2 and 64", "in (0, 10)", "at least 1"), or None if unbounded."""
    lo, hi = info.minimum, info.maximum
    xlo, xhi = info.exclusive_minimum, info.exclusive_maximum
    if xlo is not None or xhi is not None:
        left = f"({_fmt(xlo)}" if xlo is not None else f"[{_fmt(lo)}" if lo is not None else "(-inf"
        right = f"{_fmt(xhi)})" if xhi is not None else f"{_fmt(hi)}]" if hi is not None else "inf)"
        return f"in {left}, {right}"
    if lo is not None and hi is not None:
        return f"between {_fmt(lo)} and {_fmt(hi)}"
    if lo is not None:
        return "0 or more" if lo == 0 else f"at least {_fmt(lo)}"
    if hi is not None:
        return f"at most {_fmt(hi)}"
    return None


_TYPE_NAMES = {"int": "int", "number": "int or float", "string": "str", "enum": "str"}


def check_value(name: str, kind: str, info: FieldInfo, value: Any) -> None:
    """Type, choices and range of one (non-null) value, from the field's declaration; BadInput names the field."""
    where = for_client(
        cli=f"fix {name} in the experiment file (or {flag(name)})",
        vscode=f'fix {label(name)} in the Experiment view ("{name}" in the experiment file)',
    )
    if kind in ("stringList", "intList"):
        item = int if kind == "intList" else str
        if not isinstance(value, list) or any(not isinstance(x, item) or isinstance(x, bool) for x in value):
            raise BadInput(f"{name} must be a list of {item.__name__}s, got {value!r}", where)
        noun = name[:-1] if name.endswith("s") else name
        if info.min_items is not None and len(value) < info.min_items:
            raise BadInput(
                f"{name} is empty",
                f"choose one or more of {', '.join(info.choices)}"
                if info.choices
                else f"give at least {info.min_items}, or leave {name} out: {info.null_means}",
            )
        if info.max_items is not None and len(value) > info.max_items:
            raise BadInput(f"{name} lists {len(value)} items; at most {info.max_items}", where)
        if info.choices:
            bad = [x for x in value if x not in info.choices]
            if bad:
                raise BadInput(
                    f"unknown {noun}(s): {', '.join(map(str, bad))}", f"choose from {', '.join(info.choices)}"
                )
        if info.unique and len(set(value)) != len(value):
            raise BadInput(f"{name} lists a {noun} twice: {value}", f"list each {noun} once")
        if info.increasing and sorted(set(value)) != value:
            raise BadInput(
                f"{name} must be increasing and without repeats, got {value}",
                for_client(
                    cli=f"e.g. {flag(name)} {','.join(map(str, sorted(set(value))))}",
                    vscode=f"e.g. {label(name)} {', '.join(map(str, sorted(set(value))))}",
                ),
            )
        for x in value if kind == "intList" else ():
            _check_range(name, info, x)
        return
    if kind == "rates":
        if not isinstance(value, dict):
            raise BadInput(
                f"{name} must be an object of method -> learning rate, got {value!r}",
                for_client(
                    cli='e.g. "lrs": {"lora": 0.001} in the experiment file, or --lrs lora=1e-3',
                    vscode=f"set them under {label(name)} in the Experiment view "
                    '(e.g. "lrs": {"lora": 0.001} in the file)',
                ),
            )
        return
    ok = (int,) if kind == "int" else (int, float) if kind == "number" else (str,)
    if not isinstance(value, ok) or isinstance(value, bool):
        raise BadInput(
            f"{name} must be {_TYPE_NAMES[kind]}, got {value!r}",
            f"{where}; "
            + for_client(
                cli="schemas/ladder.schema.json lists every field's type",
                vscode="hovering the key in the experiment file shows the field's type",
            ),
        )
    if kind == "enum" and value not in (info.choices or ()):
        raise BadInput(f"unknown {name} {value!r}", f"choose from {', '.join(info.choices or ())}")
    if isinstance(value, str) and info.pattern is not None and not re.fullmatch(info.pattern, value):
        raise BadInput(f"unknown {name} {value!r}", info.help)
    if not isinstance(value, str):
        _check_range(name, info, value)


def _check_range(name: str, info: FieldInfo, x: float) -> None:
    text = interval(info)
    if text is None:
        return
    lo, hi = info.minimum, info.maximum
    xlo, xhi = info.exclusive_minimum, info.exclusive_maximum
    too_low = (lo is not None and x < lo) or (xlo is not None and x <= xlo)
    too_high = (hi is not None and x > hi) or (xhi is not None and x >= xhi)
    if not (too_low or too_high):
        return
    if xlo is not None and xhi is None and hi is None:
        message = f"{name} must be more than {_fmt(xlo)}, got {x}"
    elif too_high and hi is not None and lo is not None:
        message = f"{name} {x} is larger than {_fmt(hi)}, the most it accepts"
    else:
        spelled = f" ({info.label.lower()})" if text.startswith("between") and info.label.lower() != name else ""
        number = "a number " if text.startswith("in ") else ""
        message = f"{name}{spelled} must be {number}{text}, got {x}"
    raise BadInput(message, info.help)
