"""Graceful stop on SIGINT / SIGTERM.

The first signal only sets a flag: the training loop finishes the current step, writes a checkpoint, emits
``run_stopped`` and the CLI exits 130 (``ladderlab resume RUN_DIR`` continues). Evaluations and the pruning
initialisation check the flag between batches, so a stop is prompt there too. A second signal aborts at once
(plain KeyboardInterrupt); the previous checkpoint stays valid because checkpoints are replaced atomically.
"""

from __future__ import annotations

import contextlib
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
SIGNAL_NAMES = tuple(s.name for s in SIGNALS)
_requested: str | None = None  # name of the signal that asked for a stop


class StopRequested(KeyboardInterrupt):
    """Raised at a safe point after a stop was asked for (a KeyboardInterrupt, so ``except Exception`` lets it by)."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


def requested() -> str | None:
    return _requested


def check() -> None:
    """Call at safe points (between steps, between evaluation batches)."""
    if _requested is not None:
        raise StopRequested(_requested)


def request(signal_name: str = "SIGINT") -> None:
    global _requested
    _requested = signal_name


def _handler(signum, _frame) -> None:
    if _requested is not None:  # the second signal: stop now, without waiting for a safe point
        raise KeyboardInterrupt(signal.Signals(signum).name)
    request(signal.Signals(signum).name)


@contextlib.contextmanager
def graceful_signals():
    """Install the two-stage handlers for the duration of a CLI command (main thread only), then restore."""
    global _requested
    _requested = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _requested = None
