"""Progress of a run's data-dependent init (LST's Fisher pass) as log events the monitor shows: examples done /
total and an ETA from the pace so far, at most one event every PROGRESS_EVERY_S (and always the last)."""

from __future__ import annotations

import time

from .events import EventSink

PROGRESS_EVERY_S = 2.0


class InitProgress:
    """Examples done / total of the Fisher pass, with an ETA from the pace so far, as log events."""

    def __init__(self, sink: EventSink, total: int):
        self.sink, self.total, self.done = sink, total, 0
        self.started = self.last = time.perf_counter()

    def advance(self, examples: int) -> None:
        self.done += examples
        now = time.perf_counter()
        if now - self.last < PROGRESS_EVERY_S and self.done < self.total:
            return
        self.last = now
        eta = (now - self.started) / self.done * (self.total - self.done)
        self.sink.log(
            f"pruning init: Fisher scores {self.done}/{self.total} examples"
            + (f", ETA {eta:.0f} s" if self.done < self.total else f", {now - self.started:.1f} s")
        )
