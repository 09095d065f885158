"""Examples -> token ids once per comparison (every method shares them) -> padded batches per step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import DataCollatorForSeq2Seq, DataCollatorWithPadding

from .text2text import TextFormat
from .types import Example, TaskData


def encode(examples: list[Example], tokenizer, max_length: int, text_format: TextFormat | None = None) -> list[dict]:
    """Tokenise a split once; pair tasks are encoded as pairs (the tokenizer adds its own separators).

    With a ``text_format`` (T5 in the paper's format, ``text2text.for_backbone``) each example is one source text
    instead, ``labels`` holds its target token ids (padded to the task's target width) and ``reference`` its
    label (class index or score), which the generated text is scored against."""
    if not examples:
        return []
    if text_format is not None:
        enc = tokenizer([text_format.source(e) for e in examples], truncation=True, max_length=max_length)
        return [
            {**{k: enc[k][i] for k in enc}, "labels": text_format.target_ids(e.label), "reference": e.label}
            for i, e in enumerate(examples)
        ]
    first = [e.text_a for e in examples]
    second = [e.text_b for e in examples] if examples[0].text_b is not None else None
    enc = tokenizer(first, second, truncation=True, max_length=max_length)
    keys = list(enc.keys())
    return [{**{k: enc[k][i] for k in keys}, "labels": e.label} for i, e in enumerate(examples)]


class Batcher:
    """Dynamic padding (each batch padded to its longest member) with transformers' own collator."""

    def __init__(self, tokenizer, device: torch.device):
        self.collate = DataCollatorWithPadding(tokenizer, return_tensors="pt")
        # labels per token of the input (instruction tuning, data/instruct.py): padded with -100 on the input's side
        self.collate_token_labels = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, return_tensors="pt")
        self.device = device

    def batches(self, features: list[dict], batch_size: int, shuffle_seed: int | None = None, skip_batches: int = 0):
        """Batches in a seeded order (the same for the same seed); ``skip_batches`` starts after that many, which
        is how a resumed run continues an epoch exactly where the checkpoint left it."""
        order = list(range(len(features)))
        if shuffle_seed is not None:
            order = torch.randperm(len(features), generator=torch.Generator().manual_seed(shuffle_seed)).tolist()
        for start in range(skip_batches * batch_size, len(order), batch_size):
            rows = [features[i] for i in order[start : start + batch_size]]
            aligned = isinstance(rows[0].get("labels"), list) and len(rows[0]["labels"]) == len(rows[0]["input_ids"])
            batch = (self.collate_token_labels if aligned else self.collate)(rows)
            yield {k: v.to(self.device) for k, v in batch.items()}


@dataclass
class SharedData:
    """What every method of a comparison shares: the task, its tokenised splits and the batcher."""

    task: TaskData
    features: dict[str, list[dict]]  # train / validation / test
    batcher: Batcher
    device: torch.device
    text_format: TextFormat | None = None  # T5 in the paper's text-to-text format: evaluated on generated text
    instruct: Any = None  # instruction tuning: instruct_eval.InstructEval (prompts and reference answers)
