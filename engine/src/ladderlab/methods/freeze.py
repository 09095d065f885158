"""``freeze_layers=N`` for the baselines (Adapter, LoRA, BitFit, full fine-tuning): the LST paper's Figure 6 compares
LST with N side layers dropped against baselines whose first N backbone layers are frozen with their inserted modules
removed, so that backpropagation stops at layer N and costs no memory below it.

Layers are counted across the stacks in order: a T5's encoder blocks, then its decoder blocks (as the paper counts
them). The frozen part is everything that runs before the first trainable layer: the token embeddings (with their
position embeddings and norm), the first N blocks, and a stack whose blocks are all frozen (T5's encoder, with its
final norm). Nothing is inserted there (no adapter, no LoRA module, no zero bias) and nothing there trains, so no
activation below layer N requires a gradient and autograd saves none of them. On T5 the LM head shares the token
embedding matrix (tie_word_embeddings), so under full fine-tuning it is frozen with the embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..backbone_rules import freeze_layers_problem
from ..errors import BadInput


@dataclass(frozen=True)
class FrozenPart:
    """What ``freeze_layers`` freezes in one task model: its modules and their names (module paths in the model)."""

    names: tuple[str, ...]
    modules: tuple[nn.Module, ...]
    layers: frozenset[int]  # id() of the frozen blocks: where a method inserts nothing

    def holds(self, name: str) -> bool:
        """Whether the module or parameter ``name`` (a path in the task model) lies in the frozen part."""
        return any(name == part or name.startswith(part + ".") for part in self.names)

    def freeze(self) -> None:
        """No parameter of the frozen part trains (call it last: after the method made its own choices)."""
        for module in self.modules:
            for p in module.parameters():
                p.requires_grad_(False)


NOTHING_FROZEN = FrozenPart((), (), frozenset())


def frozen_part(family, model: nn.Module, n: int) -> FrozenPart:
    """The first ``n`` layers of ``model`` (an unwrapped task model) and what runs before them."""
    if n == 0:
        return NOTHING_FROZEN
    problem = freeze_layers_problem(n, model.config)
    if problem is not None:
        raise BadInput(*problem)
    chosen: list[nn.Module] = list(family.embeddings(model))
    layers: list[nn.Module] = []
    left = n
    for stack in family.stacks(model):
        blocks = list(stack.layers)[:left]
        layers += blocks
        left -= len(blocks)
        # a wholly frozen stack freezes with what follows its blocks (T5's final norm), which feeds the next stack
        chosen += [stack.module] if len(blocks) == len(stack.layers) else blocks
        if left == 0:
            break
    names = {id(m): name for name, m in model.named_modules()}
    return FrozenPart(tuple(names[id(m)] for m in chosen), tuple(chosen), frozenset(id(b) for b in layers))
