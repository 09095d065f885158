"""Ladder Side-Tuning (Sung, Cho, Bansal, NeurIPS 2022): model.py builds the side network, pruning.py
initialises it from the backbone. The paper's ablations are fields of the same method: ``side_network``
(variants.py: side-tuning, compression; Figure 8) and ``side_block`` (adapter_side.py; Appendix A)."""

from ...backbone_rules import keep_layers_problem
from ...errors import BadInput
from ..base import MethodModel
from .adapter_side import AdapterSideNetwork
from .model import LadderSideNetwork
from .variants import CompressionNetwork, SideTuningNetwork

NETWORKS = {"ladder": LadderSideNetwork, "side_tuning": SideTuningNetwork, "compression": CompressionNetwork}


def combination_problem(exp) -> BadInput | None:
    """Settings that exclude each other: fusion and adapter blocks are about how ladders enter side blocks, and
    side_tuning and compression have no such ladders."""
    if exp.side_network != "ladder":
        for name, default in (("fusion", "gates"), ("side_block", "transformer")):
            if getattr(exp, name) != default:
                return BadInput(
                    f"{name} {getattr(exp, name)} needs the ladders of side_network ladder, not {exp.side_network} "
                    "(which has no intermediate ladders)",
                    f"set side_network to ladder, or {name} to {default}",
                )
    if exp.side_block == "adapter" and exp.fusion != "gates":
        return BadInput(
            "side_block adapter reads its ladders through gates (the paper's Appendix A), not cross-attention",
            "set fusion to gates with adapter blocks, or side_block to transformer",
        )
    return None


def build(backbone, model, exp) -> MethodModel:
    network = _network(backbone, model, exp)
    if isinstance(network, LadderSideNetwork):
        network.tokenizer = backbone.tokenizer  # init distillation corrupts spans of the task's text (distill.py)
    return network


def _network(backbone, model, exp) -> MethodModel:
    if (bad := combination_problem(exp)) is not None:
        raise bad
    if exp.side_block == "adapter":
        n_layers = len(backbone.family.stacks(model)[0].layers)
        kept = list(exp.keep_layers) if exp.keep_layers is not None else list(range(n_layers))
        if (problem := keep_layers_problem(kept, n_layers)) is not None:  # prepare() checked it already
            raise BadInput(problem.message, problem.hint)
        return AdapterSideNetwork(backbone.family, model, exp, kept)
    return NETWORKS[exp.side_network](backbone.family, model, exp)
