"""Ladder Side-Tuning (Sung, Cho, Bansal, NeurIPS 2022): model.py builds the side network, pruning.py
initialises it from the backbone."""

from .model import LadderSideNetwork


def build(backbone, model, exp) -> LadderSideNetwork:
    return LadderSideNetwork(backbone.family, model, exp)
