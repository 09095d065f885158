"""``ladderlab generate RUN_DIR``: text from a finished instruction-tuning run (``--task instruct``), one answer per
prompt, for as many prompts as stdin brings. The extension's Try Model panel keeps one such worker per causal-LM
run: an ONNX graph of a decoder whose backbone and LST side network each keep a key/value cache is not exported,
so the engine (PyTorch) generates.

    stdin   one JSON object a line: {"prompt": "..."} or {"messages": [{"role": "user", "content": "..."}, ...]},
            optionally "max_new_tokens", and "stream": true for the text so far after each token
    stdout  first {"ready": true, "method", "task", "chat", "max_new_tokens", "device"} once the model is loaded, then
            one line per request: {"text", "tokens", "seconds"} or, for a bad request, {"error", "hint"} (the worker
            goes on); a streamed request first gets {"partial": text so far, "tokens"} lines, one per token

A prompt is written as the run's training wrote it (data/instruct.py): plain text, or through the tokenizer's chat
template when the run trained on chat messages (a plain prompt then becomes one user message). Decoding is greedy
with key/value caches (families/llama.py ``generate_ids``, the method's own forward) on ``--device`` (auto: the GPU
when there is one), over the backbone as the run trained it (a 4-bit backbone is loaded 4-bit again). A run that
cannot be loaded is an error on stderr with exit 2, like ``ladderlab export``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

COMMAND = "generate"
DEFAULT_NEW_TOKENS = 128
MAX_NEW_TOKENS = 4096
REQUEST_HINT = 'send one JSON object a line: {"prompt": "..."} or {"messages": [{"role": "user", "content": "..."}]}'


def add_parser(sub) -> None:
    text = "generate text from a finished instruction-tuning run, for prompts read as JSON lines on stdin"
    p = sub.add_parser(COMMAND, help=text, description=text + "; one JSON line per answer on stdout")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run folder (config.json and trainable.safetensors)")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=DEFAULT_NEW_TOKENS,
        metavar="N",
        help=f"longest answer in tokens, unless a request says otherwise (default {DEFAULT_NEW_TOKENS})",
    )
    p.add_argument(
        "--device",
        default="auto",
        metavar="DEVICE",
        help="where the model runs: auto (CUDA when there is one, else the CPU), cpu, cuda or cuda:N (default auto)",
    )


def main(args: argparse.Namespace, report) -> int:
    """``report(None, fields)`` prints a failure to load the run and returns its exit status (cli._report)."""
    from .errors import BadInput, error_fields

    try:
        if not 1 <= args.max_new_tokens <= MAX_NEW_TOKENS:
            raise BadInput(
                f"--max-new-tokens must be between 1 and {MAX_NEW_TOKENS}, got {args.max_new_tokens}",
                f"e.g. --max-new-tokens {DEFAULT_NEW_TOKENS}",
            )
        generator = Generator(args.run_dir, args.device)
    except Exception as e:
        return report(None, error_fields(e))
    _write(
        {
            "ready": True,
            "method": generator.method,
            "task": "instruct",
            "chat": generator.chat,
            "max_new_tokens": args.max_new_tokens,
            "device": str(generator.device),
        }
    )
    for line in sys.stdin:
        if line.strip():
            _write(generator.answer_line(line, args.max_new_tokens, on_partial=_write))
    return 0


def _write(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()  # the reader waits for each line; a pipe would otherwise hold it in a buffer


class Generator:
    """A finished instruct run's model and tokenizer, loaded once (export.load_run: the backbone, the method's
    builder, then its trained weights)."""

    def __init__(self, run_dir: str, device: str = "auto"):
        from .data import instruct
        from .devices import resolve_device
        from .errors import BadInput
        from .export import load_run

        config = Path(run_dir) / "config.json"
        task = json.loads(config.read_text(encoding="utf-8")).get("task") if config.is_file() else None
        if task is not None and task != instruct.TASK:  # load_run says what is wrong with a folder that has none
            raise BadInput(
                f"{Path(run_dir).name} is a {task} run; generate reads runs of task instruct (causal LM)",
                "try a classification run's model through its ONNX export (ladderlab export RUN_DIR)",
            )
        self.device = resolve_device(device)
        exp, backbone, _, self.model = load_run(run_dir, self.device)
        self.method, self.max_length = self.model.method, exp.max_length
        self.tokenizer = backbone.tokenizer
        self.end = instruct.end_token(self.tokenizer)
        pad = self.tokenizer.pad_token_id  # one prompt a call: padding only fills a finished row, any token does
        self.pad = int(pad) if isinstance(pad, int) else self.end
        self.chat = _trained_on_chat(exp.data)

    def answer_line(self, line: str, default_new_tokens: int, on_partial=None) -> dict:
        """One request line -> its answer, or the reason it has none; a request with "stream": true passes
        ``on_partial`` the text so far after each token."""
        from .errors import error_fields

        try:
            prompt, new_tokens, stream = _request(line, default_new_tokens)
            return self.answer(prompt, new_tokens, on_partial if stream else None)
        except Exception as e:  # a bad request (or a crash on one) is reported, and the next prompt still answered
            fields = error_fields(e)
            return {"error": fields["message"], "hint": fields.get("hint") or REQUEST_HINT}

    def answer(self, prompt: str | list[dict], max_new_tokens: int, on_partial=None) -> dict:
        import torch

        from .families.llama import generate_ids

        ids = self.prompt_ids(prompt)[-self.max_length :]  # as evaluation cuts it (data/instruct.generation_inputs)
        batch = {
            "input_ids": torch.tensor([ids], device=self.device),
            "attention_mask": torch.ones(1, len(ids), dtype=torch.long, device=self.device),
        }

        def streamed(ids: torch.Tensor) -> None:  # the text so far, after each token
            if on_partial is not None:
                on_partial({"partial": self.text(ids[0].tolist()), "tokens": ids.shape[1]})

        start = time.perf_counter()
        with torch.no_grad():
            on_token = streamed if on_partial is not None else None
            out = generate_ids(self.model, batch, max_new_tokens, self.end, self.pad, on_token)[0].tolist()
        seconds = time.perf_counter() - start
        return {"text": self.text(out), "tokens": len(out), "seconds": round(seconds, 4)}

    def text(self, ids: list[int]) -> str:
        """The answer in generated ids: up to the end token, decoded."""
        answer = ids[: ids.index(self.end)] if self.end in ids else ids
        return str(self.tokenizer.decode(answer, skip_special_tokens=True)).strip()

    def prompt_ids(self, prompt: str | list[dict]) -> list[int]:
        """The prompt's tokens as training wrote them (data/instruct.token_ids): plain, or the chat template up to
        the assistant's turn."""
        from .data import instruct
        from .errors import BadInput

        if isinstance(prompt, str) and not self.chat:
            return self.tokenizer(prompt)["input_ids"]
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        if not getattr(self.tokenizer, "chat_template", None):
            raise BadInput(
                "the backbone's tokenizer has no chat template, so chat messages cannot be written as tokens",
                'send {"prompt": "..."} instead',
            )
        return instruct._ids(self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))


