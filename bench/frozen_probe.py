"""What the frozen backbone's features hold for a task: a linear probe (scikit-learn logistic regression on the
mean-pooled last states, standardised, C chosen on validation) on a bench/lst_accuracy.py setting (issue 16).

    .venv/bin/python bench/frozen_probe.py --setting demo-2k    (or sst2, with --glue FOLDER as lst_accuracy.py)

It trains no network, so it bounds what a head alone on the frozen backbone reaches; LST's side network, LoRA and
full fine-tuning are measured against it. Prints train, validation and test accuracy for each C and writes
bench/results/frozen-probe-<setting>-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np
import torch
from lst_accuracy import GLUE, SETTINGS, setting_fields
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sst2_accuracy import prepare

from ladderlab.config import build_experiment
from ladderlab.families.base import masked_mean

HERE = Path(__file__).resolve().parent
C_GRID = [1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0]  # wide: the best C sat at the low end of 0.01..100


@torch.no_grad()
def pooled_features(model, data, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the real tokens' last states (what the heads read under pooling=auto here), and the labels."""
    features, labels = [], []
    for batch in data.batcher.batches(data.features[split], 64):
        states = model.base_model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            token_type_ids=batch.get("token_type_ids"),
        ).last_hidden_state
        features.append(masked_mean(states, batch["attention_mask"]).numpy())
        labels.append(batch["labels"].numpy())
    return np.concatenate(features), np.concatenate(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", default="demo-2k", choices=list(SETTINGS))
    parser.add_argument("--glue", default=GLUE, help="the GLUE folder holding SST-2/ (the sst2 setting)")
    args = parser.parse_args()
    exp = build_experiment({}, {**setting_fields(args.setting, args.glue), "methods": ["lst"]})
    backbone, data = prepare(exp)
    model = backbone.new_task_model(data.task.spec, exp.seed).eval()
    splits = {name: pooled_features(model, data, name) for name in ("train", "validation", "test")}
    rows = []
    for c in C_GRID:
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)).fit(*splits["train"])
        row = {"C": c, **{f"{name}_accuracy": 100 * probe.score(*xy) for name, xy in splits.items()}}
        rows.append(row)
        print(f"C={c:g}: " + "  ".join(f"{k} {v:.1f}" for k, v in row.items() if k != "C"), flush=True)
    best = max(rows, key=lambda r: r["validation_accuracy"])
    print(f"chosen on validation: C={best['C']:g}, test {best['test_accuracy']:.1f}")
    out = HERE / "results" / f"frozen-probe-{args.setting}-{datetime.date.today().isoformat()}.json"
    doc = {"setting": args.setting, "settings": SETTINGS[args.setting], "rows": rows, "chosen": best}
    out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
