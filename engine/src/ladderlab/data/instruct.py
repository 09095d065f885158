"""Causal-LM instruction tuning (``--task instruct``): a JSONL file of ``prompt``/``response`` objects, or of chat
``messages`` (``[{"role": ..., "content": ...}, ...]``, the last one the assistant's answer) written through the
tokenizer's own chat template.

Each example is the prompt's tokens then the response's (ending in the tokenizer's end token); ``labels`` are the
NEXT token at each position where that token belongs to the response and -100 elsewhere, so the per-token
cross-entropy of the training loop (step.loss_for) is the loss on the response tokens only, read from the logits
the family returns for every position. Evaluation (``instruct_eval.py``) reports that per-token loss and the exact
match of the greedily generated answer against the reference response.

Splits: like a ``file`` task, 10% held out for test and 10% for validation (seeded).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .types import TaskData, TaskSpec

TASK = "instruct"
SPEC = TaskSpec(name=TASK, labels=None, metrics=("exact_match", "token_loss"), main_metric="score")
IGNORE = -100  # positions the loss skips (torch's cross_entropy ignore_index)
FORMAT_HINT = 'write one JSON object per line: {"prompt": "...", "response": "..."} or {"messages": [{"role": ...}]}'


def is_instruct(spec: TaskSpec) -> bool:
    return spec.name == TASK


@dataclass(frozen=True)
class InstructExample:
    prompt: str | None
    response: str | None
    messages: tuple[tuple[str, str], ...] | None  # (role, content) pairs; the last is the answer
    label = None  # splits.sample stratifies by label: instruction data has none (one seeded shuffle)


def read(path: str) -> list[InstructExample]:
    """The examples of a JSONL file; a line that is neither form is a BadInput naming it."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise BadInput(f"instruction data file not found: {file}", FORMAT_HINT + " (a .jsonl file)")
    examples = []
    with file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                examples.append(_example(line, f"{file}:{number}"))
    if len(examples) < 3:
        raise BadInput(
            f"{file} has {len(examples)} examples", "instruction tuning needs at least 3 (train, validation, test)"
        )
    return examples


def _example(line: str, where: str) -> InstructExample:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadInput(f"{where}: not JSON ({e.msg})", FORMAT_HINT) from None
    if isinstance(row, dict) and isinstance(row.get("prompt"), str) and isinstance(row.get("response"), str):
        return InstructExample(row["prompt"], row["response"], None)
    messages = row.get("messages") if isinstance(row, dict) else None
    if isinstance(messages, list) and len(messages) >= 2 and all(_is_message(m) for m in messages):
        if messages[-1]["role"] != "assistant":
            raise BadInput(
                f"{where}: the last message is {messages[-1]['role']!r}", "end each chat with the assistant's answer"
            )
        return InstructExample(None, None, tuple((m["role"], m["content"]) for m in messages))
    raise BadInput(f"{where}: neither prompt/response strings nor a messages list", FORMAT_HINT)


def _is_message(m) -> bool:
    return isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)


def load(data: str | None, *, seed: int, max_train: int | None, max_eval: int | None) -> TaskData:
    from . import userfile  # the file task's split rule, 10% test and 10% validation

    if data is None:
        raise BadInput("task instruct needs a data file", FORMAT_HINT + ", and pass it as --data")
    return userfile.split(SPEC, read(data), [], seed=seed, max_train=max_train, max_eval=max_eval)  # type: ignore[arg-type]


def check_backbone(family: str, methods) -> None:
    """Instruction tuning needs a decoder LLM (families/llama.py); prompt tuning's virtual tokens are not placed yet."""
    if family != "llama":
        raise BadInput(
            f"task instruct trains a decoder LLM (Llama, Mistral, Qwen2/3, Gemma); this backbone's family is {family}",
            "choose such a checkpoint, or a preset such as preset:llama-3.2-1b (random weights)",
        )
    if "prompt" in methods:
        raise BadInput("task instruct does not support prompt tuning yet", "remove prompt from methods")


