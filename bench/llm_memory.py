"""Decoder-LLM training memory (issue 14, part 3): the estimator's peaks for LST, LoRA, QLoRA and full fine-tuning in
the three settings where the field's memory results stand, next to their published anchors.

    .venv/bin/python bench/llm_memory.py                  # every setting (about 7 minutes on 2 busy CPU cores)
    .venv/bin/python bench/llm_memory.py --only peft-3b   # one setting
    .venv/bin/python bench/llm_memory.py --check          # exit 1 when a target of the issue is not met

Every figure is an ESTIMATE (``ladderlab estimate``'s trace on fake tensors: exact bytes of parameters, gradients,
optimizer states, tensors saved for backward and transients, no allocator slack and no CUDA context) until the GPU
check measures it. Preset shapes have random weights; memory does not depend on the values. All rows train under
bf16 autocast with AdamW, on a batch as long as the setting's length (no padding saved), the loss on the response
only: the last half of each row, where the LM head runs, a chunk of positions at a time together with the
cross-entropy (families/llama.head_loss: one chunk's logits live at once), for every method alike. The backbone's
layers are not checkpointed but in the rows that say so; LST checkpoints its side network's layers (only them:
``side_checkpointing``, on by default for decoder LLMs), and one row shows LST without it.

Weights: "bf16 weights" is how PEFT's method comparison loads the model (frozen weights in bf16; full fine-tuning
trains bf16 weights with bf16 AdamW states); "fp32 weights" is how a Ladder Lab LoRA / full run keeps them today.
LST stores its frozen backbone in bf16 (``backbone_dtype=bf16``) with bf16 taps (``tap_dtype``); its side network
trains in fp32. nf4 rows model bitsandbytes' 4-bit storage (estimate_quant.py) with the unquantised parts (embeddings,
norms, LM head) as the run keeps them: fp32 for QLoRA (PEFT's k-bit preparation), bf16 for LST.

Writes bench/results/llm-memory-<date>.json (no machine paths).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import peft
import torch
import transformers

from ladderlab.backbones import load_backbone
from ladderlab.config import build_experiment
from ladderlab.data import instruct
from ladderlab.devices import Autocast
from ladderlab.estimate import estimate_run, fits
from ladderlab.methods import BUILDERS
from ladderlab.step import loss_for, make_optimizer, synthetic_batch, training_step

HERE = Path(__file__).resolve().parent
DOC = __doc__ or ""
GIB = 2**30
BASELINES = ("LoRA r=32", "LoRA r=32, checkpointed", "QLoRA r=32", "QLoRA r=32, checkpointed", "full")
COMMON = {"task": "instruct", "precision": "bf16", "backbone_dtype": "bf16", "tap_dtype": "bf16", "lora_rank": 32}

# (label, method, fields, bf16_weights, what the row assumes[, gradient checkpointing])
LST = ("LST r=8", "lst", {}, False, "backbone bf16, taps bf16, side fp32 checkpointed")
LST_SIDE_KEPT = ("LST r=8, side not checkpointed", "lst", {"side_checkpointing": "off"}, False, "as LST r=8, side kept")
LST16 = ("LST r=16", "lst", {"r": 16}, False, LST[4])
# The paper's LST drops a quarter of the side layers on T5-base (Table 5: layers 0, 4, 8 of 12); the same pattern on
# Llama-3.2-3B's 28 layers drops 0, 4, ..., 24 and keeps 21 side blocks (and their ladders and taps).
LST_DROP = (
    "LST r=8, 21 of 28 side layers",
    "lst",
    {"keep_layers": [i for i in range(28) if i % 4]},
    False,
    "as LST r=8, layers 0, 4, ..., 24 dropped (Table 5's pattern)",
)
LST_NF4 = ("LST r=8 over nf4", "lst", {"backbone_quant": "nf4"}, False, "backbone nf4 (+ bf16 embeddings/head)")
LST16_NF4 = ("LST r=16 over nf4", "lst", {"backbone_quant": "nf4", "r": 16}, False, LST_NF4[4])
LORA = ("LoRA r=32", "lora", {}, True, "bf16 weights (as PEFT's comparison)")
LORA_CKPT = ("LoRA r=32, checkpointed", "lora", {}, True, "bf16 weights + gradient checkpointing", True)
LORA_FP32 = ("LoRA r=32, fp32 weights", "lora", {}, False, "fp32 weights (a Ladder Lab run today)")
QLORA = ("QLoRA r=32", "lora", {"backbone_quant": "nf4"}, False, "nf4 + fp32 embeddings/norms/head (k-bit prep)")
QLORA_CKPT = (
    "QLoRA r=32, checkpointed",
    "lora",
    {"backbone_quant": "nf4"},
    False,
    "as QLoRA + gradient checkpointing (the QLoRA paper's setting)",
    True,
)
FULL = ("full", "full", {}, True, "bf16 weights and AdamW states (as PEFT's comparison)")
FULL_FP32 = ("full, fp32 weights", "full", {}, False, "fp32 weights and states (a Ladder Lab run today)")

SETTINGS = {
    "peft-3b": {
        "what": "PEFT's method comparison: Llama-3.2-3B, batch 4, 768 tokens",
        "backbone": "preset:llama-3.2-3b",
        "batch_size": 4,
        "max_length": 768,
        "rows": [LST, LST_SIDE_KEPT, LST_DROP, LST16, LORA, LORA_CKPT, QLORA, QLORA_CKPT, FULL, LORA_FP32, FULL_FP32],
        "anchors": {"LoRA r=32": 22.3e9, "full": 37.2e9},  # PEFT's MetaMathQA results, bytes, on an L40S
        "anchor_source": "PEFT method_comparison (MetaMathQA, Llama-3.2-3B, L40S): LoRA r=32 22.3 GB, full 37.2 GB",
        "targets": [
            ("LST r=8", "<=", 0.5, "LoRA r=32"),
            ("LST r=8, 21 of 28 side layers", "<=", 0.5, "LoRA r=32"),
            ("LST r=16", "<=", 0.5, "LoRA r=32"),
        ],
    },
    "ladder-8b": {
        "what": "Llama-3.1-8B, 4-bit backbone, batch 1, 2,048 tokens ('Ladder Up, Memory Down': 7B in 12 GB)",
        "backbone": "preset:llama-3.1-8b",
        "batch_size": 1,
        "max_length": 2048,
        "rows": [LST_NF4, LST16_NF4, QLORA, QLORA_CKPT, LORA],
        "anchors": {},
        "anchor_source": "Ladder Up, Memory Down (2025): LST-style side tuning of 7B decoders at 2k context in 12 GB",
        "targets": [
            ("LST r=8 over nf4", "<=", 0.5, "QLoRA r=32"),
            ("LST r=8 over nf4", "<= GiB", 10.0, None),
            ("LST r=16 over nf4", "<=", 0.5, "QLoRA r=32"),
            ("LST r=16 over nf4", "<= GiB", 10.0, None),
        ],
    },
    "qst-70b": {
        "what": "Llama-70B shape, 4-bit backbone, batch 4 x 512 tokens, one 80 GB card (QST)",
        "backbone": "preset:llama-70b",
        "batch_size": 4,
        "max_length": 512,
        "rows": [LST16_NF4, LST_NF4, QLORA_CKPT],
        "seconds": ("LST r=16 over nf4", 120),  # the estimator's usual time (issue 14): one estimate of the 70B shape
        "anchors": {"LST r=16 over nf4": 56e9},
        "anchor_source": "QST (ACL 2024): side-tuning LLaMA-2-70B over a 4-bit backbone, about 56 GB",
        "targets": [
            ("LST r=16 over nf4", "fits", 80e9, None),  # with the verdict's margins: allocator slack, CUDA context
            ("LST r=8 over nf4", "fits", 80e9, None),
        ],
    },
}


def estimate_row(setting: dict, row: tuple) -> dict:
    label, method, fields, bf16_weights, assumes, *checkpointing = row
    exp = build_experiment(
        {},
        {
            **COMMON,
            "backbone": setting["backbone"],
            "batch_size": setting["batch_size"],
            "max_length": setting["max_length"],
            "methods": [method],
            "device": "cpu",
            **fields,
        },
    )
    length, rows = setting["max_length"], setting["batch_size"]
    start = time.perf_counter()
    assumed = (length // 2, bf16_weights, bool(checkpointing and checkpointing[0]))
    result = estimate_run(exp, method, torch.device("cpu"), length, rows, *assumed)
    return {
        "label": label,
        "method": method,
        "assumes": assumes,
        "backbone_quant": exp.backbone_quant,
        "r": exp.r if method == "lst" else None,
        "peak_bytes": result["peak_bytes"],
        "peak_gib": round(result["peak_bytes"] / GIB, 2),
        "components_gib": {k: round(v / GIB, 2) for k, v in result["components"].items()},
        "estimate_seconds": round(time.perf_counter() - start, 1),
    }


def check(target: tuple, by_label: dict) -> dict:
    label, op, bound, against = target
    peak = by_label[label]["peak_bytes"]
    if op == "<=":
        ratio = peak / by_label[against]["peak_bytes"]
        return {"target": f"{label} <= {bound}x {against}", "value": round(ratio, 3), "met": ratio <= bound}
    if op == "fits":  # estimate.fits: the peak with allocator slack and the CUDA context on a card of ``bound`` bytes
        verdict = fits(peak, int(bound), torch.device("cuda")) or {}
        needs = round(verdict.get("needed_bytes", 0) / GIB, 2)
        return {
            "target": f"{label} fits one {bound / 1e9:.0f} GB card",
            "value": needs,
            "met": bool(verdict.get("fits")),
        }
    return {"target": f"{label} <= {bound:.1f} GiB", "value": round(peak / GIB, 2), "met": peak / GIB <= bound}


def run_setting(name: str, setting: dict) -> dict:
    rows = []
    for row in setting["rows"]:
        rows.append(estimate_row(setting, row))
        print(f"  {rows[-1]['label']:<26} {rows[-1]['peak_gib']:>7.2f} GiB  ({rows[-1]['estimate_seconds']} s)")
    by_label = {r["label"]: r for r in rows}
    for r in rows:  # ratios against the baselines measured in the same run
        r["ratio_to"] = {
            base: round(r["peak_bytes"] / by_label[base]["peak_bytes"], 3) for base in BASELINES if base in by_label
        }
        anchor = setting["anchors"].get(r["label"])
        r["anchor_gib"] = None if anchor is None else round(anchor / GIB, 2)
    return {
        "setting": name,
        "what": setting["what"],
        "backbone": setting["backbone"],
        "batch_size": setting["batch_size"],
        "tokens": setting["max_length"],
        "response_tokens": setting["max_length"] // 2,
        "anchor_source": setting["anchor_source"],
        "rows": rows,
        "targets": [check(t, by_label) for t in setting["targets"]] + timing(setting, by_label),
    }


def timing(setting: dict, by_label: dict) -> list[dict]:
    if "seconds" not in setting:
        return []
    label, bound = setting["seconds"]
    seconds = by_label[label]["estimate_seconds"]
    return [{"target": f"{label} estimated in <= {bound} s", "value": seconds, "met": seconds <= bound}]


def side_checkpointing_seconds(steps: int = 10) -> dict[str, float]:
    """Fastest seconds of one real LST training step on CPU, the tiny Llama preset at r=4, 4 x 256 tokens, the side
    kept ("off") or checkpointed ("on"): what recomputing the side in the backward costs. The two alternate step by
    step and each keeps its fastest, so a busy machine slows both alike."""
    cpu = torch.device("cpu")
    runs = {}
    for mode in ("off", "on"):
        fields = {"backbone": "preset:llama-tiny", "task": "instruct", "methods": ["lst"], "device": "cpu", "r": 4}
        exp = build_experiment({}, {**fields, "side_checkpointing": mode, "init": "random"})
        backbone = load_backbone(exp.backbone)
        torch.manual_seed(0)
        model = BUILDERS["lst"](backbone, backbone.new_task_model(instruct.SPEC, 0), exp).train()
        params, optimizer, scheduler = make_optimizer(model, 1e-4, 0.0, 0, steps + 2)
        batch = synthetic_batch(backbone, instruct.SPEC, 4, 256, cpu)
        runs[mode] = (
            model,
            batch,
            loss_for(instruct.SPEC),
            params,
            optimizer,
            scheduler,
            1.0,
            Autocast.of(cpu, "fp32"),
        )
    best = {mode: float("inf") for mode in runs}
    for step in range(steps + 2):  # two warm-up steps each
        for mode, run in runs.items():
            start = time.perf_counter()
            training_step(*run)
            if step >= 2:
                best[mode] = min(best[mode], round(time.perf_counter() - start, 4))
    return best


def table(result: dict) -> str:
    lines = [
        f"{result['what']} (estimates, GiB)",
        "| method | assumes | peak GiB | vs LoRA | vs LoRA ckpt | vs QLoRA | vs QLoRA ckpt | vs full | published |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        ratio = [r["ratio_to"].get(b) for b in BASELINES]
        cells = ["" if x is None else f"{x:.2f}x" for x in ratio]
        anchor = "" if r["anchor_gib"] is None else f"{r['anchor_gib']:.1f}"
        lines.append(f"| {r['label']} | {r['assumes']} | {r['peak_gib']:.2f} | " + " | ".join(cells) + f" | {anchor} |")
    for t in result["targets"]:
        lines.append(f"target {t['target']}: {t['value']} -> {'met' if t['met'] else 'NOT met'}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--only", choices=sorted(SETTINGS), action="append", help="run only these settings (the file keeps the others)"
    )
    ap.add_argument("--out", default=None, help="the JSON file (default bench/results/llm-memory-<date>.json)")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target of the issue is not met")
    args = ap.parse_args()
    step = side_checkpointing_seconds()
    step_time = {"what": " ".join((side_checkpointing_seconds.__doc__ or "").split(":")[0].split()), "seconds": step}
    print(f"LST step on CPU, tiny Llama: side kept {step['off']} s, side checkpointed {step['on']} s")
    results = []
    for name in args.only or list(SETTINGS):
        print(f"{name}: {SETTINGS[name]['what']}")
        results.append(run_setting(name, SETTINGS[name]))
        print(table(results[-1]) + "\n")
    date = datetime.date.today().isoformat()
    out = Path(args.out) if args.out else HERE / "results" / f"llm-memory-{date}.json"
    if args.only and out.exists():  # keep the settings not run this time, in their order
        ran = {r["setting"]: r for r in results}
        kept = [ran.pop(r["setting"], r) for r in json.loads(out.read_text())["settings"]]
        results = kept + list(ran.values())
    out.write_text(
        json.dumps(
            {
                "what": "training peak per method, ESTIMATED by ladderlab's estimator (fake tensors), not measured",
                "assumptions": " ".join(
                    ("Every figure is an" + DOC.split("Every figure is an")[1]).split("Writes")[0].split()
                ),
                "date": date,
                "versions": {
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "peft": peft.__version__,
                    "python": platform.python_version(),
                },
                "side_checkpointing_step_time": step_time,
                "settings": results,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {out.name}")
    missed = [t["target"] for r in results for t in r["targets"] if not t["met"]]
    print("targets: all met" if not missed else "targets NOT met: " + "; ".join(missed))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
