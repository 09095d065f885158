"""``ladderlab bench``: peak training memory and step time of every method, side by side, in one process.

On a GPU (default shape: the paper's T5-base, random init, batch 100, 128 input tokens) each case builds its
model fresh from one CPU copy of the backbone, resets torch's peak counter, runs warm-up steps, then timed
steps: peak = torch.cuda.max_memory_allocated, step = the median timed step. GPU step times swing by ~30%
between identical runs, so the cases are interleaved and repeated in rounds; ratios (to full fine-tuning and to
LoRA of the same precision) are taken within each round and the median over rounds is reported.
On a CPU (small shapes, for CI) the peak comes from ``LiveTensorTracer`` (CPU allocators keep no peak) over two
extra traced steps, and the step time from untraced steps.

The estimator's prediction is computed for every case and printed beside the measurement.
Results: ``bench/results/<date>-<gpu>.json`` ({"gpu", "date", "torch", "rows": [...]}).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import gc
import json
import os
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
import transformers

from .backbones import Backbone, load_backbone
from .config import Experiment
from .data import TaskSpec, task_spec
from .devices import Autocast
from .estimate import estimate_run
from .memory_trace import LiveTensorTracer
from .methods import BUILDERS
from .methods.base import MethodModel
from .step import loss_for, make_optimizer, synthetic_batch, training_step

PAPER_KEEP = [1, 2, 3, 5, 6, 7, 9, 10, 11]  # the paper's T5-base side network: layers 0, 4 and 8 dropped

# LST variants: each names the levers it turns on (Experiment fields)
LST_VARIANTS: dict[str, dict] = {
    "paper": {},
    "inference": {"backbone_mode": "inference"},
    "taps-bf16": {"tap_dtype": "bf16"},
    "side-heads-4": {"side_heads": 4},
    "backbone-bf16": {"backbone_dtype": "bf16", "tap_dtype": "bf16"},
    "cached-taps": {"tap_cache": "cpu"},
    "all": {"backbone_mode": "inference", "backbone_dtype": "bf16", "tap_dtype": "bf16", "side_heads": 4},
}
BASELINES = ("full", "lora", "adapter", "bitfit", "prompt")
FLOOR = "frozen-forward"  # the backbone's forward alone under no_grad: the floor of any method that runs it


@dataclass(frozen=True)
class Case:
    method: str  # a method name, or FLOOR
    variant: str
    precision: str
    overrides: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.method}/{self.variant}/{self.precision}"


def default_cases(precisions: list[str]) -> list[Case]:
    cases = []
    for precision in precisions:
        cases += [Case(m, "paper", precision) for m in BASELINES]
        variants = (
            LST_VARIANTS if precision == "fp32" else {k: LST_VARIANTS[k] for k in ("paper", "all", "cached-taps")}
        )
        cases += [Case("lst", name, precision, levers) for name, levers in variants.items()]
        cases.append(Case(FLOOR, "no_grad", precision))
    return cases


@dataclass
class BenchSetup:
    backbone: Backbone
    spec: TaskSpec
    exp: Experiment  # batch size, length, r, kept layers, ranks...
    device: torch.device
    base_model: torch.nn.Module  # on CPU; each case deep-copies it


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _fresh(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _case_exp(setup: BenchSetup, case: Case) -> Experiment:
    return dataclasses.replace(setup.exp, precision=case.precision, **case.overrides)


def _build(setup: BenchSetup, case: Case) -> torch.nn.Module:
    model = copy.deepcopy(setup.base_model)
    if case.method == FLOOR:
        for p in model.parameters():
            p.requires_grad_(False)
        return model.eval().to(setup.device)
    torch.manual_seed(0)
    return BUILDERS[case.method](setup.backbone, model, _case_exp(setup, case)).to(setup.device)


def measure(setup: BenchSetup, case: Case, warmup: int, steps: int) -> dict:
    """Build the case's model, run warm-up and timed steps; peak bytes and the median step in ms."""
    _fresh(setup.device)
    result = _measure_fresh(setup, case, warmup, steps)
    _fresh(setup.device)  # the case's model, optimizer and batch went with _measure_fresh's frame
    return result


