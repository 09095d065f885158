"""init=distillation: the side network initialised by distilling the frozen backbone into it before the task (the
LST paper §2.2 and Figure 8, after Side-Tuning), on the task's own training text, for ``distill_steps`` steps of
``batch_size`` examples. Its cost is its own phase, ``distillation_init``.

The student is the side network ALONE: the embedding downsample, the side blocks and the upsample, with the ladders
from the backbone's intermediate layers switched off (``LadderSideNetwork.ladders_on``) — with them on, the student
could copy the teacher's states through the ladders and learn nothing. What it learns (paper: "a sub-network that
contains critical information of the backbone"):
- T5 (an LM head): the paper's objective, T5's span corruption (span_corruption.py) on the training text — the
  student predicts the masked spans (cross-entropy) and matches the teacher's output distribution over the
  vocabulary at every target position (KL divergence), both through the frozen LM head, summed;
- a backbone without an LM head (BERT-family encoders and GPT-2 as sequence classifiers here): the student's
  upsampled last states match the teacher's last states (mean squared error over real tokens).
The per-layer ladders, gates and fusion layers keep their construction-time init; the task then trains everything.
AdamW at LST's learning rate, gradients clipped as in training; the backbone runs under no_grad (it is the teacher).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ... import stop
from ...data.text2text import LABEL_PAD
from ...families.seq2seq import _decoder_ids
from . import span_corruption

# The side network alone (see the module docstring); "embeddings." is side_network compression's own table.
STUDENT_PREFIXES = ("side.", "down_embed.", "embeddings.", "up.")


def training_examples(features: list[dict], count: int, seed: int) -> list[dict]:
    """``count`` training examples for the distillation: seeded passes over the training set, as many as needed."""
    generator = torch.Generator().manual_seed(seed)
    chosen: list[dict] = []
    while len(chosen) < count:
        chosen.extend(features[i] for i in torch.randperm(len(features), generator=generator).tolist())
    return chosen[:count]


def student_parameters(lst: nn.Module) -> dict[str, nn.Parameter]:
    return {n: p for n, p in lst.named_parameters() if n.startswith(STUDENT_PREFIXES)}


def fingerprint(params: dict[str, nn.Parameter]) -> str:
    """Hash of the student's starting weights (names, shapes, values): the init cache key's part for everything
    that shapes the student (r, heads, side blocks, seed), whatever field set it."""
    h = hashlib.sha256()
    for name, p in sorted(params.items()):
        h.update(f"{name}:{tuple(p.shape)}:{p.dtype}".encode())
        h.update(p.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def initialize(lst, batches: Iterable[dict], *, cache=None, progress: Callable[[int], None] | None = None) -> None:
    """Distil into ``lst``'s side network, or take the result of an earlier run with the same inputs from ``cache``
    (an ``InitCache``; its key then also covers the student's starting weights)."""
    params = student_parameters(lst)
    if cache is not None:
        cache.depend_on(student=fingerprint(params))
        saved = cache.load_tensors()
        if saved is not None and set(saved) == set(params):
            with torch.no_grad():
                for name, p in params.items():
                    p.copy_(saved[name])
            return
        cache.hit = False
    distill(lst, batches, progress=progress, **lst.distill_settings)
    if cache is not None:
        cache.store_tensors(dict(params))


def distill(
    lst,
    batches: Iterable[dict],
    *,
    lr: float,
    max_grad_norm: float,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> list[float]:
    """Train the student on each batch once; returns the objective per step (before that step's update).
    Its dropout draws from its own seeded RNG stream, and the caller's stream is left as it was: the task's training
    then draws the same dropout masks whether the distillation ran or came from the init cache."""
    device = next(iter(student_parameters(lst).values())).device
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        return _distill(lst, batches, lr=lr, max_grad_norm=max_grad_norm, seed=seed, progress=progress)


def _distill(lst, batches: Iterable[dict], *, lr: float, max_grad_norm: float, seed: int, progress) -> list[float]:
    params = student_parameters(lst)
    optimizer = torch.optim.AdamW(params.values(), lr=lr, weight_decay=0.0)
    objective = _lm_objective(lst, seed) if lst.family.name == "seq2seq" else _hidden_objective(lst)
    was_training = lst.training
    lst.train()
    lst.ladders_on = False
    losses: list[float] = []
    try:
        for batch in batches:
            stop.check()  # a stop asked for during the init is honoured between steps
            loss = objective(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(params.values()), max_grad_norm)
            optimizer.step()
            losses.append(loss.item())
            if progress is not None:
                progress(len(batch["input_ids"]))
    finally:
        lst.ladders_on = True
        lst.train(was_training)
    for p in params.values():
        p.grad = None
    return losses


def _reads_embedding_taps(lst) -> bool:
    """False for side_network compression, whose side has embeddings of its own (and no downsample to read)."""
    return isinstance(getattr(lst, "down_embed", None), nn.ModuleDict)


def _teacher_taps(lst, run: Callable[[], None]) -> dict[str, dict]:
    """Run the frozen backbone (``run``) with the tap hooks on: the taps of every stack (its embedding input
    among them), nothing kept for backward."""
    taps: dict[str, dict] = {s.name: {} for s in lst.stack_infos}
    lst._taps = taps
    try:
        with torch.no_grad():
            run()
    finally:
        lst._taps = None
    return taps


def _student_states(lst, taps: dict[str, dict], batch: dict) -> torch.Tensor:
    """The student's upsampled last states (B, L, d): the side network on the embedding taps alone."""
    lst._taps = taps  # the side blocks' hooks see a forward under way (ladders_on is off: they leave h alone)
    try:
        if _reads_embedding_taps(lst):
            return lst.up(lst.side_alone(batch, taps))
        return lst.up(lst._side_hidden(batch, taps))  # side_network compression: its own embeddings of the batch
    finally:
        lst._taps = None


def _hidden_objective(lst) -> Callable[[dict], torch.Tensor]:
    """Match the last stack's final states (after its final norm where the family has one)."""
    last = lst.stack_infos[-1].module
    final: list[torch.Tensor] = []

    def keep_output(_module, _args, output):
        final.append(output[0] if isinstance(output, (tuple, list)) else output.last_hidden_state)

    def objective(batch: dict) -> torch.Tensor:
        final.clear()
        handle = last.register_forward_hook(keep_output)
        try:
            taps = _teacher_taps(lst, lambda: lst.family.run_backbone(lst.model, batch))
        finally:
            handle.remove()
        teacher = final[-1].float()
        student = _student_states(lst, taps, batch)
        mask = batch["attention_mask"].to(student.dtype).unsqueeze(-1)
        return ((student - teacher) ** 2 * mask).sum() / (mask.sum() * student.shape[-1])

    return objective


def _lm_objective(lst, seed: int) -> Callable[[dict], torch.Tensor]:
    """T5: span corruption's cross-entropy plus KL to the teacher's distribution, at the target positions."""
    model, tokenizer = lst.model, lst.tokenizer
    config = model.config
    special = set(tokenizer.all_special_ids) | {config.pad_token_id, config.eos_token_id}
    generator = torch.Generator().manual_seed(seed)

    def objective(batch: dict) -> torch.Tensor:
        ids = batch["input_ids"]
        sentinels = span_corruption.sentinel_ids(tokenizer, config.vocab_size, span_corruption.max_spans(ids.shape[1]))
        pairs = span_corruption.corrupt(
            ids.cpu(),
            batch["attention_mask"].cpu(),
            special_ids=special,
            sentinels=sentinels,
            eos_id=config.eos_token_id,
            pad_id=config.pad_token_id,
            generator=generator,
        )
        pairs = {k: v.to(ids.device) for k, v in pairs.items()}
        labels = pairs["labels"]
        # teacher forcing as the family does it for the paper's text-to-text format (targets shifted right); with
        # decoder_input_ids the family's side head gives every position's vocabulary logits, and side_network
        # compression's own embeddings read the same decoder tokens
        student_batch = {**pairs, "decoder_input_ids": _decoder_ids(config, pairs)}
        decoder_ids = student_batch["decoder_input_ids"]
        teacher: list[torch.Tensor] = []

        def run_teacher():
            out = model(
                input_ids=pairs["input_ids"],
                attention_mask=pairs["attention_mask"],
                decoder_input_ids=decoder_ids,
                use_cache=False,
            )
            teacher.append(out.logits.float())

        taps = _teacher_taps(lst, run_teacher)
        student = lst.family.side_head(model, _student_states(lst, taps, student_batch), student_batch).float()
        real = labels != LABEL_PAD
        ce = F.cross_entropy(student[real], labels[real])
        # KL(teacher || student) summed over the vocabulary, averaged over target positions (batchmean)
        log_student, log_teacher = F.log_softmax(student[real], -1), F.log_softmax(teacher[0][real], -1)
        kl = F.kl_div(log_student, log_teacher, log_target=True, reduction="batchmean")
        return ce + kl

    return objective
