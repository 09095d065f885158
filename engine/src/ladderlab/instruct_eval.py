"""Evaluation of instruction tuning (``--task instruct``, data/instruct.py), for every method alike.

- ``token_loss``: the mean cross-entropy per response token, teacher-forced (what training minimises);
- ``exact_match`` (0-100): the share of prompts whose greedy answer (families/llama.py ``generate_ids``: the method's
  own forward with key/value caches, so LST decodes through its side network) equals the reference response, both
  cut at the end token, special tokens dropped and whitespace collapsed, then each read by the experiment's
  ``answer_extraction`` (data/instruct.py ``answer_extractor``: the whole text, its last number, or a regex group);
- ``score``, which picks the best epoch: exact match, ties broken by the lower loss. The loss adds
  (100 / (n + 1)) / (1 + token_loss), less than one example's share of exact match (100 / n), so it never outweighs one
  more right answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import stop
from .data import instruct
from .families.llama import generate_ids


@dataclass
class InstructEval:
    """Per evaluated split: the prompts to generate from and the reference answers (data/instruct.py)."""

    prompts: dict[str, list[dict]]
    references: dict[str, list[str]]
    tokenizer: object
    extract: Callable[[str], str | None]  # the answer of a response (answer_extraction)


def prepare(task, tokenizer, max_length: int, answer_extraction: str = instruct.FULL) -> InstructEval:
    prompts, references = {}, {}
    for split in ("validation", "test"):
        prompts[split], references[split] = instruct.generation_inputs(getattr(task, split), tokenizer, max_length)
    return InstructEval(prompts, references, tokenizer, instruct.answer_extractor(answer_extraction))


@torch.no_grad()
def evaluate(model, data, split: str, batch_size: int, autocast) -> dict[str, float]:
    """The split's metrics; ``data`` is the run's SharedData (its ``instruct`` holds the prompts)."""
    model.eval()
    token_sum, tokens = 0.0, 0
    for batch in data.batcher.batches(data.features[split], batch_size):
        stop.check()
        with autocast():
            logits = model(batch).float()
        token_sum += F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), reduction="sum").item()
        tokens += int((batch["labels"] != instruct.IGNORE).sum())
    loss = token_sum / max(tokens, 1)
    answers = generated_answers(model, data, split, batch_size, autocast)
    references = data.instruct.references[split]
    matches = [instruct.answers_match(a, r, data.instruct.extract) for a, r in zip(answers, references, strict=True)]
    exact = 100.0 * sum(matches) / max(len(references), 1)
    return {"exact_match": exact, "token_loss": loss, "score": exact + (100.0 / (len(references) + 1)) / (1.0 + loss)}


def generated_answers(model, data, split: str, batch_size: int, autocast) -> list[str]:
    """The greedy answer to each prompt of the split, as ``instruct.answer_text`` writes it."""
    tokenizer = data.instruct.tokenizer
    end, pad = instruct.end_token(tokenizer), tokenizer.pad_token_id
    # two tokens past the longest reference (its end token, one more) decide every match: longer answers cannot match
    longest = max(
        (len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in data.instruct.references[split]), default=0
    )
    answers: list[str] = []
    for batch in data.batcher.batches(data.instruct.prompts[split], batch_size):
        stop.check()
        with autocast():
            ids = generate_ids(model, batch, longest + 2, end, pad)
        answers.extend(instruct.answer_text(tokenizer, row) for row in ids.tolist())
    return answers
