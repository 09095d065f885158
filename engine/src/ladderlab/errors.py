"""Errors the engine reports to users, and the one place that decides what kind of failure an exception is.

Every failure a user can fix is a ``BadInput``: the CLI turns it into an ``error`` event
(kind ``bad_input``) and a one-line message on stderr, never a traceback. Running out of memory
is kind ``oom``; anything else is a ``crash`` (a bug), whose event keeps the traceback.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

OOM_HINT = (
    "lower --batch-size or --max-length; for LST raise --r (a narrower side network) or keep fewer side "
    "layers (--keep-layers); for the baselines try lst, lora or bitfit"
)


# Who runs the engine, so that a hint can say what that user does: the VS Code extension sets it to "vscode" when it
# spawns the engine (src/engine/worker.ts); unset, the user is at a terminal and a hint names CLI flags.
CLIENT_ENV = "LADDERLAB_CLIENT"


def for_client(cli: str, vscode: str) -> str:
    """The hint in the words of the user who will read it: CLI flags at a terminal; in VS Code, what to click."""
    return vscode if os.environ.get(CLIENT_ENV) == "vscode" else cli


# The form's label of each experiment field, filled by config.py once its fields are declared (config imports this
# module, so the labels are handed over rather than imported: no import cycle). Hints in VS Code name fields by them.
FIELD_LABELS: dict[str, str] = {}


def flag(name: str) -> str:
    """An experiment field's CLI flag: keep_layers -> --keep-layers."""
    return "--" + name.replace("_", "-")


def label(name: str) -> str:
    """An experiment field as the Experiment view names it (its label), for hints read in VS Code."""
    return FIELD_LABELS.get(name, name)


def use_field(name: str, value: str) -> str:
    """ "use --init magnitude" at a terminal, "set Initialisation to magnitude in the Experiment view" in VS Code."""
    return for_client(cli=f"use {flag(name)} {value}", vscode=f"set {label(name)} to {value} in the Experiment view")


def oom_hint() -> str:
    label = {name: FIELD_LABELS.get(name, name) for name in ("batch_size", "max_length", "r", "keep_layers")}
    return for_client(
        cli=OOM_HINT,
        vscode=f"lower {label['batch_size']} or {label['max_length']} in the Experiment view; for LST raise "
        f"{label['r']} (a narrower side network) or keep fewer {label['keep_layers']}; for the baselines try LST, "
        "LoRA or BitFit",
    )


class BadInput(Exception):
    """Something the user gave us (config, data file, model folder) is wrong; the message says what to fix."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self):  # keep the hint when the error crosses a process boundary (the estimator's child)
        return type(self), (self.message, self.hint)


class RunFailed(Exception):
    """A run failed and has already written its ``error`` event; ``fields`` are that event's fields, so whoever
    sums up several runs repeats the run's own message and hint instead of deciding them again."""

    def __init__(self, fields: dict):
        super().__init__(fields["message"])
        self.fields = fields


def is_oom(error: BaseException) -> bool:
    # torch is looked up, not imported: the CLI's light paths (--help, errors before a run) never load it, and
    # an exception cannot be torch's out-of-memory error unless torch was loaded to raise it.
    torch = sys.modules.get("torch")
    return isinstance(error, MemoryError) or (torch is not None and isinstance(error, torch.cuda.OutOfMemoryError))


def error_kind(error: BaseException) -> str:
    """``bad_input``, ``oom`` or ``crash``: the error event's kind and the CLI's exit status follow from it."""
    if isinstance(error, BadInput):
        return "bad_input"
    return "oom" if is_oom(error) else "crash"


def error_fields(
    error: BaseException, phase: str | None = None, *, memory: dict | None = None, step: int | None = None
) -> dict:
    """The fields of the ``error`` event that reports ``error``. ``memory`` and ``step`` are what only an
    out-of-memory error in a run carries (what the run held, and the training step that failed)."""
    kind = error_kind(error)
    fields: dict[str, Any]
    if isinstance(error, BadInput):
        fields = {"kind": kind, "message": error.message, "hint": error.hint}
    elif kind == "oom":
        where = f" during {phase}" + (f" (step {step})" if step is not None else "") if phase else ""
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else type(error).__name__
        hint = oom_hint()
        predicted = (memory or {}).get("predicted_peak_bytes")
        if predicted:
            hint += f" (the estimator predicted a peak of {predicted / 2**30:.2f} GiB for these settings)"
        fields = {"kind": kind, "message": f"out of memory{where}: {first_line}", "hint": hint}
        if memory is not None:
            fields["memory"] = memory
        if step is not None:
            fields["step"] = step
    else:
        fields = {
            "kind": kind,
            "message": f"{type(error).__name__}: {error}",
            "hint": None,
            "detail": "".join(traceback.format_exception(error)),
        }
    if phase:
        fields["phase"] = phase
    return fields


def read_json_file(path: Path, what: str, fix_hint: str) -> object:
    """A user's JSON file, or a BadInput naming it: not UTF-8, or not JSON (with the line and column)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"{what} is not UTF-8 text", "re-save it as UTF-8") from None
    except json.JSONDecodeError as e:
        raise BadInput(f"{what} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}", fix_hint) from None
