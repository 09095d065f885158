"""Prompt tuning on SST-2 with the embedded MiniLM: a short sweep of the prompt rate and the head rate.

    .venv/bin/python bench/prompt_tuning_sweep.py --data ../shared/data/glue/SST-2            # the sweep
    .venv/bin/python bench/prompt_tuning_sweep.py --data ../shared/data/glue/SST-2 --probe    # + what the head can read

--probe first measures what each way of pooling gives a linear probe (scikit-learn's logistic regression) with the
prompts at their initialisation and the backbone frozen: the frozen pooler over position 0 (what PEFT's forward fed
the head before issue 12's fix: a prompt vector), the pooler over the real [CLS] (position prompt_tokens), the raw
[CLS] state, and the mean of the real tokens' states (what the encoder family reads now). That is why the head reads
the mean (families/encoder.py).

Splits as the engine's (paper §4): validation = held out from train (best epoch), test = the official dev set.
Writes bench/results/prompt-tuning-sweep-<date>-cpu.json with the machine's load average before and after (the
machine is shared: times are not comparable across runs, accuracies are).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from ladderlab.comparison import prepare
from ladderlab.config import build_experiment
from ladderlab.data import load_task
from ladderlab.events import EventSink
from ladderlab.families.base import masked_mean, prompted_inputs
from ladderlab.methods import BUILDERS
from ladderlab.train import Run

HERE = Path(__file__).resolve().parent


def sweep(base, rates: list[float], head_lrs: list[float]) -> list[dict]:
    backbone, data = prepare(base)
    rows = []
    for rate, head_lr in itertools.product(rates, head_lrs):
        exp = dataclasses.replace(base, lrs={"prompt": rate}, prompt_head_lr=head_lr)
        started = time.time()
        try:
            summary = Run(exp, "prompt", backbone, data, EventSink("quiet")).execute()
        except Exception as e:  # a diverged rate is a result of the sweep, not a reason to stop it
            rows.append({"prompt_lr": rate, "head_lr": head_lr, "failed": str(e)})
            print(f"prompt lr {rate:g}, head lr {head_lr:g}: failed: {e}", flush=True)
            continue
        rows.append(
            {
                "prompt_lr": rate,
                "head_lr": head_lr,
                "validation_accuracy": summary["validation_metrics"]["accuracy"],
                "test_accuracy": summary["metrics"]["accuracy"],
                "best_epoch": summary["best_epoch"],
                "trainable_pct": summary["trainable_pct"],
                "seconds": round(time.time() - started, 1),
            }
        )
        r = rows[-1]
        print(
            f"prompt lr {rate:g}, head lr {head_lr:g}: val {r['validation_accuracy']:.2f} "
            f"test {r['test_accuracy']:.2f} ({r['seconds']:.0f} s)",
            flush=True,
        )
    return rows


@torch.no_grad()
def pooled_views(model, backbone, examples, max_length: int, with_prompts: bool) -> dict[str, np.ndarray]:
    """Each pooling's (N, d) features for the examples, prompts (if any) at their initialisation."""
    task_model = model.model.base_model  # BertForSequenceClassification under PEFT
    bert = task_model.base_model
    views: dict[str, list[torch.Tensor]] = {"pooler_position_0": [], "pooler_cls": [], "cls": [], "mean": []}
    for i in range(0, len(examples), 50):
        batch = backbone.tokenizer(
            [e.text_a for e in examples[i : i + 50]],
            truncation=True,
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        )
        if with_prompts:
            embeds, mask, token_types = prompted_inputs(model.model, batch)
        else:  # the plain backbone: the same views without prompts (a zero-length prompt is not allowed)
            embeds = model.model.word_embeddings(batch["input_ids"])
            mask, token_types = batch["attention_mask"], batch.get("token_type_ids")
        hidden = bert(inputs_embeds=embeds, attention_mask=mask, token_type_ids=token_types).last_hidden_state
        n = hidden.shape[1] - batch["input_ids"].shape[1]
        views["pooler_position_0"].append(bert.pooler(hidden))
        views["pooler_cls"].append(bert.pooler(hidden[:, n:]))
        views["cls"].append(hidden[:, n])
        views["mean"].append(masked_mean(hidden[:, n:], batch["attention_mask"]))
    return {k: torch.cat(v).numpy() for k, v in views.items()}


def probe(data: str, prompt_tokens: list[int], examples: int, max_length: int) -> list[dict]:
    from ladderlab.backbones import load_backbone

    backbone = load_backbone("default")
    task = load_task("sst2", data, seed=0, max_train_examples=examples, max_eval_examples=examples)
    y_fit, y_held = [e.label for e in task.train], [e.label for e in task.validation]
    rows = []
    for n in prompt_tokens:
        torch.manual_seed(0)
        exp = build_experiment({}, {"methods": "prompt", "prompt_tokens": max(n, 1)})
        model = BUILDERS["prompt"](backbone, backbone.new_task_model(task.spec, 0), exp)
        model.eval()
        fit, held = (pooled_views(model, backbone, split, max_length, n > 0) for split in (task.train, task.validation))
        for view in fit:
            clf = LogisticRegression(max_iter=2000).fit(fit[view], y_fit)
            rows.append(
                {
                    "prompt_tokens": n,
                    "pooling": view,
                    "probe_accuracy": round(clf.score(held[view], y_held) * 100, 1),
                    "spread": round(float(fit[view].std(0).mean()), 4),  # mean per-feature std across sentences
                }
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the GLUE SST-2 folder (train.tsv, dev.tsv)")
    parser.add_argument("--train", type=int, default=1000, help="training examples (seeded subset)")
    parser.add_argument("--eval", type=int, default=500, help="validation examples (held out from train)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=100)
    parser.add_argument("--rates", default="3e-2,1e-1,3e-1", help="prompt vectors' learning rates")
    parser.add_argument("--head-lrs", default="3e-4,3e-3", help="the task head's learning rates")
    parser.add_argument("--probe", action="store_true", help="measure each pooling with a linear probe first")
    parser.add_argument("--probe-examples", type=int, default=300)
    parser.add_argument("--runs-dir", default=".ladderlab/bench-runs")
    parser.add_argument(
        "--out", type=Path, default=HERE / "results" / f"prompt-tuning-sweep-{time.strftime('%Y-%m-%d')}-cpu.json"
    )
    args = parser.parse_args()
    # where the runs and the result went is this machine's business, not a setting of the measurement
    settings = {k: v for k, v in vars(args).items() if k not in ("runs_dir", "out")}
    result: dict = {"load_average_before": os.getloadavg(), "settings": settings}
    if args.probe:
        result["probe"] = probe(
            args.data, list(dict.fromkeys([0, 20, 100, args.prompt_tokens])), args.probe_examples, args.max_length
        )
    base = build_experiment(
        {},
        {
            "methods": "prompt",
            "task": "sst2",
            "data": args.data,
            "max_train_examples": args.train,
            "max_eval_examples": args.eval,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "prompt_tokens": args.prompt_tokens,
            "runs_dir": args.runs_dir,
        },
    )
    result["rows"] = sweep(
        base, [float(x) for x in args.rates.split(",")], [float(x) for x in args.head_lrs.split(",")]
    )
    result["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
