"""The comparison table printed at the end of ``compare`` (like the LST paper's Table 1)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from .run_label import method_name, run_label


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.1f}"


def _config(row: dict) -> dict | None:
    """The run's config.json (its folder is the record of what it was), or None when it cannot be read."""
    try:
        config = json.loads((Path(row["run_dir"]) / "config.json").read_text())
    except (KeyError, OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def row_labels(rows: list[dict]) -> list[str]:
    """Each row's run label among the rows shown, as the extension's Results table names them (run_label.py)."""
    configs = [_config(r) for r in rows]
    shown = [c for c in configs if c is not None]
    return [method_name(r["method"]) if c is None else run_label(c, shown) for r, c in zip(rows, configs, strict=True)]


def format_table(rows: list[dict], failed: Sequence[dict] = (), skipped: Sequence[str] = ()) -> str:
    """On CUDA the memory column is torch's training peak; elsewhere it is the accounted bytes (parameters +
    gradients + optimizer state + tensors saved for backward), which the header says. A failed method is a row
    that says so, its error below the table; a skipped one (on_failure: stop) a row that says that."""
    on_cuda = any(r["memory"].get("train_peak_bytes") is not None for r in rows)
    memory_header = "peak train MiB (CUDA)" if on_cuda else "train memory MiB (accounted)"
    metric_names = [k for k in rows[0]["metrics"] if k != "score"] if rows else []
    # one run's sampling error over its test examples, as the extension's Results table shows it: a one-seed table
    # on a few hundred examples invites reading gaps that are noise (about 2.5 points a run on the demo's 250 reviews)
    noise = any(_accuracy_se(r) is not None for r in rows)
    # run time: the whole run (set-up, training, evaluations), the duration the extension's Results table shows too
    header = ["run", "trainable %", memory_header, "saved-for-backward MiB", "run time s", *metric_names, "score"]
    header += ["± SE (accuracy)"] if noise else []
    lines = []
    for r, name in zip(rows, row_labels(rows), strict=True):
        mem = r["memory"]
        peak = mem["train_peak_bytes"] if on_cuda else mem.get("accounted_bytes")
        lines.append(
            [
                name,
                f"{r['trainable_pct']:.2f}",
                _mib(peak),
                _mib(mem["saved_for_backward_bytes"]),
                "-" if r.get("duration_s") is None else f"{r['duration_s']:.0f}",
                *(f"{r['metrics'].get(m, float('nan')):.2f}" for m in metric_names),
                f"{r['metrics']['score']:.2f}",
                *([_se_text(r)] if noise else []),
            ]
        )
    blank = ["-"] * (len(header) - 2)
    lines += [[method_name(f["method"]), "FAILED", *blank] for f in failed]
    lines += [[method_name(m), "skipped", *blank] for m in skipped]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=True)]

    def fmt(cells: list) -> str:  # the first column left-aligned, numbers right-aligned
        return "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    notes = [f"{method_name(f['method'])} failed ({f['kind']}): {f['message']}" for f in failed]
    if failed:
        notes.append(f"{len(failed)} of {len(rows) + len(failed) + len(skipped)} methods failed")
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(line) for line in lines), *notes])


def _se_text(row: dict) -> str:
    se = _accuracy_se(row)
    return "-" if se is None else f"±{se:.2f}"


def _accuracy_se(row: dict) -> float | None:
    """The binomial standard error of the row's test accuracy in points, sqrt(p (1 - p) / n) with n its test
    examples (resultsNoise.ts's binomialSe); None without an accuracy or test_examples (summaries from before it)."""
    accuracy, examples = row["metrics"].get("accuracy"), row.get("test_examples")
    if accuracy is None or not examples or not math.isfinite(accuracy):
        return None
    p = min(1.0, max(0.0, accuracy / 100))
    return 100 * math.sqrt(p * (1 - p) / examples)