def token_ids(example: InstructExample, tokenizer) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids ending in the end token). Chats: the template applied to the messages before the
    answer with the generation prompt, and to the whole chat; the answer is what the second adds to the first."""
    if example.messages is None:
        prompt = tokenizer(example.prompt)["input_ids"]
        if not prompt:
            raise BadInput("an instruction example has an empty prompt", "give every example a prompt")
        return prompt, tokenizer(example.response, add_special_tokens=False)["input_ids"] + [end_token(tokenizer)]
    if not getattr(tokenizer, "chat_template", None):
        raise BadInput(
            "the backbone's tokenizer has no chat template, so chat messages cannot be written as tokens",
            'use a chat model\'s tokenizer (tokenizer_config.json "chat_template"), or prompt/response lines',
        )
    messages = [{"role": role, "content": content} for role, content in example.messages]
    prompt = _ids(tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=True))
    whole = _ids(tokenizer.apply_chat_template(messages, tokenize=True))
    if whole[: len(prompt)] != prompt or len(whole) == len(prompt):
        raise BadInput(
            "the tokenizer's chat template does not write a chat as its prompt followed by the answer",
            "use prompt/response lines for this tokenizer",
        )
    return prompt, whole[len(prompt) :]


def _ids(encoded) -> list[int]:
    """apply_chat_template's ids: a list, or (transformers 5) a BatchEncoding holding them."""
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def end_token(tokenizer) -> int:
    """The token that ends a response: the tokenizer's end-of-sequence (WordPiece tokenizers: their [SEP])."""
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if eos is None:
        raise BadInput("the backbone's tokenizer has no end-of-sequence token", "use a causal LM's own tokenizer")
    return eos


def encode(examples: list, tokenizer, max_length: int) -> list[dict]:
    """Training features of InstructExamples (a TaskData's lists hold them for this task): the whole example;
    labels = next token on the response, -100 elsewhere. Over ``max_length`` the prompt loses its start (the
    response is kept whole as far as it fits)."""
    features = []
    for example in examples:
        prompt, response = token_ids(example, tokenizer)
        prompt = prompt[-max(1, max_length - len(response)) :]  # at least one token predicts the response's first
        response = response[: max_length - len(prompt)]
        ids = prompt + response
        labels = [IGNORE] * (len(prompt) - 1) + response + [IGNORE]
        features.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    return features


def generation_inputs(examples: list, tokenizer, max_length: int) -> tuple[list[dict], list[str]]:
    """What generation starts from (the prompt, its last ``max_length`` tokens) and each reference answer's text."""
    prompts, references = [], []
    for example in examples:
        prompt, response = token_ids(example, tokenizer)
        prompts.append({"input_ids": prompt[-max_length:], "attention_mask": [1] * len(prompt[-max_length:])})
        references.append(answer_text(tokenizer, response))
    return prompts, references


def answer_text(tokenizer, ids: list[int]) -> str:
    """A response as compared for exact match: up to the end token, special tokens dropped, whitespace collapsed."""
    end = end_token(tokenizer)
    ids = ids[: ids.index(end)] if end in ids else ids
    return " ".join(tokenizer.decode(ids, skip_special_tokens=True).split())


# answer_extraction (config.py): what of a response exact match compares
FULL, LAST_NUMBER = "full", "last_number"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def answer_extractor(spec: str) -> Callable[[str], str | None]:
    """The answer of a response text (``answer_text``'s form), or None where it has none (never a match):
    ``full`` the whole text; ``last_number`` its last number, thousands commas dropped and a whole number written
    without decimals (GSM8K's worked solution "... #### 1,200" and a generated "1200.0" agree); otherwise a regular
    expression with one group, whose first match's group is the answer (stripped)."""
    if spec == FULL:
        return lambda text: text
    if spec == LAST_NUMBER:
        return _last_number
    try:
        pattern = re.compile(spec)
    except re.error as e:
        raise BadInput(
            f"answer_extraction: {spec!r} is not a regular expression ({e})",
            'use "full", "last_number", or a regular expression with one group, e.g. "#### (.+)"',
        ) from None
    if pattern.groups != 1:
        raise BadInput(
            f"answer_extraction: the regular expression {spec!r} has {pattern.groups} groups",
            'give it exactly one (...) group around the answer, e.g. "#### (.+)"; (?:...) groups do not count',
        )

    def by_pattern(text: str) -> str | None:
        match = pattern.search(text)
        return None if match is None or match.group(1) is None else match.group(1).strip()

    return by_pattern


def _last_number(text: str) -> str | None:
    numbers = _NUMBER.findall(text)
    if not numbers:
        return None
    number = numbers[-1].replace(",", "")
    whole, _, fraction = number.partition(".")
    return whole if not fraction.strip("0") else f"{whole}.{fraction.rstrip('0')}"


def answers_match(generated: str, reference: str, extract: Callable[[str], str | None]) -> bool:
    """Exact match of the two answers as ``extract`` reads them; a text without an answer matches nothing."""
    answer = extract(generated)
    return answer is not None and answer == extract(reference)
