"""Prompt tuning trains its prompt vectors at prompt tuning's rate (3e-1) and a new task head at a head rate (3e-4
unless prompt_head_lr says otherwise): one group for both sent the fresh classifier to 3e-1, which is why prompt
tuning sat at chance on the BERT-family backbone (issue 12, item 1)."""

from __future__ import annotations

from helpers import build_method
from ladderlab.backbones import load_backbone
from ladderlab.config import BASE_LR
from ladderlab.data import task_spec
from ladderlab.step import make_optimizer


def _groups(backbone, task, **overrides) -> list[tuple[float, set[str]]]:
    model, exp = build_method(backbone, task, "prompt", prompt_tokens=4, **overrides)
    _, optimizer, _ = make_optimizer(model, exp.lr_for("prompt"), 0.0, 0, 10)
    names = {id(p): n for n, p in model.trainable_named_parameters().items()}
    return [(g["lr"], {names[id(p)] for p in g["params"]}) for g in optimizer.param_groups]


def test_prompt_vectors_and_the_new_head_get_their_own_rates(minilm, sst2):
    (prompt_lr, prompts), (head_lr, head) = _groups(minilm, sst2)
    assert prompt_lr == 0.3 and all("prompt_encoder" in n for n in prompts)
    assert head_lr == BASE_LR and head and all("classifier" in n for n in head)
    (_, _), (head_lr, _) = _groups(minilm, sst2, prompt_head_lr=1e-3)
    assert head_lr == 1e-3


def test_t5_prompt_tuning_has_only_the_prompt_group():
    """T5 answers through its frozen LM head: nothing but the prompt vectors trains, so one group."""
    t5 = load_backbone("preset:t5-tiny")

    class Task:
        spec = task_spec("sst2")

    [(lr, names)] = _groups(t5, Task)
    assert lr == 0.3 and all("prompt_encoder" in n for n in names)
