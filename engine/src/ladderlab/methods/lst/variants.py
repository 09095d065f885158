"""The two designs the LST paper compares its ladders with in Figure 8, at the same r and the same side blocks.

- ``side_network: side_tuning`` (Zhang et al., 2020, "only one shortcut connection to merge representations right
  before the output layer"): the side network reads the backbone's embeddings, as in LST, and no intermediate layer;
  one gated ladder from the backbone's LAST layer merges into the side's last state before the upsample and head,
  with LST's gate: h = g·h + (1-g)·down(backbone_last), g = sigmoid(α/T), α = 0. Fusing at the side width through
  the same kind of ladder and gate keeps the ablation to one variable: which ladders exist.
- ``side_network: compression`` (network compression, "discards all shortcut connections and the entire backbone
  model"): the side network alone with embeddings of its own, cut from the backbone's at the pruning's residual
  set R like every other side weight; the backbone never runs. The task head (BERT's pooler + classifier, GPT-2's
  score, T5's frozen LM head rows) stays the one every LST variant uses, so only the backbone's part is removed.

Both keep the pruning init of the side blocks and ``keep_layers`` (the paper drops no layer here, but the choice
is the user's). Their ladders' absence is ``LadderSideNetwork.has_ladders = False``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.models.bert.modeling_bert import BertEmbeddings

from ...families.seq2seq import _decoder_ids, _start_ids, _token_level
from . import pruning
from .model import TEMPERATURE, LadderSideNetwork, _ladder, _new_linear

FUSION_TAP = -1  # the taps' key for the backbone's last layer (ladder taps are keyed 0..kept-1)


class SideTuningNetwork(LadderSideNetwork):
    has_ladders = False

    def __init__(self, family, backbone_model: nn.Module, exp):
        super().__init__(family, backbone_model, exp)
        d = family.hidden_size(backbone_model.config)
        self.fusion_down = _new_linear(d, d // exp.r)
        self.fusion_alpha = nn.Parameter(torch.zeros(()))
        last = self.stack_infos[-1]  # the stack whose output reaches the head (T5: the decoder)
        self._hooks.append(last.layers[-1].register_forward_hook(self._layer_tap_hook(last.name, FUSION_TAP)))

    def fusion_gate(self) -> torch.Tensor:
        return torch.sigmoid(self.fusion_alpha / TEMPERATURE)

    def _side_hidden(self, batch: dict, taps: dict[str, dict]) -> torch.Tensor:
        hidden = super()._side_hidden(batch, taps)
        tap = taps[self.stack_infos[-1].name].pop(FUSION_TAP)
        g = self.fusion_gate()
        return g * hidden + (1 - g) * _ladder(self.fusion_down, tap)

    def ladder_linears(self, stack: str) -> tuple[nn.Linear, ...]:
        # the late-fusion ladder starts, like LST's, as the pruning's residual selection
        own = (self.fusion_down,) if stack == self.stack_infos[-1].name else ()
        return (*super().ladder_linears(stack), *own)


class CompressionNetwork(LadderSideNetwork):
    has_ladders = False

    def __init__(self, family, backbone_model: nn.Module, exp):
        super().__init__(family, backbone_model, exp)
        del self.down_embed  # no ladder at all: the side input is its own embedding
        for hook in self._hooks:  # and no tap: the backbone never runs
            hook.remove()
        self._hooks = []
        self.tap_cache = None
        embeddings = _EMBEDDINGS.get(family.name)
        if embeddings is None:  # every family the engine loads has one; a new family must add its own
            raise NotImplementedError(f"compression: no side embeddings for the {family.name} family")
        self.embeddings = embeddings(self, backbone_model.config)

    def ladder_linears(self, stack: str) -> tuple[nn.Linear, ...]:
        return ()

    def _run_backbone(self, batch: dict, taps: dict[str, dict]) -> None:
        """Network compression discards the backbone: nothing runs, no tap is taken."""

    def _side_hidden(self, batch: dict, taps: dict[str, dict]) -> torch.Tensor:
        return self.family.run_side(self.side, self.embeddings(batch), batch)

    def apply_sets(self, chosen: dict[str, list[dict[str, torch.Tensor]]]) -> None:
        super().apply_sets(chosen)
        self.embeddings.copy_pruned(self.model, self.pruned_sets)


# -- each family's side embeddings (width d/r) --------------------------------------------------------------
class _BertEmbeddings(nn.Module):
    """BERT's own embedding module (word + position + token type, layer norm, dropout) at the side's width."""

    ROLES = {
        "word_embeddings.weight": (None, "R"),
        "position_embeddings.weight": (None, "R"),
        "token_type_embeddings.weight": (None, "R"),
        "LayerNorm.weight": ("R",),
        "LayerNorm.bias": ("R",),
    }

    def __init__(self, net: CompressionNetwork, config):
        super().__init__()
        self.inner = BertEmbeddings(net.side_config)
        for table in (self.inner.word_embeddings, self.inner.position_embeddings, self.inner.token_type_embeddings):
            nn.init.normal_(table.weight, std=config.initializer_range)  # BERT's own init (init=random)

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        return {"encoder": self.inner(input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids"))}

    def copy_pruned(self, model, sets) -> None:
        pruning.copy_pruned(self.inner, model.base_model.embeddings, self.ROLES, sets["encoder"][0])


class _GPT2Embeddings(nn.Module):
    """GPT-2's token table at the side's width; its position table replaces the side's zero positions (the side
    GPT2Model adds it), and the side's embedding dropout, off under LST's ladders, comes back."""

    def __init__(self, net: CompressionNetwork, config):
        super().__init__()
        width = net.side_config.n_embd
        self.wte = nn.Embedding(config.vocab_size, width)
        stack = net.side["decoder"]
        stack.wpe = nn.Embedding(config.n_positions, width)
        stack.drop = nn.Dropout(config.embd_pdrop)
        for table in (self.wte, stack.wpe):
            nn.init.normal_(table.weight, std=config.initializer_range)
        self._stack = [stack]  # a plain list: the side stack is registered once, under net.side

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        return {"decoder": self.wte(batch["input_ids"])}

    def copy_pruned(self, model, sets) -> None:
        roles, residual = {"weight": (None, "R")}, sets["decoder"][0]
        pruning.copy_pruned(self.wte, model.transformer.wte, roles, residual)
        pruning.copy_pruned(self._stack[0].wpe, model.transformer.wpe, roles, residual)


class _T5Embeddings(nn.Module):
    """T5's shared token table at the side encoder's width. The side decoder starts from the start token: one vector
    (cut at the decoder's residual set) instead of a second vocabulary-sized table; in the paper's text-to-text
    format (t5_format: paper) it also reads the target tokens so far, from the shared table, as T5's own decoder
    reads them from its shared embeddings."""

    def __init__(self, net: CompressionNetwork, config):
        super().__init__()
        width = net.side_config.d_model
        self.shared = nn.Embedding(config.vocab_size, width)
        self.start = nn.Parameter(torch.empty(width))
        factor = config.initializer_factor  # T5's own init of its token table
        nn.init.normal_(self.shared.weight, std=factor)
        nn.init.normal_(self.start, std=factor)
        self._config = config

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        ids = batch["input_ids"]
        decoder = self.start.expand(ids.shape[0], 1, -1)
        if _token_level(batch):  # the decoder's input after its start token: the (shifted) target tokens
            decoder = torch.cat([decoder, self.shared(_decoder_ids(self._config, batch)[:, 1:])], dim=1)
        return {"encoder": self.shared(ids), "decoder": decoder}

    @torch.no_grad()
    def copy_pruned(self, model, sets) -> None:
        pruning.copy_pruned(self.shared, model.shared, {"weight": (None, "R")}, sets["encoder"][0])
        start_id = int(_start_ids(self._config, torch.zeros(1, 1, dtype=torch.long))[0, 0])
        self.start.copy_(model.shared.weight[start_id].index_select(0, sets["decoder"][0]["R"]))


_EMBEDDINGS = {"encoder": _BertEmbeddings, "decoder": _GPT2Embeddings, "seq2seq": _T5Embeddings}
