"""The ladder side network (LST paper §3.2) around a frozen backbone.

    backbone (frozen, eval, no_grad)            side network (trainable, width d/r)
    embeddings ──────────── down_embed ──────▶  h
    layer i (kept) ── tap ─ down[k] ─▶ (1-g_k)·  ⊕  g_k·h  ──▶ side block k ──▶ h      (g_k = sigmoid(α_k / T))
    ...                                                                    up ──▶ task head ──▶ logits

Explicit choices (the paper's text and reference code differ; see docs/lst-reference.md):
- the gate multiplies the side state, as the reference code does: h = g·h + (1-g)·down(tap), α=0 so g=0.5
  (gate_init sets another start);
- the tap of kept layer i is the OUTPUT of backbone layer i; the embedding tap is the input of layer 0;
- with a pruning init the ladders start as the pruning's coordinate selection (down picks the residual dims R
  the side was cut to, up writes them back), not the reference's N(0, 0.01): on IMDB with MiniLM this took
  LST from chance to 75% in 75 steps (N(0, 0.01) is kept for init=random, which has no R to select); by
  default (ladder_init=pca) that selection is rotated onto the taps' top principal directions (ladder_basis.py),
  +1.3 points on the demo and on SST-2 (issue 16); the paper profile keeps the plain selection;
- the backbone runs in eval mode under no_grad: it saves nothing for backward and its activations are
  freed layer by layer; only the taps (the downsamples' inputs) live until the side network's backward.

Memory/speed levers (Experiment fields, measured by ``ladderlab bench``): ``backbone_mode=inference``
(torch.inference_mode), ``backbone_dtype=bf16`` (frozen weights in bf16), ``tap_dtype=bf16`` (taps kept in bf16;
the downsample then runs in bf16), ``side_attention`` (sdpa/eager) and ``side_heads``, ``tap_cache=cpu`` (see
``tap_cache.py``: after the first epoch the backbone is skipped), ``side_checkpointing`` (the side blocks recompute
their activations in the backward; auto = on for decoder LLMs).
Taps are captured with forward hooks on the backbone's own blocks, and the gates are applied with
forward pre-hooks on the side's own blocks, so the family's unmodified block code runs on both sides.
"""

from __future__ import annotations

import contextlib
import math
import types
from functools import partial
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ...backbone_rules import keep_layers_problem, side_heads_problem
from ...errors import BadInput
from ..base import LossFn, MethodModel, freeze_all, unfreeze_modules
from . import distill, ladder_basis, pruning
from .fusion import cross_attention_layers
from .tap_cache import TapCache

TEMPERATURE = 0.1
READOUT = -2  # the taps' key for the backbone's last state under side_readout=backbone_plus_side (ladders: 0..)
LADDER = "ladder"  # a side block's keyword (side_checkpointing): (fuse, tap) for the block to apply in its checkpoint
# The paper's Figure 8 variants (side-tuning, compression: variants.py) subclass this network without its per-layer
# ladders (has_ladders = False): no downsample, gate or tap hook per kept layer; side blocks and pruning init stay.


def _new_linear(d_in: int, d_out: int) -> nn.Linear:
    layer = nn.Linear(d_in, d_out)
    nn.init.normal_(layer.weight, std=0.01)  # the reference's init for ladder projections
    nn.init.zeros_(layer.bias)
    return layer


