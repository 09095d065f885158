"""The measuring subcommands of the CLI: ``ladderlab estimate`` (before a run) and ``ladderlab bench``.

ladderlab estimate --config my.ladder.json [--gpu-memory 24]      each method's predicted training peak
ladderlab bench                                                  GPU: T5-base, batch 100; CPU: tiny shapes
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import BadInput

COMMANDS = ("estimate", "bench")


def add_parsers(sub, add_experiment_flags) -> None:
    text = "predict each method's training peak memory (parameters, gradients, optimizer, activations) before a run"
    p = sub.add_parser(
        "estimate",
        help=text,
        description=text + "; no weights are loaded, and the training data is only tokenised to find the longest "
        "batch the run will see (max_length when the data cannot be read)",
    )
    add_experiment_flags(p)
    p.add_argument(
        "--gpu-memory",
        type=float,
        default=None,
        metavar="GIB",
        help="GPU size for the fits / does-not-fit verdict (default: this machine's GPU, if any)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")

    text = "measure peak memory and step time of every method side by side (ratios to full fine-tuning and LoRA)"
    p = sub.add_parser("bench", help=text, description=text)
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    p.add_argument(
        "--backbone", default=None, help="default: preset:t5-base on a GPU (the paper's shape), preset:t5-tiny on a CPU"
    )
    p.add_argument("--batch-size", type=int, default=None, help="default: 100 on a GPU, 8 on a CPU")
    p.add_argument("--max-length", type=int, default=None, help="input tokens; default: 128 on a GPU, 32 on a CPU")
    p.add_argument(
        "--keep-layers",
        default=None,
        help="LST side layers (0-based); default: the paper's 1,2,3,5,6,7,9,10,11 for 12 layers",
    )
    p.add_argument("--r", type=int, default=8, help="LST reduction factor (default 8)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of interleaved cases (default 3)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per case (default 2)")
    p.add_argument("--steps", type=int, default=4, help="timed steps per case (default 4)")
    p.add_argument(
        "--precisions", default=None, help="fp32 and/or bf16 (autocast); default: both on a GPU, fp32 on a CPU"
    )
    p.add_argument("--variants", default=None, help="LST variants to run (default: all); e.g. paper,all")
    p.add_argument("--no-estimate", action="store_true", help="skip the estimator's prediction per case")
    p.add_argument("--out", default="bench/results", help="folder for <date>-<gpu>.json (default bench/results)")
    p.add_argument("--json", action="store_true", help="print the result JSON instead of the table")


def main(args: argparse.Namespace, experiment_from_args) -> int:
    try:
        if args.command == "estimate":
            return _estimate(args, experiment_from_args(args))
        return _bench(args)
    except BadInput as e:
        print(f"ladderlab: error: {e.message}" + (f"\n  hint: {e.hint}" if e.hint else ""), file=sys.stderr)
        return 2


def _estimate(args, exp) -> int:
    from .estimate import estimate_all, format_estimate

    if args.gpu_memory is not None and not 0 < args.gpu_memory < 10_000:
        raise BadInput(f"--gpu-memory must be a size in GiB, got {args.gpu_memory}")
    result = estimate_all(exp, args.gpu_memory)
    print(json.dumps(result, indent=2) if args.json else format_estimate(result))
    return 0


def _bench(args) -> int:
    from .bench import PAPER_KEEP, format_bench, run_bench, write_results
    from .config import build_experiment
    from .devices import resolve_device

    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    text = args.precisions or ("fp32,bf16" if gpu else "fp32")
    precisions = [p.strip() for p in text.split(",") if p.strip()]
    if not precisions or any(p not in ("fp32", "bf16") for p in precisions):
        raise BadInput(f"--precisions takes fp32 and/or bf16, got {args.precisions!r}")
    for name in ("rounds", "steps"):
        if getattr(args, name) < 1:
            raise BadInput(f"--{name} must be at least 1")
    backbone = args.backbone or ("preset:t5-base" if gpu else "preset:t5-tiny")
    values = {
        "backbone": backbone,
        "batch_size": args.batch_size or (100 if gpu else 8),
        "max_length": args.max_length or (128 if gpu else 32),
        "r": args.r,
        "device": str(device),
        "keep_layers": args.keep_layers,
        "lora_rank": 32,
        "adapter_size": 48,
        "prompt_tokens": 100,
    }
    exp = build_experiment({}, values)
    if exp.keep_layers is None:
        from .backbones import load_backbone

        layers = load_backbone(backbone).num_layers
        exp.keep_layers = PAPER_KEEP if layers == 12 else [i for i in range(layers) if i % 4]
    variants = [v.strip() for v in args.variants.split(",")] if args.variants else None

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = run_bench(
        exp,
        device,
        rounds=args.rounds,
        warmup=args.warmup,
        steps=args.steps,
        precisions=precisions,
        variants=variants,
        estimate=not args.no_estimate,
        log=log,
    )
    path = write_results(args.out, result)
    print(json.dumps(result, indent=2) if args.json else format_bench(result))
    print(f"ladderlab: results written to {path}", file=sys.stderr)
    return 0