def _measure_fresh(setup: BenchSetup, case: Case, warmup: int, steps: int) -> dict:
    device, exp = setup.device, _case_exp(setup, case)
    model = _build(setup, case)
    batch = synthetic_batch(setup.backbone, setup.spec, exp.batch_size, exp.max_length, device)
    autocast = Autocast.of(device, case.precision)
    if case.method == FLOOR:

        def step():
            with torch.no_grad(), autocast():
                setup.backbone.family.logits(model, batch)

        optimizer = None
    else:
        assert isinstance(model, MethodModel)  # every case but the floor is a method's model
        model.train()
        params, optimizer, scheduler = make_optimizer(model, 1e-4, 0.0, 0, warmup + steps + 2)
        loss_fn = loss_for(setup.spec)

        def step():
            training_step(model, batch, loss_fn, params, optimizer, scheduler, 1.0, autocast)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for i in range(warmup + steps):
        _sync(device)
        t0 = time.perf_counter()
        step()
        _sync(device)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    if device.type == "cuda":
        peak = int(torch.cuda.max_memory_allocated(device))
    else:
        tracer = LiveTensorTracer()
        for t in batch.values():
            tracer.retag(t, "transient")
        with tracer.tracking(model, optimizer):
            tracer.reset_peak()
            for _ in range(2):
                step()
        peak = tracer.peak
    return {"peak_bytes": peak, "step_ms": statistics.median(times)}


def _ratio_rows(cases: list[Case], rounds: list[dict]) -> list[dict]:
    """Per case: medians of the measurements and of the per-round ratios to full and to LoRA (same precision)."""
    rows = []
    for case in cases:
        row = {"method": case.method, "precision": case.precision, "variant": case.variant, "levers": case.overrides}
        ok = [r for r in rounds if r.get(case) and "error" not in r[case]]
        if not ok:
            row["error"] = next((r[case]["error"] for r in rounds if r.get(case)), "not measured")
            rows.append(row)
            continue
        row["peak_bytes"] = int(statistics.median(r[case]["peak_bytes"] for r in ok))
        row["step_ms"] = round(statistics.median(r[case]["step_ms"] for r in ok), 2)
        row["step_ms_rounds"] = [round(r[case]["step_ms"], 2) for r in ok]
        for peer in ("full", "lora"):
            ref = Case(peer, "paper", case.precision)
            pairs = [(r[case], r[ref]) for r in ok if r.get(ref) and "error" not in r[ref]]
            if pairs:
                row[f"peak_vs_{peer}"] = round(
                    statistics.median(a["peak_bytes"] / b["peak_bytes"] for a, b in pairs), 4
                )
                row[f"step_vs_{peer}"] = round(statistics.median(a["step_ms"] / b["step_ms"] for a, b in pairs), 4)
        rows.append(row)
    return rows


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"


