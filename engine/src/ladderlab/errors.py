"""Errors the engine reports to users.

Every failure a user can fix is a ``BadInput``: the CLI turns it into an ``error`` event
(kind ``bad_input``) and a one-line message on stderr, never a traceback.
"""

import json
from pathlib import Path


class LadderLabError(Exception):
    kind = "crash"

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self):  # keep the hint when the error crosses a process boundary (the estimator's child)
        return type(self), (self.message, self.hint)


class BadInput(LadderLabError):
    """Something the user gave us (config, data file, model folder) is wrong; the message says what to fix."""

    kind = "bad_input"


def read_json_file(path: Path, what: str, fix_hint: str) -> object:
    """A user's JSON file, or a BadInput naming it: not UTF-8, or not JSON (with the line and column)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"{what} is not UTF-8 text", "re-save it as UTF-8") from None
    except json.JSONDecodeError as e:
        raise BadInput(f"{what} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}", fix_hint) from None
