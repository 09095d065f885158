"""The LST paper's text-to-text format for T5: how an example is written as input text and its label as target text.

The authors' code (ylsung/Ladder-Side-Tuning, seq2seq/data/tasks.py, inherited from Compacter and T5) writes:

    source  "<task> <field>: <text_a> <field>: <text_b>"   e.g. "sst2 sentence: a gripping film"
                                                                "stsb sentence1: A man plays. sentence2: A man sings."
    target  the class index as text ("0", "1", "2", in GLUE's label order), or for STS-B the score rounded to the
            nearest 0.2 with one decimal ("3.8"): 26 strings from "0.0" to "5.0", a 26-class problem as text.

The model is trained on the target tokens (teacher forcing, cross-entropy per token) and evaluated on what it
generates: the string is parsed back to a class index or a score, and a string that is no label counts as wrong
(``UNKNOWN``), as the reference's metrics do (f1_score_with_invalid, string_to_float's default -1). STS-B's
generated scores are correlated with the gold scores, as every other Ladder Lab run's are; the reference correlates
them with the binned targets (a difference of at most 0.1 per score).

Two deliberate details: MNLI's second field is written "hypothesis" WITHOUT a colon, because the authors' code
does (a slip there, but the numbers we compare with were trained on it); and STS-B is rounded to 0.2 as the
reference's docstring and label list say, where its round_stsb_target rounds to 0.1 by mistake
(np.round((label * 5) / 5, 1)); its generated strings are parsed as floats either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadInput, use_field
from .types import Example, TaskSpec

UNKNOWN = -1  # a generated string that names no class (metrics.compute scores it as a wrong class)
UNKNOWN_SCORE = float(UNKNOWN)  # ... or no number (regression): the reference's string_to_float default, -1
LABEL_PAD = -100  # target positions past the end: ignored by the loss (torch's cross_entropy ignore_index)
STSB_BINS = 26  # 0.0, 0.2, ..., 5.0

# Field names written before each text, per task (the authors' code; HF datasets' column names).
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "sst2": ("sentence:",),
    "cola": ("sentence:",),
    "mnli": ("premise:", "hypothesis"),  # sic: no colon in the authors' code
    "qnli": ("question:", "sentence:"),
    "qqp": ("question1:", "question2:"),
    "rte": ("sentence1:", "sentence2:"),
    "mrpc": ("sentence1:", "sentence2:"),
    "stsb": ("sentence1:", "sentence2:"),
}
# Tasks the paper does not have (imdb, your own file) get the same scheme with generic field names.
SINGLE, PAIR = ("sentence:",), ("sentence1:", "sentence2:")


def bin_score(score: float) -> str:
    """A similarity score as target text: rounded to the nearest 0.2 (T5's np.round(score * 5) / 5; both round
    half to even), one decimal ("3.8")."""
    return f"{round(score * 5) / 5:.1f}"


@dataclass(eq=False)
class TextFormat:
    """One task's text-to-text format with one tokenizer: the strings, their token ids, and the parse back."""

    spec: TaskSpec
    tokenizer: Any  # a transformers tokenizer
    eos_id: int  # the token that ends a target (and generation): the model config's eos_token_id
    targets: tuple[str, ...] = field(init=False)  # every target string the task can have
    target_length: int = field(init=False)  # tokens of the longest target + its end token: labels' padded width

    def __post_init__(self):
        if self.spec.is_regression:
            self.targets = tuple(bin_score(i / 5) for i in range(STSB_BINS))
        else:
            self.targets = tuple(str(i) for i in range(self.spec.num_labels))
        self.target_length = max(len(self._pieces(t)) for t in self.targets) + 1

    @property
    def max_new_tokens(self) -> int:
        """Generation stops here: one token past the longest target's text can only make a string that is no label."""
        return self.target_length

    def fields(self, pair: bool) -> tuple[str, ...]:
        return FIELD_NAMES.get(self.spec.name, PAIR if pair else SINGLE)

    def source(self, example: Example) -> str:
        texts = [example.text_a] if example.text_b is None else [example.text_a, example.text_b]
        parts = [self.spec.name]
        for name, text in zip(self.fields(example.text_b is not None), texts, strict=True):
            parts += [name, text]
        return " ".join(parts)

    def target(self, label: int | float) -> str:
        if self.spec.is_regression:
            if not 0.0 <= label <= 5.0:  # a user's file: the bins are STS-B's scale (its reader checks its own)
                raise BadInput(
                    f"score {label} is outside 0-5, the scale the paper's text-to-text format writes in 0.2 bins",
                    f"rescale the scores to 0-5, or {use_field('t5_format', 'label_words')}",
                )
            return bin_score(float(label))
        return str(int(label))

    def target_ids(self, label: int | float) -> list[int]:
        """The target's tokens, its end token, then LABEL_PAD up to ``target_length`` (one width per task: every
        batch has the same decoder length, which LST's tap cache relies on)."""
        ids = [*self._pieces(self.target(label)), self.eos_id]
        return ids + [LABEL_PAD] * (self.target_length - len(ids))

    def parse(self, text: str) -> int | float:
        """A generated string -> class index or score; UNKNOWN (UNKNOWN_SCORE) when it is none. Whitespace is
        dropped first: no target has any, and a WordPiece tokenizer decodes "3.8" as "3. 8"."""
        text = "".join(text.split())
        if self.spec.is_regression:
            try:
                value = float(text)
            except ValueError:
                return UNKNOWN_SCORE
            return value if math.isfinite(value) else UNKNOWN_SCORE
        return self.targets.index(text) if text in self.targets else UNKNOWN

    def decode(self, generated: list[int]) -> str:
        """Generated ids -> text: up to the first end token, without the tokenizer's special tokens."""
        if self.eos_id in generated:
            generated = generated[: generated.index(self.eos_id)]
        return self.tokenizer.decode(generated, skip_special_tokens=True)

    def _pieces(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def for_backbone(t5_format: str, backbone, spec: TaskSpec) -> TextFormat | None:
    """The format a run on ``backbone`` (a ``backbones.Backbone``) uses: the paper's for T5 (the seq2seq family)
    unless ``t5_format`` is "label_words"; None for every other family (their task heads read the tokenizer's own
    pair encoding)."""
    if backbone.family.name != "seq2seq" or t5_format == "label_words":
        return None
    eos = getattr(backbone.config, "eos_token_id", None)
    eos = backbone.tokenizer.eos_token_id if eos is None else eos
    if eos is None:
        raise BadInput(
            "the T5 backbone's config and tokenizer name no end-of-sequence token, which the paper's text-to-text "
            "format needs to end each target",
            f'set "eos_token_id" in the checkpoint\'s config.json, or {use_field("t5_format", "label_words")}',
        )
    return TextFormat(spec, backbone.tokenizer, int(eos))