def run_bench(
    exp: Experiment,
    device: torch.device,
    *,
    rounds: int,
    warmup: int,
    steps: int,
    precisions: list[str],
    variants: list[str] | None = None,
    estimate: bool = True,
    log=print,
) -> dict:
    backbone = load_backbone(exp.backbone)
    spec = task_spec(exp.task if exp.task != "file" else "sst2")
    torch.manual_seed(exp.seed)
    setup = BenchSetup(backbone, spec, exp, device, backbone.new_task_model(spec, exp.seed, exp.pooling))
    cases = [
        c
        for c in default_cases(precisions)
        if variants is None or c.variant in variants or c.method in BASELINES or c.method == FLOOR
    ]
    started = time.time()
    results: list[dict] = []
    for r in range(rounds):
        measured = {}
        for case in cases:  # interleaved: every case once per round
            try:
                measured[case] = measure(setup, case, warmup, steps)
            except (torch.cuda.OutOfMemoryError, MemoryError) as e:
                measured[case] = {"error": f"out of memory: {str(e).splitlines()[0]}"}
                _fresh(device)
            m = measured[case]
            result = (
                m["error"] if "error" in m else f"peak {m['peak_bytes'] / 2**20:9.1f} MiB  step {m['step_ms']:8.1f} ms"
            )
            log(f"round {r + 1}/{rounds} {case.label:<36} {result}")
        results.append(measured)
    measured_s = time.time() - started
    rows = _ratio_rows(cases, results)
    if estimate:
        measured_rows = [(c, r) for c, r in zip(cases, rows, strict=True) if c.method != FLOOR and "peak_bytes" in r]
        # Each estimate traces in its own child process (CPU only): on a machine with cores to spare they run side
        # by side, which takes the GPU check's 20 estimates at the T5-base shape from minutes to under one.
        workers = max(1, min(len(measured_rows), (os.cpu_count() or 2) // 2))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            predicted = pool.map(lambda cr: estimate_run(_case_exp(setup, cr[0]), cr[0].method, device), measured_rows)
            for (_, row), estimate_result in zip(measured_rows, predicted, strict=True):
                row["estimate_bytes"] = estimate_result["peak_bytes"]
                row["estimate_error"] = round(estimate_result["peak_bytes"] / row["peak_bytes"] - 1, 4)
    return {
        "gpu": _device_name(device),
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "backbone": exp.backbone,
        "batch_size": exp.batch_size,
        "max_length": exp.max_length,
        "r": exp.r,
        "keep_layers": exp.keep_layers,
        "rounds": rounds,
        "warmup_steps": warmup,
        "timed_steps": steps,
        "measure_seconds": round(measured_s, 1),
        "rows": rows,
    }


def results_path(out_dir: str | Path, result: dict) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", result["gpu"].lower()).strip("-")
    return Path(out_dir) / f"{result['date']}-{slug}.json"


def write_results(out_dir: str | Path, result: dict) -> Path:
    path = results_path(out_dir, result)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


# Targets (docs/targets.md: the shape, the measurement, where each limit comes from), checked on every bench:
# (LST variant, precision, column, limit)
TARGETS = [
    ("paper", "fp32", "peak_vs_full", 0.15),
    ("paper", "fp32", "peak_vs_lora", 0.24),
    ("backbone-bf16", "fp32", "peak_vs_full", 0.10),
    ("paper", "fp32", "step_vs_lora", 0.55),
    ("paper", "bf16", "step_vs_lora", 0.50),
    ("cached-taps", "fp32", "step_vs_lora", 0.20),
]


def format_bench(result: dict) -> str:
    head = (
        f"{result['gpu']} · torch {result['torch']} · {result['backbone']} batch {result['batch_size']} × "
        f"{result['max_length']} tokens · median of {result['rounds']} rounds ({result['measure_seconds']} s)"
    )
    cols = (
        f"{'method':<15}{'variant':<15}{'prec':<6}{'peak MiB':>10}{'×full':>8}{'×LoRA':>8}{'step ms':>10}"
        f"{'×full':>8}{'×LoRA':>8}{'estimate':>10}{'err':>8}"
    )
    lines = [head, cols]

    def fmt(v, spec: str) -> str:  # a ratio, or "-" where it was not measured
        return format(v, spec) if isinstance(v, (int, float)) else "-"

    for row in result["rows"]:
        if "error" in row:
            lines.append(f"{row['method']:<15}{row['variant']:<15}{row['precision']:<6}  {row['error']}")
            continue
        est = f"{row['estimate_bytes'] / 2**20:.1f}" if "estimate_bytes" in row else "-"
        err = f"{100 * row['estimate_error']:+.1f}%" if "estimate_error" in row else "-"
        lines.append(
            f"{row['method']:<15}{row['variant']:<15}{row['precision']:<6}{row['peak_bytes'] / 2**20:>10.1f}"
            f"{fmt(row.get('peak_vs_full'), '.3f'):>8}{fmt(row.get('peak_vs_lora'), '.3f'):>8}{row['step_ms']:>10.1f}"
            f"{fmt(row.get('step_vs_full'), '.3f'):>8}{fmt(row.get('step_vs_lora'), '.3f'):>8}"
            f"{est:>10}{err:>8}"
        )
    lines.append("targets (LST): " + "; ".join(target_lines(result)))
    return "\n".join(lines)


def target_lines(result: dict) -> list[str]:
    out = []
    for variant, precision, column, limit in TARGETS:
        row = next(
            (
                r
                for r in result["rows"]
                if r["method"] == "lst" and r["variant"] == variant and r["precision"] == precision
            ),
            None,
        )
        value = row.get(column) if row else None
        verdict = "not measured" if value is None else ("met" if value <= limit else "NOT met")
        out.append(f"{variant}/{precision} {column} {value if value is not None else '-'} ≤ {limit}: {verdict}")
    errors = [abs(r["estimate_error"]) for r in result["rows"] if "estimate_error" in r]
    if errors:
        out.append(
            f"estimate within 10% of every measured peak: {'met' if max(errors) <= 0.10 else 'NOT met'} "
            f"(largest error {100 * max(errors):.1f}%)"
        )
    return out