class LadderSideNetwork(MethodModel):
    has_ladders = True

    def __init__(self, family, backbone_model: nn.Module, exp):
        super().__init__(family, backbone_model)
        config = backbone_model.config
        self.stack_infos = family.stacks(backbone_model)
        n_layers = len(self.stack_infos[0].layers)
        self.kept = list(exp.keep_layers) if exp.keep_layers is not None else list(range(n_layers))
        if (problem := keep_layers_problem(self.kept, n_layers)) is not None:  # prepare() checked it already
            raise BadInput(problem.message, problem.hint)
        self.r = exp.r
        self.ladder_init = exp.ladder_init if self.has_ladders else "selection"  # pca: ladder_basis.py
        self.head_lr = exp.lst_head_lr  # None: the task head trains at LST's rate, like the side network
        # backbone_plus_side: the head reads the backbone's last state plus the upsampled side state, the upsample
        # starting at zero (the side network learns a correction, as LoRA's update starts at zero)
        self.readout_backbone = exp.side_readout == "backbone_plus_side"
        if self.readout_backbone and family.name != "encoder":
            raise BadInput(
                f"side_readout backbone_plus_side reads the last layer's output as the head's input, which only an "
                f"encoder (BERT-style, post-norm) backbone hands its head; this backbone's family is {family.name}",
                "set side_readout to side",
            )
        self.side_config = family.side_config(config, exp.r, len(self.kept), exp.side_heads)
        self.side_config._attn_implementation = exp.side_attention
        d = family.hidden_size(config)
        d_side = d // exp.r
        self.side = family.build_side_stacks(self.side_config)
        names = [s.name for s in self.stack_infos]
        self.down_embed = nn.ModuleDict({s: _new_linear(d, d_side) for s in names})
        ladders = self.kept if self.has_ladders else []
        self.down = nn.ModuleDict({s: nn.ModuleList(_new_linear(d, d_side) for _ in ladders) for s in names})
        gated = ladders if exp.fusion == "gates" else []  # cross_attention: an attention layer instead of the gate
        alpha = TEMPERATURE * math.log(exp.gate_init / (1 - exp.gate_init))  # g = sigmoid(alpha / T) = gate_init
        self.gate_alpha = nn.ParameterDict({s: nn.Parameter(torch.full((len(gated),), alpha)) for s in names if gated})
        heads = family.heads(self.side_config)
        cross = exp.fusion == "cross_attention"
        self.cross_attention = cross_attention_layers(names, len(ladders), d_side, heads) if cross else None
        self.up = _new_linear(d_side, d)
        if self.readout_backbone:
            nn.init.zeros_(self.up.weight)
        self.embed_dropout = nn.Dropout(family.dropout(config))

        freeze_all(backbone_model)
        backbone_model.eval()  # from the start, not only after .train()/.eval(): dropout stays off
        unfreeze_modules(backbone_model, family.head_modules)
        self.backbone_bf16 = exp.backbone_dtype == "bf16"
        if self.backbone_bf16:
            _cast_frozen(backbone_model, torch.bfloat16)
        self.tap_dtype = torch.bfloat16 if exp.tap_dtype == "bf16" else torch.float32
        self.inference_backbone = exp.backbone_mode == "inference"
        self.tap_cache = TapCache(family.padding_side) if exp.tap_cache == "cpu" else None
        self._taps: dict[str, dict] | None = None
        self._attention_mask: torch.Tensor | None = None  # the batch's, while forward runs (cross-attention masks)
        self.distill_settings = {"lr": exp.lr_for("lst"), "max_grad_norm": exp.max_grad_norm, "seed": exp.seed}
        self.tokenizer = None  # the backbone's, set by build(): init distillation's span corruption reads it
        self.ladders_on = True  # off while distill.py trains the side network alone (its student)
        self._hooks = []
        for info in self.stack_infos:
            self._hooks.append(
                info.layers[0].register_forward_pre_hook(self._embed_tap_hook(info.name), with_kwargs=True)
            )
            for k, i in enumerate(ladders):
                self._hooks.append(info.layers[i].register_forward_hook(self._layer_tap_hook(info.name, k)))
            for k, block in enumerate(family.side_layers(self.side[info.name]) if ladders else []):
                self._hooks.append(block.register_forward_pre_hook(self._gate_hook(info.name, k), with_kwargs=True))
        if self.readout_backbone:
            last = self.stack_infos[-1]
            self._hooks.append(last.layers[-1].register_forward_hook(self._layer_tap_hook(last.name, READOUT)))
        self.side_checkpointing = exp.side_checkpointing == "on" or (
            exp.side_checkpointing == "auto" and getattr(family, "side_checkpointing_auto", False)
        )
        if self.side_checkpointing:
            for stack in self.side.values():
                for block in family.side_layers(stack):
                    block.forward = types.MethodType(_checkpointed_forward, block)

    def optimizer_groups(self, lr: float) -> list[dict]:
        """The side network, ladders and gates at LST's rate ``lr``; the task head (the backbone's own head modules,
        the only trainable part of ``self.model``) at ``lst_head_lr`` when set."""
        params = self.trainable_named_parameters()
        if self.head_lr is None:
            return [{"params": list(params.values()), "lr": lr}]
        head = [p for n, p in params.items() if n.startswith("model.")]
        rest = [p for n, p in params.items() if not n.startswith("model.")]
        return [g for g in ({"params": rest, "lr": lr}, {"params": head, "lr": self.head_lr}) if g["params"]]

    # -- hooks --------------------------------------------------------------------------------------
    def _embed_tap_hook(self, stack: str):
        def hook(_module, args, kwargs):
            if self._taps is not None:
                self._taps[stack]["embed"] = self._keep(args[0] if args else kwargs["hidden_states"])

        return hook

    def _layer_tap_hook(self, stack: str, k: int):
        def hook(_module, _args, output):
            if self._taps is not None:
                self._taps[stack][k] = self._keep(output[0] if isinstance(output, (tuple, list)) else output)

        return hook

    def _gate_hook(self, stack: str, k: int):
        def hook(_module, args, kwargs):
            if self._taps is None:
                raise RuntimeError("a side block ran outside LadderSideNetwork.forward, which holds its taps")
            if not self.ladders_on:
                return None
            h = args[0] if args else kwargs["hidden_states"]
            # pop: once downsampled, the tap is held only by autograd (for the downsample's weight gradient)
            tap = self._taps[stack].pop(k)
            if (
                self.side_checkpointing
                and self.cross_attention is None
                and torch.is_grad_enabled()
                and _module.training
            ):
                # the ladder and its fusion run inside the block's checkpoint (_checkpointed_forward): only the
                # block's input h and the tap are kept, not the downsampled ladder and the fused input too
                return args, {**kwargs, LADDER: (partial(self._fuse_ladder, stack, k), tap)}
            mixed = self._fuse_ladder(stack, k, h, tap)
            if args:
                return (mixed, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": mixed}

        return hook

    def _fuse_ladder(self, stack: str, k: int, h: torch.Tensor, tap: torch.Tensor) -> torch.Tensor:
        """Side block k's input: the side state ``h`` fused with the downsampled tap of kept layer k."""
        return self._fuse(stack, k, h, _ladder(self.downsamples(stack)[k], tap))

    def _keep(self, tap: torch.Tensor) -> torch.Tensor:
        """A tap as the side network keeps it: in ``tap_dtype`` (a no-op cast when it already is)."""
        return tap.to(self.tap_dtype)

    def _fuse(self, stack: str, k: int, h: torch.Tensor, ladder: torch.Tensor) -> torch.Tensor:
        """Side block k's input from the side state ``h`` and its downsampled ladder (``fusion``)."""
        if self.cross_attention is not None:
            return cast(nn.ModuleList, self.cross_attention[stack])[k](h, ladder, self._attention_mask)
        g = self.gate(stack, k)
        return g * h + (1 - g) * ladder

    def gate(self, stack: str, k: int) -> torch.Tensor:
        return torch.sigmoid(self.gate_alpha[stack][k] / TEMPERATURE)

    def downsamples(self, stack: str) -> list[nn.Linear]:
        """The stack's ladders into its side blocks, one per kept layer (a ModuleList, which types them Module)."""
        return cast("list[nn.Linear]", list(cast(nn.ModuleList, self.down[stack])))

    def embed_downsample(self, stack: str) -> nn.Linear:
        """The stack's ladder from the backbone's embeddings into its side input."""
        return cast(nn.Linear, self.down_embed[stack])

    def ladder_linears(self, stack: str) -> tuple[nn.Linear, ...]:
        """Every downsample from the backbone into this stack's side network (the pruning init sets them)."""
        return (self.embed_downsample(stack), *self.downsamples(stack))

    # -- forward ------------------------------------------------------------------------------------
    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()  # the backbone always runs as at inference (dropout off)
        return self

    def forward(self, batch: dict) -> torch.Tensor:
        taps: dict[str, dict] = {s.name: {} for s in self.stack_infos}
        self._taps = taps
        self._attention_mask = batch.get("attention_mask")
        try:
            cached = self.tap_cache.lookup(batch) if self.tap_cache is not None and self.training else None
            if cached is not None:
                taps = self._taps = cached  # a later epoch: the backbone is skipped
            else:
                self._run_backbone(batch, taps)
                if self.tap_cache is not None and self.training:
                    self.tap_cache.store(batch, taps)
            hidden = self._side_hidden(batch, taps)
            out = self.up(hidden)
            if self.readout_backbone:
                out = out + taps[self.stack_infos[-1].name].pop(READOUT).to(out.dtype)
            return self.family.side_head(self.model, out, batch)
        finally:
            self._taps = self._attention_mask = None

    def _side_hidden(self, batch: dict, taps: dict[str, dict]) -> torch.Tensor:
        """The side network's last states (B, L, d/r), from the embedding taps (and, by the gate hooks, the layers')."""
        inputs = {s: _ladder(self.embed_downsample(s), self.embed_dropout(t.pop("embed"))) for s, t in taps.items()}
        return self.family.run_side(self.side, inputs, batch)

    def side_alone(self, batch: dict, taps: dict[str, dict]) -> torch.Tensor:
        """The side network's last states from the embedding taps only, without what a variant adds in its
        ``_side_hidden`` (side-tuning's late fusion): the distillation student (distill.py; ladders_on off)."""
        return LadderSideNetwork._side_hidden(self, batch, taps)

    def _run_backbone(self, batch: dict, taps: dict[str, dict]) -> None:
        """The frozen forward: fires the tap hooks (they fill ``taps``); nothing it computes is kept for backward."""
        with torch.inference_mode() if self.inference_backbone else torch.no_grad():
            self.family.run_backbone(self.model, batch)
        if self.inference_backbone:  # inference tensors cannot be saved for backward: take plain copies, one by one
            for stack_taps in taps.values():
                for key in list(stack_taps):
                    stack_taps[key] = stack_taps[key].clone()

    # -- initialisation -----------------------------------------------------------------------------
    def initialize(
        self, init_batches, on_phase, *, init: str = "fisher", loss_fn: LossFn | None = None, cache=None, progress=None
    ) -> None:
        """Structural-pruning init from the backbone (fisher / magnitude); ``random`` keeps the family's init.
        ``loss_fn``: the task's loss, which the Fisher importance differentiates (unused by the others).
        ``init_batches``: padded batches of training examples (any size; each example is scored on its own).
        ``cache``: an ``InitCache`` holding this init's index sets when an earlier run chose them (then nothing is
        computed), and given them otherwise. ``progress(examples_done)``: called as the Fisher pass advances."""
        if init == "random":
            return
        if init == "distillation":  # distill.py: the side network trained on the backbone's outputs first
            with on_phase("distillation_init"):
                distill.initialize(self, init_batches, cache=cache, progress=progress)
            return
        self._check_heads()  # before the Fisher pass, not after it
        with on_phase("pruning_init"):
            sets = cache.load() if cache is not None else None
            if sets is None:
                moments = ladder_basis.TapMoments() if self.ladder_init == "pca" else None
                sets = self.select_sets(self._importance(init, init_batches, loss_fn, progress, moments))
                if moments is not None:
                    if init == "magnitude":  # no forward ran: one over the init batches, for their taps
                        moments.read(self, init_batches)
                    ladder_basis.add_bases(sets, moments)
                if cache is not None:
                    cache.store(sets)
            self.apply_sets(sets)

    def _importance(
        self, init: str, init_batches, loss_fn: LossFn | None, progress, moments=None
    ) -> dict[str, pruning.AxisSums]:
        """``moments`` (ladder_init=pca): given the taps of the Fisher pass's own forward, which the basis reads."""
        if init == "magnitude":
            return pruning.magnitude_axis_sums(self.model)
        if loss_fn is None:
            raise ValueError("init=fisher needs the task's loss_fn")
        names = self._scored_parameters()

        def logits(b):
            with moments.collecting(self, b) if moments is not None else contextlib.nullcontext():
                return self.family.logits(self.model, b)

        # a bf16 backbone (backbone_dtype) feeds the fp32 task head under autocast, as at inference
        device = next(self.model.parameters()).device.type
        with torch.autocast(device, dtype=torch.bfloat16, enabled=self.backbone_bf16):
            return pruning.fisher_importance_batched(self.model, logits, loss_fn, init_batches, names, progress)

    def _scored_parameters(self) -> list[str]:
        """The kept layers' weight matrices that the index choice reads (the family's layer roles): no gradient is
        computed for the rest (e.g. the embedding matrix, T5's relative position bias)."""
        prefix_of = {id(m): n + "." for n, m in self.model.named_modules()}
        read = {
            prefix_of[id(info.layers[i])] + name
            for info in self.stack_infos
            for name in self.family.layer_roles(info.name)
            for i in self.kept
        }
        return [n for n, p in self.model.named_parameters() if n in read and p.dim() == 2]

    def apply_pruning(self, importance: dict[str, torch.Tensor]) -> None:
        """Prune by full-size importances (e.g. ``pruning.magnitude_importance``)."""
        self.apply_sets(self.select_sets(pruning.axis_sums(importance)))

    def _check_heads(self) -> int:
        heads = self.family.heads(self.model.config)
        problem = side_heads_problem("pruning", self.family.heads(self.side_config), heads)
        if problem is not None:  # prepare() checked it already; a run built by other code still gets the message
            raise BadInput(problem.message, problem.hint)
        return heads

    def select_sets(self, importance: dict[str, pruning.AxisSums]) -> dict[str, list[dict[str, torch.Tensor]]]:
        """The index sets of each stack's kept layers (residual R, QK, VO, F; RX for cross-attention)."""
        heads = self._check_heads()
        prefix_of = {id(m): n + "." for n, m in self.model.named_modules()}
        chosen: dict[str, list[dict[str, torch.Tensor]]] = {}
        for info in self.stack_infos:
            roles = self.family.layer_roles(info.name)
            layer_imps = [pruning.layer_importance(importance, prefix_of[id(info.layers[i])]) for i in self.kept]
            kv_heads = self.family.kv_heads(self.model.config)  # grouped-query attention: fewer than heads
            sets = pruning.select_indices(layer_imps, roles, self.r, heads, kv_heads)
            if chosen:  # a decoder's cross-attention reads the (side) encoder's residual set
                encoder_residual = next(iter(chosen.values()))[0]["R"]
                for layer_sets in sets:
                    layer_sets["RX"] = encoder_residual
            chosen[info.name] = sets
        return chosen

    def apply_sets(self, chosen: dict[str, list[dict[str, torch.Tensor]]]) -> None:
        """Copy the backbone's slices at ``chosen`` (from ``select_sets`` or the init cache) into the side network."""
        device = self.up.weight.device
        chosen = {s: [{role: t.to(device) for role, t in layer.items()} for layer in v] for s, v in chosen.items()}
        self.pruned_sets = chosen
        for info in self.stack_infos:
            roles, sets = self.family.layer_roles(info.name), chosen[info.name]
            side_blocks = self.family.side_layers(self.side[info.name])
            for k, i in enumerate(self.kept):
                untouched = pruning.copy_pruned(side_blocks[k], info.layers[i], roles, sets[k])
                self._copy_shared(untouched, side_blocks[k], info.layers[0])
            extras = self.family.stack_extra_roles(info.name)
            if extras:
                pruning.copy_pruned(self.side[info.name], info.module, extras, sets[0])
            self._init_ladders_as_basis(info.name, sets[0])

    @torch.no_grad()
    def _init_ladders_as_basis(self, stack: str, sets: dict[str, torch.Tensor]) -> None:
        """Ladders that start in the side network's own residual basis: with the pruning's coordinate choice,
        each downsample picks the residual dims R the side blocks were cut to and the upsample writes side dim j
        back to backbone dim R[j]; with ladder_init=pca (ladder_basis.py) the downsample is P^T and the upsample P.
        At step 0 the side network then reads and writes the backbone's own signal instead of N(0, 0.01)
        noise, so the task head sees a meaningful (partial) representation from the first step."""
        residual = sets["R"]
        basis = sets.get(ladder_basis.BASIS)
        if basis is None:
            basis = torch.zeros(self.up.out_features, len(residual), device=residual.device)
            basis[residual, torch.arange(len(residual))] = 1.0
        basis = basis.to(self.up.weight.device)
        for linear in self.ladder_linears(stack):
            linear.weight.copy_(basis.T)
            linear.bias.zero_()
        if stack == self.stack_infos[-1].name and not self.readout_backbone:  # its output goes to the head
            self.up.weight.copy_(basis)
            self.up.bias.zero_()

    @torch.no_grad()
    def _copy_shared(self, names: list[str], side_block: nn.Module, first_block: nn.Module) -> None:
        """Parameters outside the role table (T5's relative-position bias, heads x buckets) are not pruned:
        copy them from the backbone's first block, which owns them there too."""
        source = dict(first_block.named_parameters())
        for name, p in side_block.named_parameters():
            if name in names and name in source and source[name].shape == p.shape:
                p.copy_(source[name])


def _checkpointed_forward(block: nn.Module, hidden_states: torch.Tensor, *args, **kwargs):
    """A side block's own forward that, in training, keeps only its inputs and recomputes its activations in the
    backward (``side_checkpointing``): the side is 1/r as wide as the backbone, so the recomputation costs about
    1/r^2 of the backbone's forward, while a decoder LLM's side activations at long context are a large part of LST's
    peak. The gate pre-hook (which pops its tap, so it runs once, outside) hands over ``LADDER`` = (fuse, tap): the
    ladder and the fusion then run inside the checkpoint too. It replaces ``forward``, not ``__call__``."""
    forward = type(block).forward
    ladder = kwargs.pop(LADDER, None)
    if not (torch.is_grad_enabled() and block.training):
        return forward(block, hidden_states, *args, **kwargs)
    if ladder is None:
        return checkpoint(forward, block, hidden_states, *args, use_reentrant=False, **kwargs)
    fuse, tap = ladder

    def fused_forward(h: torch.Tensor, tap: torch.Tensor, *args, **kwargs):
        return forward(block, fuse(h, tap), *args, **kwargs)

    return checkpoint(fused_forward, hidden_states, tap, *args, use_reentrant=False, **kwargs)


def _ladder(linear: nn.Linear, tap: torch.Tensor) -> torch.Tensor:
    """A downsample that keeps its input in the tap's dtype: with bf16 taps the projection runs in bf16 (the
    bf16 tap, not an fp32 copy, is what autograd saves) and its output returns to the side network's fp32."""
    if tap.dtype == linear.weight.dtype or torch.is_autocast_enabled(tap.device.type):
        return linear(tap)
    bias = linear.bias.to(tap.dtype) if linear.bias is not None else None
    return F.linear(tap, linear.weight.to(tap.dtype), bias).to(linear.weight.dtype)


@torch.no_grad()
def _cast_frozen(model: nn.Module, dtype: torch.dtype) -> None:
    """Store the frozen backbone's floating-point weights in ``dtype``; trainable heads stay fp32."""
    for module in model.modules():
        for p in module.parameters(recurse=False):
            if not p.requires_grad and p.is_floating_point():
                p.data = p.data.to(dtype)
        for name, b in module.named_buffers(recurse=False):
            if b.is_floating_point():
                module._buffers[name] = b.to(dtype)
