"""The LST paper's Figure 5 in miniature: score against training memory as each method's size varies, over seeds,
run as one sweep (examples/figure5.ladder.json) through the engine's own `ladderlab sweep`.

    .venv/bin/python bench/figure5.py            # 24 trials, ~30-40 min on 2 quiet CPU cores
    .venv/bin/python bench/figure5.py --quick    # the same grid on 48 sentences, 1 seed: shows it runs

Grid (the paper's Figure 5): LST r in {32, 16, 8, 4}, LoRA rank in {4, 8, 16, 32}, Adapter size in {6, 12, 24, 48};
2 seeds on one data split (data_seed fixed). Each method at its own learning rate (the file's `lrs`: LST 1e-3, LoRA
3e-3, Adapter 1e-3, the rates bench/sst2_accuracy.py's validation sweep picked on 3,000 sentences; at the paper's
3e-4 LoRA and Adapter stayed at the majority class on this budget). Embedded MiniLM, the SST-2 sample packaged with
the engine (1,000 training sentences, 2 epochs, 64 tokens; validation 1,000 held out of train picks the best epoch;
test = GLUE's dev set, 872 sentences). Memory is the accounted training memory (parameters, gradients, optimizer
state, tensors saved for backward: what a CPU can count exactly; on CUDA the sweep reports torch's peak instead).
Writes bench/results/figure5-<date>-cpu.json (the sweep's points, mean and std over seeds) and, where matplotlib is
installed (`pip install matplotlib`), the chart figure5-<date>-cpu.png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "examples" / "figure5.ladder.json"
SIZE_FIELD = {"lst": "r", "lora": "lora_rank", "adapter": "adapter_size"}


def run_sweep(config: Path, runs_dir: Path) -> dict:
    """`ladderlab sweep --json` as a user runs it (trials one after another: 2 cores fit one trial at a time)."""
    command = [sys.executable, "-m", "ladderlab.cli", "sweep", "--config", str(config), "--backend", "local"]
    done = subprocess.run([*command, "--runs-dir", str(runs_dir), "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the sweep failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def trainable_pct(results: dict, runs_dir: Path) -> dict[tuple[str, str], float]:
    pct = {}
    for trial in results["trials"]:
        summary = json.loads((runs_dir / Path(trial["run_dir"]).name / "summary.json").read_text())
        pct[(trial["method"], json.dumps(trial["point"]))] = summary["trainable_pct"]
    return pct


def rows_of(results: dict, pct: dict) -> list[dict]:
    rows = []
    for p in results["points"]:
        size_field = SIZE_FIELD[p["method"]]
        rows.append(
            {
                "method": p["method"],
                size_field: p["point"][size_field],
                "n": p["n"],
                "test_mean": round(p["mean"]["score"], 2),
                "test_std": round(p["std"]["score"], 2),
                "accounted_mib": round(p["peak_bytes"] / 2**20, 1),
                "trainable_pct": pct[(p["method"], json.dumps(p["point"]))],
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| method | size | trainable % | training memory (MiB) | test accuracy (mean ± std) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        field = SIZE_FIELD[r["method"]]
        lines.append(
            f"| {r['method']} | {field}={r[field]} | {r['trainable_pct']:.2f} | {r['accounted_mib']} | "
            f"{r['test_mean']:.2f} ± {r['test_std']:.2f} (n={r['n']}) |"
        )
    return "\n".join(lines)


def chart(rows: list[dict], out: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method in SIZE_FIELD:
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["accounted_mib"])
        if not mine:
            continue
        x, y, e = ([r[k] for r in mine] for k in ("accounted_mib", "test_mean", "test_std"))
        ax.errorbar(x, y, yerr=e, marker="o", capsize=3, label=method)
        for r in mine:
            ax.annotate(
                str(r[SIZE_FIELD[method]]),
                (r["accounted_mib"], r["test_mean"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xlabel("training memory, accounted (MiB)")
    ax.set_ylabel("SST-2 test accuracy (%)")
    ax.set_title("Figure 5 in miniature: MiniLM, SST-2 sample, mean ± std over seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="48 sentences, 1 epoch, 1 seed: shows the grid runs")
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        config = CONFIG
        if args.quick:
            values = json.loads(CONFIG.read_text())
            values.update(max_train_examples=48, max_eval_examples=32, epochs=1, fisher_samples=8)
            values["sweep"]["seeds"] = [0]
            values["data"] = "sample"
            values.pop("$schema", None)
            config = Path(tmp) / "figure5-quick.ladder.json"
            config.write_text(json.dumps(values))
        runs_dir = Path(tmp) / "runs"
        results = run_sweep(config, runs_dir)
        rows = rows_of(results, trainable_pct(results, runs_dir))
    date = datetime.date.today().isoformat()
    stem = HERE / "results" / f"figure5-{date}-cpu{'-quick' if args.quick else ''}"
    result = {
        "date": date,
        "device": "cpu",
        "config": str(CONFIG.relative_to(HERE.parent)),
        "learning_rates": json.loads(CONFIG.read_text()).get("lrs"),
        "quick": args.quick,
        "seconds": round(time.time() - started),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "rows": rows,
    }
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(rows))
    drawn = chart(rows, stem.with_suffix(".png"))
    print(f"written {stem.with_suffix('.json').name}" + (f" and {stem.with_suffix('.png').name}" if drawn else ""))


if __name__ == "__main__":
    main()
