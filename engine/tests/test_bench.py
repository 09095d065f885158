"""`ladderlab bench` on a CPU (small shapes): the result file's structure, every case measured, LST below LoRA,
and the estimator within 10% of what the bench traced. GPU figures come from a GPU machine (bench/results/)."""

from __future__ import annotations

import datetime
import json

from ladderlab import cli
from ladderlab.bench import BASELINES, FLOOR


def test_bench_on_cpu(tmp_path, capsys):
    # two LST variants keep CI short; every lever is exercised in test_lst_levers.py
    code = cli.main(
        [
            "bench",
            "--device",
            "cpu",
            "--rounds",
            "1",
            "--warmup",
            "1",
            "--steps",
            "1",
            "--variants",
            "paper,backbone-bf16",
            "--out",
            str(tmp_path),
            "--json",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    path = tmp_path / f"{datetime.date.today().isoformat()}-cpu.json"
    written = json.loads(path.read_text())
    assert written == printed
    assert {"gpu", "date", "torch", "rows"} <= set(written) and written["gpu"] == "cpu"
    rows = {(r["method"], r["variant"]): r for r in written["rows"]}
    expected = {(m, "paper") for m in BASELINES} | {("lst", "paper"), ("lst", "backbone-bf16")} | {(FLOOR, "no_grad")}
    assert set(rows) == expected
    for (method, variant), row in rows.items():
        assert {"method", "precision", "variant", "peak_bytes", "step_ms"} <= set(row), (method, variant)
        assert row["precision"] == "fp32" and row["peak_bytes"] > 0 and row["step_ms"] > 0
        if method != FLOOR:
            assert abs(row["estimate_error"]) <= 0.10, (method, variant, row["estimate_error"])
    lst, lora, full = rows[("lst", "paper")], rows[("lora", "paper")], rows[("full", "paper")]
    print(f"\nCPU bench (t5-tiny shape): LST {lst['peak_vs_full']:.3f}x full, {lst['peak_vs_lora']:.3f}x LoRA peak")
    assert lst["peak_bytes"] < lora["peak_bytes"] < full["peak_bytes"]
    assert lora["peak_vs_lora"] == 1.0 and full["peak_vs_full"] == 1.0
    assert rows[("lst", "backbone-bf16")]["peak_bytes"] < lst["peak_bytes"]
