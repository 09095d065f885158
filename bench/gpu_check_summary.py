"""The GPU check's verdicts (bench/gpu_check.py): read what the parts left in the output folder, judge it against the
targets (docs/targets.md via ``ladderlab.bench.TARGETS``, issue 15's interim levels), write results.json and
summary.md, and return the table. Called after every part, so it must cope with any part missing or cut short: a
bench killed at its timeout is read back from its per-case log lines (ratios within each finished round)."""

from __future__ import annotations

import csv
import datetime
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from gpu_check import ESTIMATE_LIMIT, INTERIM, results_folder_name

MIB = 2**20
# ladderlab bench's per-case progress line (bench.run_bench's log), e.g.
# "round 1/3 lst/paper/fp32                    peak    2540.1 MiB  step    113.2 ms"
CASE_LINE = re.compile(r"^round (\d+)/\d+ (\S+)/(\S+)/(\S+)\s+peak\s+([\d.]+) MiB\s+step\s+([\d.]+) ms", re.M)


def finish(out: Path, parts, scratch: Path, repo: Path) -> str:
    scrub_files(out, repo)
    env = read_json(scratch / "env.json") or {}
    bench, bench_notes = bench_results(out, parts)
    run = run_results(out, read_json(scratch / "estimate.json") or {})
    tests = test_outcomes(scratch / "junit.xml") or tests_from_log(out)
    checks = (
        [
            ("part", p.name, f"{p.status} ({p.seconds} s of {p.timeout_s})", "ok", verdict(p.status == "ok"))
            for p in parts
        ]
        + [("test", name, outcome, "passed", verdict(outcome == "passed", outcome)) for name, outcome in tests.items()]
        + bench_checks(bench)
        + run_checks(run)
    )
    results = {
        "date": datetime.date.today().isoformat(),
        "gpu": env.get("gpu"),
        "results_folder": f"bench/results/{results_folder_name()}",
        "env": env,
        "parts": [{"name": p.name, "status": p.status, "seconds": p.seconds, "timeout_s": p.timeout_s} for p in parts],
        "tests": tests,
        "bench_rows": bench,
        "bench_notes": bench_notes,
        "run": run,
        "checks": [dict(zip(("area", "check", "value", "target", "verdict"), c, strict=True)) for c in checks],
    }
    table = format_table(checks)
    (out / "results.json").write_text(scrub(json.dumps(results, indent=2), repo) + "\n", encoding="utf-8")
    head = f"# GPU check {results['date']}: {env.get('gpu') or 'GPU not read'}\n\n"
    versions = ", ".join(f"{k} {env[k]}" for k in ("torch", "cuda", "transformers", "peft") if env.get(k))
    body = f"{versions}\n\n```\n{table}\n```\n" + "".join(f"\n- {n}" for n in bench_notes) + bench_tables(out, parts)
    (out / "summary.md").write_text(scrub(head + body, repo) + "\n", encoding="utf-8")
    return table


