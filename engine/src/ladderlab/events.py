"""The engine side of the event protocol (protocol/events.schema.json is the one definition).

An ``EventSink`` writes each event as one JSON line to the run's ``events.jsonl`` (flushed per event, so a
crash loses nothing already reported) and to stdout, either as the same JSON line (``events`` mode, what
the extension reads), as a short human line (``text`` mode), or not at all (``quiet``, for ``--json``).

While attached to a run whose config.json names trackers (``report_to``), the sink also tees the run's events to
them (trackers.py). The run folder's config.json is the resolved config they record and names them, so every path
that starts a run (run, compare, resume, a sweep trial in any process) reports to them with no code of its own.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .trackers import RunTrackers

PROTOCOL_VERSION = 1  # must equal x-protocol-version in protocol/events.schema.json (a test checks)


def _clean(value: Any) -> Any:
    """JSON has no NaN/Infinity and strict parsers (the extension's) reject them: write null instead.
    The trainer stops a run whose loss is not finite before it gets here, so this is a last guard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class EventSink:
    # whether attach_run opens the run's trackers (report_to); a Ray worker's sink does not: the driver's store does
    tracks_runs = True

    def __init__(self, stdout_mode: str = "events", stdout: IO[str] | None = None):
        if stdout_mode not in ("events", "text", "quiet"):
            raise ValueError(stdout_mode)
        self.stdout_mode = stdout_mode
        self.stdout = stdout or sys.stdout
        self._file: IO[str] | None = None
        self.run_id: str | None = None
        self._trackers: RunTrackers | None = None

    def attach_run(self, run_id: str, events_path: Path) -> None:
        """From now on events also go to this run's events.jsonl (append: a resumed run keeps its history)."""
        self.detach_run()
        self.run_id = run_id
        # Open for the run's whole life (closed by detach_run): every event is appended and flushed at once.
        self._file = open(events_path, "a", encoding="utf-8")  # noqa: SIM115
        config_path = events_path.parent / "config.json"
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        if config.get("report_to") and self.tracks_runs:
            from .trackers import RunTrackers  # the tracker libraries load only for runs that report to them

            try:
                self._trackers = RunTrackers(config["report_to"], events_path.parent, config)
            except BaseException:
                self.detach_run()
                raise

    def detach_run(self) -> None:
        if self._trackers is not None:
            trackers, self._trackers = self._trackers, None
            trackers.close()
            for warning in trackers.warnings:
                self.log(warning, level="warning")
        if self._file is not None:
            self._file.close()
        self._file = None
        self.run_id = None

    def emit(self, type_: str, **fields: Any) -> dict:
        event = {"v": PROTOCOL_VERSION, "type": type_, "ts": round(time.time(), 3)}
        if self.run_id is not None:
            event["run_id"] = self.run_id
        event.update(_clean(fields))
        line = json.dumps(event, separators=(",", ":"))
        if self._file is not None:
            self._file.write(line + "\n")
            self._file.flush()
        if self.stdout_mode == "events":
            self.stdout.write(line + "\n")
            self.stdout.flush()
        elif self.stdout_mode == "text":
            text = human_line(event)
            if text:
                self.stdout.write(text + "\n")
                self.stdout.flush()
        if self._trackers is not None:
            self._tee(self._trackers, event)
        return event

    def _tee(self, trackers: RunTrackers, event: dict) -> None:
        trackers.record(event)
        # what only the sink can say in the run's log: where each tracker records the run (once it started), and
        # which tracker failed and was dropped (its warning is one more event: taken off the list before emitting)
        notes = trackers.notes() if event["type"] == "run_started" else []
        warnings, trackers.warnings = trackers.warnings, []
        for note in notes:
            self.log(note)
        for warning in warnings:
            self.log(warning, level="warning")

    def log(self, message: str, level: str = "info") -> None:
        self.emit("log", level=level, message=message)


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.1f} MiB"


def human_line(e: dict) -> str | None:
    """One readable line per event for terminals; train steps are thinned to keep the console calm."""
    t = e["type"]
    if t == "run_started":
        p = e["params"]
        return (
            f"[{e['method']}] started on {e['device']}: {p['trainable']:,} of {p['total']:,} parameters "
            f"trainable ({p['trainable_pct']:.2f}%), {e['total_steps']} steps -> {e['run_dir']}"
        )
    if t == "train_step":
        if e["step"] == 1 or e["step"] % 20 == 0 or e["step"] == e["total_steps"]:
            return (
                f"  step {e['step']}/{e['total_steps']} epoch {e['epoch']} loss {e['loss']:.4f} "
                f"lr {e['lr']:.2e} saved-for-backward {_mib(e['memory']['saved_for_backward_bytes'])}"
            )
        return None
    if t == "evaluation":
        metrics = " ".join(f"{k} {v:.2f}" for k, v in e["metrics"].items())
        return f"  {e['split']} (epoch {e['epoch']}): {metrics}"
    if t == "log":
        return f"  {'warning: ' if e['level'] == 'warning' else ''}{e['message']}"
    if t == "init_progress":
        return f"  {_init_line(e)}"
    if t == "error":
        return f"error ({e['kind']}): {e['message']}" + (f"\n  hint: {e['hint']}" if e.get("hint") else "")
    if t == "run_finished":
        s = e["summary"]
        return (
            f"[{s['method']}] finished in {s['duration_s']:.0f}s: score {s['metrics'].get('score', float('nan')):.2f}"
        )
    if t == "sweep_started":
        return f"sweep {e['sweep_id']}: {e['pending']} of {e['trials']} trials to run -> {e['sweep_dir']}"
    if t == "sweep_trial" and e["status"] != "queued":
        point = "".join(f" {k}={json.dumps(v)}" for k, v in e["point"].items())
        return f"[{e['trial_id']}] {e['method']}{point} seed {e['seed']}: {e['status']}"
    return None


def _init_line(e: dict) -> str:
    distilled = e["init"] == "distillation"
    if e["source"] == "cache":
        what = "distillation init: distilled weights" if distilled else "pruning init: index sets"
        return f"{what} from the cache ({e['elapsed_s']:.2f} s, nothing recomputed)"
    if e["source"] == "checkpoint":
        return "side network restored from the checkpoint (no init)"
    ex = e.get("examples")
    if ex is None:
        return f"pruning init: weight magnitudes, {e['elapsed_s']:.1f} s"
    left = f"ETA {ex['eta_s']:.0f} s" if ex["eta_s"] is not None else "ETA unknown yet"
    what = "distillation init:" if distilled else "pruning init: Fisher scores"
    return f"{what} {ex['done']}/{ex['total']} examples, " + (
        f"{e['elapsed_s']:.1f} s" if ex["done"] >= ex["total"] else left
    )