def _request(line: str, default_new_tokens: int) -> tuple[str | list[dict], int, bool]:
    from .errors import BadInput

    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadInput(f"a request is not JSON ({e.msg})", REQUEST_HINT) from None
    if not isinstance(row, dict):
        raise BadInput("a request is not a JSON object", REQUEST_HINT)
    new_tokens = row.get("max_new_tokens", default_new_tokens)
    if isinstance(new_tokens, bool) or not isinstance(new_tokens, int) or not 1 <= new_tokens <= MAX_NEW_TOKENS:
        raise BadInput(f"max_new_tokens must be a whole number from 1 to {MAX_NEW_TOKENS}", "or leave it out")
    stream = row.get("stream", False)
    if not isinstance(stream, bool):
        raise BadInput("stream must be true or false", "or leave it out")
    prompt, messages = row.get("prompt"), row.get("messages")
    if isinstance(prompt, str) and prompt.strip():
        return prompt, new_tokens, stream
    if (
        isinstance(messages, list)
        and messages
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
        and all(isinstance(m.get("content"), str) for m in messages)
    ):
        return [{"role": m["role"], "content": m["content"]} for m in messages], new_tokens, stream
    raise BadInput("a request has neither a non-empty prompt nor a list of chat messages", REQUEST_HINT)


def _trained_on_chat(data: str | None) -> bool:
    """Whether the run's data file is chat messages (its first example); a file gone since training: plain prompts."""
    if data is None or not Path(data).expanduser().is_file():
        return False
    with Path(data).expanduser().open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                try:
                    first = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(first, dict) and "messages" in first
    return False
