"""Errors the engine reports to users.

Every failure a user can fix is a ``BadInput``: the CLI turns it into an ``error`` event
(kind ``bad_input``) and a one-line message on stderr, never a traceback.
"""


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