def verdict(ok: bool, outcome: str = "") -> str:
    return "not run" if outcome == "skipped" else ("met" if ok else "NOT met")


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def test_outcomes(junit: Path) -> dict[str, str]:
    """pytest's junit report: test name -> passed / failed / error / skipped."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return {}
    outcomes = {}
    for case in root.iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name", "?")] = {"failure": "failed"}.get(kinds[0], kinds[0]) if kinds else "passed"
    return outcomes


def bench_tables(out: Path, parts) -> str:
    """Each finished bench as ``ladderlab bench`` prints it: every case, its ratios and the estimate beside it."""
    from ladderlab.bench import format_bench

    results = [read_json(out / f"{p.name}.json") for p in parts if p.name.startswith("bench-")]
    return "".join(f"\n\n```\n{format_bench(r)}\n```" for r in results if r and r.get("rows"))


def tests_from_log(out: Path) -> dict[str, str]:
    """The outcome lines pytest -v printed before the part was cut short (no junit report then)."""
    text = log_section(out, "tests")
    found = re.findall(r"^tests/test_cuda\.py::(\S+) (PASSED|FAILED|SKIPPED|ERROR)", text, re.M)
    return {name: outcome.lower().replace("error", "failed") for name, outcome in found}


def log_section(out: Path, part: str) -> str:
    """What the part wrote into log.txt (from its "== part:" header to the next part's)."""
    log = (out / "log.txt").read_text(encoding="utf-8") if (out / "log.txt").is_file() else ""
    marker = f"\n== {part}:"
    return log.split(marker, 1)[1].split("\n== ", 1)[0] if marker in log else ""


def bench_results(out: Path, parts) -> tuple[list[dict], list[str]]:
    """The bench rows of both precisions: from each part's JSON, else from its log lines (a part cut short)."""
    rows, notes = [], []
    for part in parts:
        if not part.name.startswith("bench-"):
            continue
        result = read_json(out / f"{part.name}.json")
        if result and result.get("rows"):
            rows += result["rows"]
            continue
        partial = rows_from_log(log_section(out, part.name))
        if partial:
            rows += partial
            notes.append(f"{part.name}: {part.status}; {len(partial)} rows read back from its log, without estimates")
    return rows, notes


def rows_from_log(text: str) -> list[dict]:
    from ladderlab.bench import Case, _ratio_rows  # the bench's own ratio rule: within each round, median over rounds

    rounds: dict[int, dict] = {}
    cases: list = []
    for r, method, variant, precision, peak, step in CASE_LINE.findall(text):
        case = Case(method, variant, precision)
        if case not in cases:
            cases.append(case)
        rounds.setdefault(int(r), {})[case] = {"peak_bytes": int(float(peak) * MIB), "step_ms": float(step)}
    return _ratio_rows(cases, [rounds[r] for r in sorted(rounds)]) if cases else []


def bench_checks(rows: list[dict]) -> list[tuple]:
    from ladderlab.bench import TARGETS

    checks = []
    for variant, precision, column, limit in INTERIM + TARGETS:
        row = next((r for r in rows if (r["method"], r["variant"], r["precision"]) == ("lst", variant, precision)), {})
        value = row.get(column)
        level = "issue 15 now" if (variant, precision, column, limit) in INTERIM else "goal"
        shown = "-" if value is None else f"{value:.3f}"
        ok = value is not None and value <= limit
        checks.append(
            ("bench", f"lst {variant}/{precision} {column} ({level})", shown, f"<= {limit}", judged(value, ok))
        )
    errors = [
        (abs(r["estimate_error"]), f"{r['method']}/{r['variant']}/{r['precision']}")
        for r in rows
        if "estimate_error" in r
    ]
    if errors:
        worst, label = max(errors)
        over = sum(e > ESTIMATE_LIMIT for e, _ in errors)
        value = f"largest {100 * worst:.1f}% ({label}); {over} of {len(errors)} over"
        checks.append(("bench", "estimate vs CUDA peak, every case", value, f"<= {100 * ESTIMATE_LIMIT:.0f}%",
                       verdict(over == 0)))  # fmt: skip
    return checks


def judged(value, ok: bool) -> str:
    return "not measured" if value is None else ("met" if ok else "NOT met")


def run_results(out: Path, estimate: dict) -> dict:
    """The monitored comparison: per method its CUDA peaks (events), the estimate, and what nvidia-smi saw."""
    events = []
    if (out / "events.jsonl").is_file():
        for line in (out / "events.jsonl").read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                events.append(json.loads(line))
    methods: dict[str, dict] = {}
    run_method = {e["run_id"]: e["method"] for e in events if e["type"] == "run_started"}
    for e in events:
        method = run_method.get(e.get("run_id", ""))
        if method is None:
            continue
        m = methods.setdefault(method, {"finished": False, "max_step_reserved_bytes": 0})
        if e["type"] == "phase_memory" and e["phase"] == "train":
            m["train_peak_bytes"] = e["memory"]["peak_allocated_bytes"]
            m["train_reserved_bytes"] = e["memory"]["peak_reserved_bytes"]
        elif e["type"] == "train_step" and e["memory"].get("reserved_bytes"):
            m["max_step_reserved_bytes"] = max(m["max_step_reserved_bytes"], e["memory"]["reserved_bytes"])
        elif e["type"] == "run_finished":
            m["finished"] = True
        elif e["type"] == "error":
            m["error"] = f"{e['kind']}: {e['message']}"
    for row in estimate.get("rows", []):  # ladderlab estimate --json
        if row.get("method") in methods:
            methods[row["method"]]["estimate_bytes"] = row["peak_bytes"]
    return {"methods": methods, "events": len(events), "nvidia_smi": smi_samples(out / "nvidia-smi.csv")}


def smi_samples(path: Path) -> dict:
    if not path.is_file():
        return {"samples": 0}
    with open(path, encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("used_mib")]
    used = [float(r["used_mib"]) for r in rows]
    return {
        "samples": len(rows),
        "max_used_mib": max(used, default=None),
        "min_used_mib": min(used, default=None),
        "total_mib": float(rows[0]["total_mib"]) if rows else None,
    }


def run_checks(run: dict) -> list[tuple]:
    checks = []
    for method, m in run["methods"].items():
        checks.append(("run", f"{method} trains on CUDA", "finished" if m["finished"] else m.get("error", "stopped"),
                       "finished", verdict(m["finished"])))  # fmt: skip
        peak, predicted = m.get("train_peak_bytes"), m.get("estimate_bytes")
        if peak and predicted:
            error = predicted / peak - 1
            value = f"{100 * error:+.1f}% ({predicted / MIB:.0f} vs {peak / MIB:.0f} MiB)"
            checks.append(("run", f"{method} estimate vs train peak", value, f"<= {100 * ESTIMATE_LIMIT:.0f}%",
                           verdict(abs(error) <= ESTIMATE_LIMIT)))  # fmt: skip
    smi = run["nvidia_smi"]
    reserved = max((m["max_step_reserved_bytes"] for m in run["methods"].values()), default=0) / MIB
    if smi["samples"]:
        value = f"{smi['samples']} samples, max used {smi['max_used_mib']:.0f} MiB vs max reserved {reserved:.0f} MiB"
        checks.append(("run", "nvidia-smi (GPU monitor) sees the run", value, "used >= reserved",
                       verdict(reserved > 0 and smi["max_used_mib"] >= reserved)))  # fmt: skip
    elif run["methods"]:
        checks.append(("run", "nvidia-smi (GPU monitor) sees the run", "no samples", "samples", "NOT met"))
    return checks


def format_table(checks: list[tuple]) -> str:
    widths = [max([len(h)] + [len(str(c[i])) for c in checks]) for i, h in enumerate(HEADER)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(c, widths, strict=True)) for c in checks]
    met = sum(c[4] == "met" for c in checks)
    missed = sum(c[4] == "NOT met" for c in checks)
    lines.append(f"{met} met, {missed} NOT met, {len(checks) - met - missed} not run or not measured")
    return "\n".join(lines)


HEADER = ("area", "check", "value", "target", "verdict")


def scrub(text: str, repo: Path) -> str:
    """No machine paths in results: the repository becomes '.', anything under /tmp or /work '<path>'."""
    text = text.replace(str(repo) + "/", "").replace(str(repo), ".")
    return re.sub(r"/(?:tmp|work)/[^\s\"',)\]]*", "<path>", text)


def scrub_files(out: Path, repo: Path) -> None:
    for name in ("log.txt", "events.jsonl", "bench-fp32.json", "bench-bf16.json"):
        path = out / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            if (clean := scrub(text, repo)) != text:
                path.write_text(clean, encoding="utf-8")
