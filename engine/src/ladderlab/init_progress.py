"""Where a run's side network gets its initial weights (LST's pruning init) and how far the Fisher pass is, as
``init_progress`` events (protocol/events.schema.json): the monitor shows them as data, never by parsing log text.
Fisher progress goes out at most once every PROGRESS_EVERY_S (and always with the last example)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .events import EventSink

if TYPE_CHECKING:
    from .methods.lst.init_cache import InitCache

PROGRESS_EVERY_S = 2.0


class InitProgress:
    """One run's init: ``advance`` as the Fisher pass scores examples, then ``finished`` (computed or from the
    cache); or ``restored`` alone for a resumed run, whose checkpoint holds the side network."""

    def __init__(self, sink: EventSink, init: str, total: int = 0):
        self.sink, self.init, self.total, self.done = sink, init, total, 0
        self.started = self.last = time.perf_counter()
        self.sent_last = False

    def _emit(self, source: str, examples: bool) -> None:
        now = time.perf_counter()
        elapsed = now - self.started
        fields: dict = {"source": source, "init": self.init, "elapsed_s": round(elapsed, 2)}
        if examples:
            eta = round(elapsed / self.done * (self.total - self.done), 1) if self.done else None
            fields["examples"] = {"done": self.done, "total": self.total, "eta_s": eta}
        self.sink.emit("init_progress", **fields)
        self.last = now

    def advance(self, examples: int) -> None:
        self.done += examples
        last = self.done >= self.total
        if last or time.perf_counter() - self.last >= PROGRESS_EVERY_S:
            self._emit("scores", examples=True)
            self.sent_last = last

    def finished(self, cache: InitCache | None) -> None:
        """The index sets are chosen: say where they came from (unless the Fisher pass's last event said so).
        ``cache`` None: the method has no such init (not LST, or init random)."""
        if cache is None:
            return
        if cache.hit:
            self._emit("cache", examples=False)
        elif not self.sent_last:  # magnitude scores, or a Fisher pass whose last event was not sent
            self._emit("scores", examples=self.init == "fisher")

    def restored(self) -> None:
        self.started = time.perf_counter()
        self._emit("checkpoint", examples=False)
