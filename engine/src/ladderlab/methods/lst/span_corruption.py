"""T5's pre-training objective (Raffel et al. 2020, §3.1.4) on the task's own token ids, for init=distillation.

About 15% of each example's text tokens, in spans of mean length 3, are cut out of the input and each span replaced
by one sentinel token; the target lists the sentinels, each followed by the tokens it replaced, then end-of-sequence:
    input  "the <X> sat on <Y> ."        target  "<X> cat <Y> the mat </s>"
Special tokens ([CLS], [SEP], </s>) and padding are never cut. transformers ships no span-corruption collator (only
its Flax example script has one), hence this small one.

Sentinels: the tokenizer's own ``<extra_id_N>`` tokens when it has them (every T5 checkpoint); otherwise the model's
vocabulary rows above the tokenizer's last id, from the top down (T5's own convention: <extra_id_0> is the highest
id), which no text maps to. A backbone with neither cannot be distilled this way: BadInput.
"""

from __future__ import annotations

import torch

from ...errors import BadInput

NOISE_DENSITY = 0.15  # T5's defaults
MEAN_SPAN = 3


def sentinel_ids(tokenizer, vocab_size: int, count: int) -> list[int]:
    """``count`` sentinel token ids (see the module docstring)."""
    unk = tokenizer.unk_token_id
    own = [tokenizer.convert_tokens_to_ids(f"<extra_id_{i}>") for i in range(count)]
    if all(i is not None and i != unk for i in own):
        return own
    free = vocab_size - len(tokenizer)
    if free < count:
        raise BadInput(
            f"init=distillation on a T5 backbone needs {count} sentinel tokens for span corruption, but its "
            f"tokenizer has no <extra_id_N> tokens and only {max(free, 0)} vocabulary rows are unused",
            "use a T5 checkpoint with its own tokenizer, or init fisher/magnitude",
        )
    return [vocab_size - 1 - i for i in range(count)]


def max_spans(length: int) -> int:
    """The most spans one example of ``length`` tokens gets (how many sentinels a batch may need)."""
    return max(1, round(length * NOISE_DENSITY / MEAN_SPAN))


def _noise_spans(n: int, generator: torch.Generator) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans covering about NOISE_DENSITY of n positions, in order."""
    spans: list[tuple[int, int]] = []
    length = max(1, min(MEAN_SPAN, round(n * NOISE_DENSITY)))  # a short example loses one token, not all of them
    for start in sorted(torch.randperm(n, generator=generator)[: max_spans(n)].tolist()):
        if spans and start <= spans[-1][1]:  # touching or overlapping the previous span: merge them
            spans[-1] = (spans[-1][0], max(spans[-1][1], min(n, start + length)))
        else:
            spans.append((start, min(n, start + length)))
    return spans


def corrupt(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    special_ids: set[int],
    sentinels: list[int],
    eos_id: int,
    pad_id: int,
    generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """A batch of (corrupted input, target) pairs from padded token ids: input_ids, attention_mask (right-padded)
    and labels (-100 at padding, as transformers' losses expect)."""
    inputs, targets = [], []
    for ids, mask in zip(input_ids.tolist(), attention_mask.tolist(), strict=True):
        tokens = [t for t, m in zip(ids, mask, strict=True) if m]
        text_positions = [i for i, t in enumerate(tokens) if t not in special_ids]
        spans = _noise_spans(len(text_positions), generator) if text_positions else []
        cut: dict[int, int] = {}  # token position -> sentinel number (or -1: inside a span, dropped)
        target: list[int] = []
        for s, (start, end) in enumerate(spans):
            target.append(sentinels[s])
            for j in range(start, end):
                cut[text_positions[j]] = s if j == start else -1
                target.append(tokens[text_positions[j]])
        corrupted = []
        for i, t in enumerate(tokens):
            s = cut.get(i)
            if s is None:
                corrupted.append(t)
            elif s >= 0:  # a span's first position: its sentinel; the span's other positions are dropped
                corrupted.append(sentinels[s])
        inputs.append(corrupted)
        targets.append([*target, eos_id])
    return {**_pad(inputs, pad_id, "input_ids", "attention_mask"), "labels": _pad(targets, -100, "labels")["labels"]}


def _pad(rows: list[list[int]], value: int, ids_name: str, mask_name: str | None = None) -> dict[str, torch.Tensor]:
    width = max(len(r) for r in rows)
    out = {ids_name: torch.tensor([r + [value] * (width - len(r)) for r in rows])}
    if mask_name is not None:
        out[mask_name] = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return out
