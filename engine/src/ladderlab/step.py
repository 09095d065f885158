"""One training step, the same everywhere: the training loop, the benchmark and the memory estimator.

The estimator predicts a method's peak by running exactly this step on fake tensors, so whatever the loop
does (loss in fp32, gradient clipping, AdamW, the LR schedule) is what gets predicted and measured.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from transformers import get_linear_schedule_with_warmup

from .data.instruct import IGNORE, is_instruct
from .data.types import TaskSpec
from .devices import Autocast
from .families.llama import LOSS_POSITIONS, LOSS_TARGETS
from .methods.base import MethodModel


def loss_for(spec: TaskSpec):
    """The task's loss, computed in fp32 whatever the forward ran in: MSE for regression, else cross-entropy.
    Labels of shape (B, T) are target token ids (T5 in the paper's text-to-text format, STS-B too: its score is
    generated as text): cross-entropy per target token over the vocabulary logits (B, T, V), the padding (-100)
    ignored, as transformers' own seq2seq loss."""
    task_loss = F.mse_loss if spec.is_regression else F.cross_entropy

    def loss(logits, labels):
        if labels.dim() == 2:
            return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
        if is_instruct(spec):  # at LOSS_POSITIONS: (N, V) logits, (N,) next tokens (at_loss_positions)
            return F.cross_entropy(logits.float(), labels)
        return task_loss(logits.float(), labels.float() if spec.is_regression else labels.long())

    return loss


def make_optimizer(model: MethodModel, lr: float, weight_decay: float, warmup_steps: int, total_steps: int):
    """AdamW over the trainable parameters, in the method's groups (``lr`` unless a group names its own rate), and
    the linear warm-up/decay schedule (which scales every group's rate alike)."""
    groups = model.optimizer_groups(lr)
    params = [p for group in groups for p in group["params"]]
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    return params, optimizer, get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)


def training_step(
    model,
    batch: dict,
    loss_fn,
    params,
    optimizer,
    scheduler,
    max_grad_norm: float,
    autocast: Autocast,
    before_backward=None,
    forward_context=None,
) -> torch.Tensor:
    """Forward (under autocast), backward, clip, optimizer and scheduler step, gradients freed.
    ``before_backward(loss)`` may check the loss (e.g. stop on NaN) before any parameter changes;
    ``forward_context`` wraps the forward (the training loop's saved-bytes meter)."""
    with forward_context or contextlib.nullcontext(), autocast():
        loss = step_loss(model, with_loss_positions(model, batch), loss_fn)
    if before_backward is not None:
        before_backward(loss)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def step_loss(model, batch: dict, loss_fn) -> torch.Tensor:
    """The training loss of ``batch`` (as ``with_loss_positions`` gives it): a 0-dim output is the loss the family's
    head computed itself (the LM head chunked with the cross-entropy, families/llama.head_loss), else ``loss_fn`` of
    the logits."""
    output = model(batch)
    return output if output.dim() == 0 else loss_fn(*at_loss_positions(output, batch))


def with_loss_positions(model, batch: dict) -> dict:
    """Token labels (B, L) name where the loss reads the logits; a family that can (``logits_at_loss_positions``:
    the Llama class) then runs its LM head only there, on the flat indices ``LOSS_POSITIONS`` (N,). Instruction
    tuning's response is a fraction of the batch and the vocabulary is 32k-256k wide; with the next tokens there
    (``LOSS_TARGETS``) the family computes the loss with the head a chunk at a time (``head_loss``). The loss and
    gradients equal the all-positions ones (tests/test_estimate_llm.py). A batch that names its positions already keeps
    them (the estimator's synthetic batch: on fake tensors a mask's positions have no size)."""
    labels = batch.get("labels")
    family = getattr(model, "family", None)
    if labels is None or labels.dim() != 2 or not getattr(family, "logits_at_loss_positions", False):
        return batch
    positions = batch.get(LOSS_POSITIONS)
    if positions is None:
        positions = (labels.flatten() != IGNORE).nonzero().squeeze(1)
    return {**batch, LOSS_POSITIONS: positions, LOSS_TARGETS: labels.flatten()[positions]}


def at_loss_positions(logits: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels) as the loss reads them: at ``LOSS_POSITIONS`` when the batch names them, (N, V) and (N,)."""
    labels, positions = batch["labels"], batch.get(LOSS_POSITIONS)
    if positions is None:
        return logits, labels
    if logits.dim() == 3:  # a forward that computed every position (PEFT's prompt methods)
        logits = logits.flatten(0, 1)[positions]
    return logits, labels.flatten()[positions]


def synthetic_batch(backbone, spec, batch_size: int, length: int, device, response_tokens: int | None = None) -> dict:
    """A full-length batch of in-vocabulary token ids (memory and speed do not depend on which ids). Instruction
    tuning: each row's last ``response_tokens`` positions are the response the loss reads (default: half the row)."""
    vocab = min(backbone.tokenizer.vocab_size, _vocab_size(backbone.config))
    ids = torch.randint(1000 if vocab > 2000 else 1, vocab, (batch_size, length), device=device)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if "token_type_ids" in backbone.tokenizer.model_input_names:
        batch["token_type_ids"] = torch.zeros_like(ids)
    if is_instruct(spec):  # causal LM: the next token on the response, -100 on the prompt (data/instruct.py)
        response = length // 2 if response_tokens is None else min(response_tokens, length)
        batch["labels"] = ids.clone()
        batch["labels"][:, : length - response] = IGNORE
        rows = torch.arange(batch_size, device=device)[:, None] * length
        batch[LOSS_POSITIONS] = (rows + torch.arange(length - response, length, device=device)).flatten()
    elif spec.is_regression:
        batch["labels"] = torch.rand(batch_size, device=device) * 5
    else:
        batch["labels"] = torch.randint(0, spec.num_labels, (batch_size,), device=device)
    return batch


def _vocab_size(config) -> int:
    return int(getattr(config, "vocab_size", 30522))
