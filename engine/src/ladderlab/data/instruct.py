"""Causal-LM instruction tuning (``--task instruct``): JSONL examples of ``prompt``/``response`` or chat ``messages``.

Filled in below; ``is_instruct`` is what families read to build a causal LM instead of a classifier.
"""

from __future__ import annotations

from .types import TaskSpec

TASK = "instruct"


def is_instruct(spec: TaskSpec) -> bool:
    return spec.name == TASK
