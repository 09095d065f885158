"""Structural-pruning initialisation of the side network (LST paper §3.3).

Importance of each backbone weight is its magnitude |W| or its empirical Fisher information (the mean of
squared task-loss gradients over single training examples). A row's score is the sum of the absolute
importance along it; the side network keeps the top 1/r rows and slices the matching columns.

Improvements over the reference implementation (docs/lst-reference.md, "Rules the code relies on"):
- one residual subset R per stack, chosen from every kept layer at once, so every side sublayer reads
  and writes the same residual coordinates (the reference let each sublayer pick its own);
- attention is pruned per head: each head keeps its own top d_head/r query/key dims (shared by q and k,
  whose dot product they form) and value/output dims, so no head is mixed with another;
- a dimension's score counts the matrices that write it (rows) and those that read it (columns).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ...errors import BadInput, use_field
from ...quant import dense_parameters, dense_shape, iter_dense_parameters

# Per-example gradients of one weight matrix formed at once (the rest of a batch waits): at most this many bytes.
PER_EXAMPLE_BUDGET_BYTES = 256 * 2**20

MAX_FISHER_ROWS = 16  # examples per Fisher pass at most (and on a CPU): more gain nothing but memory

# Roles whose index set is chosen per layer, with the number of groups (heads) they are split into.
PER_LAYER_ROLES = ("QK", "VO", "F")
# Grouped-query attention: query-head role -> the key/value-head role whose choice it follows.
GROUPED_ROLES = {"Q": "QK", "O": "VO"}

AxisSums = tuple[torch.Tensor, torch.Tensor]  # a matrix's importance summed along each axis: (per row, per column)


def top_rows(scores: torch.Tensor, keep_per_group: int, groups: int = 1) -> torch.Tensor:
    """Indices (sorted) of the ``keep_per_group`` highest scores in each of ``groups`` equal, consecutive
    blocks of ``scores`` (a block is one attention head)."""
    blocks = scores.reshape(groups, -1)
    if keep_per_group > blocks.shape[1]:
        raise ValueError(f"cannot keep {keep_per_group} of {blocks.shape[1]} rows")
    picked = blocks.topk(keep_per_group, dim=1).indices.sort(dim=1).values
    offsets = torch.arange(groups, device=scores.device).unsqueeze(1) * blocks.shape[1]
    return (picked + offsets).reshape(-1)


def fisher_rows(batch_size: int, r: int, device: torch.device) -> int:
    """Examples per Fisher pass. On an accelerator, about batch_size / r: the pass saves the backbone's activations,
    and the backbone is r times as wide as the side network whose activations a training step of batch_size rows
    saves, so at batch_size / r rows the pass's peak stays under the training step's (traced on the T5-large shape by
    engine/tests/test_pruning_memory.py: 3.3 GiB at 2 rows vs training's 4.9 GiB; 6.2 GiB at 16 rows). On a CPU,
    memory is rarely what runs out and small passes are slow (2 rows took ~4x the CPU time of 16 on MiniLM), so
    MAX_FISHER_ROWS. Per-example sums are exact at any row count."""
    if device.type == "cpu":
        return MAX_FISHER_ROWS
    return max(1, min(MAX_FISHER_ROWS, -(-batch_size // r)))


def magnitude_importance(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().abs() for n, p in dense_parameters(model).items()}  # a quantised backbone dequantised


def magnitude_axis_sums(model: nn.Module) -> dict[str, AxisSums]:
    """``axis_sums(magnitude_importance(model))`` a matrix at a time, so a quantised backbone is dequantised one
    weight at a time and never whole (nor is a full-size |W| kept for any backbone)."""
    sums = {}
    for n, p in iter_dense_parameters(model):
        if p.dim() == 2:
            magnitude = p.detach().abs()
            sums[n] = (magnitude.sum(1), magnitude.sum(0))
    return sums


def fisher_importance(model: nn.Module, forward_loss, examples, names=None, on_example=None) -> dict[str, torch.Tensor]:
    """Empirical Fisher: mean over examples of (d loss / d W)^2, one example at a time (per-example
    gradients; squaring a batch gradient would not be the Fisher). Runs the backbone with grads on.
    ``names``: the parameters to score (default all; the others get no gradient, which saves their
    backward, e.g. the embedding matrix's). ``on_example()`` is called after each example."""
    params = dict(model.named_parameters())
    wanted = set(params) if names is None else set(names)
    flags = {n: p.requires_grad for n, p in params.items()}
    fisher = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items() if n in wanted}
    count = 0
    was_training = model.training
    model.eval()  # dropout off: the importance of the function we actually start from
    try:
        for n, p in params.items():
            p.requires_grad_(n in wanted)
        for batch in examples:
            model.zero_grad(set_to_none=True)
            forward_loss(batch).backward()
            for n, p in params.items():
                if p.grad is not None and n in fisher:
                    fisher[n] += p.grad.detach().float() ** 2
            count += 1
            if on_example is not None:
                on_example(1)
    finally:
        model.zero_grad(set_to_none=True)
        for n, p in params.items():
            p.requires_grad_(flags[n])
        model.train(was_training)
    return _mean(fisher, count)


def _mean(fisher: dict[str, torch.Tensor], count: int) -> dict[str, torch.Tensor]:
    _require_examples(count)
    return {n: f / count for n, f in fisher.items()}


def _require_examples(count: int) -> None:
    if count == 0:
        raise BadInput(
            "Fisher initialisation needs training examples, and there are none",
            "add training data or " + use_field("init", "magnitude"),
        )


def fisher_importance_batched(model: nn.Module, logits_fn, loss_fn, batches, names, on_example=None, products=None):
    """The same empirical Fisher as ``fisher_importance``, from whole padded batches, kept as what the index choice
    reads: per-axis sums (``AxisSums``), not a full-size accumulator per matrix, so the phase's memory grows with the
    matrices' sides, not their areas. One forward and one backward per batch. Each scored weight's per-example
    gradient is formed from what its layer saw and what came back to it: for y = x W^T, example b's gradient is
    g_b^T x_b (its rows of the layer's input x and of the gradient g at the output), squared and summed over the batch
    and along each axis. This is exact because examples do not interact (eval mode, padding masked) and the loss
    backpropagated is the sum of each example's own ``loss_fn`` (as the loop computes it), so g_b is example b's
    gradient alone. No weight gradient is computed (the weights stay frozen; the graph starts at the embeddings'
    outputs). Works for every family: ``nn.Linear`` and GPT-2's ``Conv1D`` (y = x W).
    ``products``: the dtype the pass computes in (``None``: ``product_dtype(device)``): with bf16 the forward and
    backward run under bf16 autocast and the per-example products are formed in bf16; squares and sums are always
    fp32. On MiniLM/IMDB (128 tokens, 128 examples, 2-core CPU with AMX) bf16 took the pass from 8.2 s to 6.0 s and kept
    99.75% of the indices fp32 keeps (engine/tests/test_lst_init.py checks > 97%)."""
    from transformers.pytorch_utils import Conv1D

    wanted = set(names)
    layers = {n + ".weight": m for n, m in model.named_modules() if n + ".weight" in wanted}
    if set(layers) != wanted or not all(isinstance(m, (nn.Linear, Conv1D)) for m in layers.values()):
        odd = sorted(wanted - {n for n, m in layers.items() if isinstance(m, (nn.Linear, Conv1D))})
        raise RuntimeError(f"per-example Fisher scores need Linear or Conv1D weights; not: {odd[:3]}")
    device = next(model.parameters()).device
    dtype = products or product_dtype(device)
    bf16 = dtype == torch.bfloat16
    fisher = {}
    for n in names:
        rows, cols = dense_shape(model.get_parameter(n))  # a 4-bit weight's packed storage has another shape
        fisher[n] = (torch.zeros(rows, device=device), torch.zeros(cols, device=device))
    calls: dict[str, int] = {}

    def capture(name: str, transposed: bool):
        def hook(_module, inputs, output):
            calls[name] = calls.get(name, 0) + 1  # a weight used twice in one forward would need its sum squared
            x = inputs[0].detach()
            output.register_hook(lambda g: _add_squares(fisher[name], x, g, transposed, dtype))

        return hook

    handles = [m.register_forward_hook(capture(n, isinstance(m, Conv1D))) for n, m in layers.items()]
    # The graph starts at the embeddings' outputs (every embedding: T5's decoder has its own), so backward reaches
    # every scored layer's output while no parameter needs a gradient.
    handles += [
        m.register_forward_hook(lambda _m, _i, out: out.detach().requires_grad_())
        for m in model.modules()
        if isinstance(m, nn.Embedding)
    ]
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    count = 0
    was_training = model.training
    model.eval()  # dropout off, as in the loop
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        for batch in batches:
            calls.clear()
            labels = batch["labels"]
            size = len(labels)
            # bf16 autocast only where the pass computes in bf16: autocast(enabled=False) would also switch off the
            # caller's (a bf16 backbone feeding its fp32 head, methods/lst/model.py) on CPUs without native bf16
            with torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
                logits = logits_fn(batch)
                loss = torch.stack([loss_fn(logits[i : i + 1], labels[i : i + 1]) for i in range(size)]).sum()
            loss.backward()
            if any(c > 1 for c in calls.values()):
                raise RuntimeError(f"a scored weight ran twice in one forward: {sorted(calls)[:3]}")
            count += size
            if on_example is not None:
                on_example(size)
    finally:
        for h in handles:
            h.remove()
        for n, p in model.named_parameters():
            p.requires_grad_(flags[n])
        model.train(was_training)
    _require_examples(count)
    return {n: (rows / count, cols / count) for n, (rows, cols) in fisher.items()}


def product_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the hardware multiplies it natively (CUDA with bf16, CPUs with AVX512-BF16 or AMX: several times
    fp32's speed; the products feed a ranking, and their squares are summed in fp32); fp32 elsewhere, where bf16
    would be emulated and slower."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private in torch: absent means no
        return torch.bfloat16 if any(getattr(torch.cpu, f, lambda: False)() for f in probes) else torch.float32
    return torch.float32


def _add_squares(acc, x: torch.Tensor, g: torch.Tensor, transposed: bool, dtype: torch.dtype) -> None:
    """acc (row sums, column sums) += the sums along each axis of (per-example weight gradient of example b)^2 over
    b, for y = x W^T (or y = x W if ``transposed``), a few examples at a time so their gradients fit
    PER_EXAMPLE_BUDGET_BYTES."""
    rows, cols = acc
    batch = x.shape[0]
    x = x.reshape(batch, -1, x.shape[-1]).to(dtype)
    g = g.reshape(batch, -1, g.shape[-1]).to(dtype)
    step = max(1, PER_EXAMPLE_BUDGET_BYTES // (4 * rows.numel() * cols.numel()))
    for s in range(0, batch, step):
        xs, gs = x[s : s + step], g[s : s + step]
        per = torch.bmm(xs.transpose(1, 2), gs) if transposed else torch.bmm(gs.transpose(1, 2), xs)
        squares = per.float().square_()
        rows.add_(squares.sum((0, 2)))
        cols.add_(squares.sum((0, 1)))


def axis_sums(importance: dict[str, torch.Tensor]) -> dict[str, AxisSums]:
    """Full importances (magnitude, the loop) in the form the index choice reads: per-axis sums of each matrix."""
    return {n: (t.abs().sum(1), t.abs().sum(0)) for n, t in importance.items() if t.dim() == 2}


def rows(batch: dict):
    """The examples of a padded batch, one batch of one each (padding kept, and masked)."""
    for i in range(len(batch["labels"])):
        yield {k: v[i : i + 1] for k, v in batch.items()}


def _add_scores(acc: dict, role: str, scores: torch.Tensor) -> None:
    if role == "QKV":  # GPT-2's fused projection: [q | k | v] along one axis
        q, k, v = scores.chunk(3)
        _add_scores(acc, "QK", q + k)
        _add_scores(acc, "VO", v)
    elif role is not None and role != "RX":
        acc[role] = acc[role] + scores if role in acc else scores.clone()


def select_indices(
    layer_importances: list[dict[str, AxisSums]], roles: dict, r: int, heads: int, kv_heads: int | None = None
) -> list[dict[str, torch.Tensor]]:
    """Choose the residual set R (one for the stack, from all kept layers) and the QK/VO/F sets of each
    kept layer from the matrices' per-axis sums. Only weight matrices vote, as in the paper (biases and norms
    follow their rows). Grouped-query attention (``kv_heads`` < ``heads``; roles "Q"/"O" on the query and output
    projections): QK/VO are chosen per key/value head, from its own scores plus those of the query heads that share
    it, and each query head then keeps its group's dims (sets "Q"/"O"), so q·k and the value read stay aligned."""
    kv_heads = kv_heads or heads
    per_layer = []
    for imp in layer_importances:
        acc: dict[str, torch.Tensor] = {}
        for name, axis_roles in roles.items():
            if name in imp:
                for axis, role in enumerate(axis_roles):
                    _add_scores(acc, role, imp[name][axis])
        for query_role, kv_role in GROUPED_ROLES.items():
            if query_role in acc:  # fold each query head's scores into its key/value head's
                folded = acc.pop(query_role).reshape(kv_heads, heads // kv_heads, -1).sum(1).reshape(-1)
                acc[kv_role] = acc[kv_role] + folded if kv_role in acc else folded
        per_layer.append(acc)
    residual = per_layer[0]["R"]
    for acc in per_layer[1:]:
        residual = residual + acc["R"]
    r_idx = top_rows(residual, residual.numel() // r)
    chosen = []
    for acc in per_layer:
        sets = {"R": r_idx}
        for role in PER_LAYER_ROLES:
            if role in acc:
                groups = kv_heads if role in ("QK", "VO") else 1
                size = acc[role].numel() // groups
                if size % r:
                    raise BadInput(
                        f"r={r} does not divide the per-head size {size} of the backbone",
                        "choose r dividing the head size, or " + use_field("init", "random"),
                    )
                sets[role] = top_rows(acc[role], size // r, groups)
        for query_role, kv_role in GROUPED_ROLES.items():
            if any(query_role in axis_roles for axis_roles in roles.values()) and kv_role in sets:
                sets[query_role] = _per_query_head(sets[kv_role], heads, kv_heads, acc[kv_role].numel() // kv_heads)
        chosen.append(sets)
    return chosen


def _per_query_head(kv_set: torch.Tensor, heads: int, kv_heads: int, head_dim: int) -> torch.Tensor:
    """A key/value head's chosen dims repeated for each query head of its group, at that query head's offset."""
    within = kv_set.reshape(kv_heads, -1) - torch.arange(kv_heads, device=kv_set.device).unsqueeze(1) * head_dim
    group = torch.arange(heads, device=kv_set.device) // (heads // kv_heads)
    return (within[group] + torch.arange(heads, device=kv_set.device).unsqueeze(1) * head_dim).reshape(-1)


def _slice(t: torch.Tensor, axis_roles: tuple, sets: dict, diagonal: bool = False) -> torch.Tensor:
    """``t`` cut to the sets along each axis's role. Where the sets hold a basis for the residual role
    (``ladder_init=pca``, ladder_basis.py), that axis is rotated onto the basis instead of sliced; ``diagonal``: t is
    a per-coordinate scale (a norm's weight), which becomes the diagonal of P^T diag(t) P."""
    for axis, role in enumerate(axis_roles):
        if role is None:
            continue
        basis = sets.get(f"{role}_basis")
        if basis is not None:
            basis = basis.to(t.device, torch.float32)
            rotated = (
                t.float() @ basis.square() if diagonal else (t.float().movedim(axis, -1) @ basis).movedim(-1, axis)
            )
            t = rotated.to(t.dtype)
            continue
        if role == "QKV":
            third = t.shape[axis] // 3
            idx = torch.cat([sets["QK"], sets["QK"] + third, sets["VO"] + 2 * third])
        else:
            idx = sets[role]
        t = t.index_select(axis, idx.to(t.device))
    return t


@torch.no_grad()
def copy_pruned(side_layer: nn.Module, backbone_layer: nn.Module, roles: dict, sets: dict) -> list[str]:
    """Copy the pruned backbone weights into one side block; returns names left at random init."""
    backbone_params = dense_parameters(backbone_layer)  # a 4-bit/int8 backbone dequantised
    untouched = []
    for name, p in side_layer.named_parameters():
        if name not in roles:
            untouched.append(name)
            continue
        # a 1-D weight on the residual axis is a norm's per-coordinate scale (a bias is a vector in the stream)
        diagonal = p.dim() == 1 and name.endswith("weight")
        source = _slice(backbone_params[name].detach(), roles[name], sets, diagonal)
        if source.shape != p.shape:
            raise RuntimeError(f"pruning {name}: backbone slice {tuple(source.shape)} != side {tuple(p.shape)}")
        p.copy_(source)
    return untouched


def layer_importance(importance: dict[str, AxisSums], prefix: str) -> dict[str, AxisSums]:
    """The importances of one block, keyed by the name inside the block."""
    return {n[len(prefix) :]: t for n, t in importance.items() if n.startswith(prefix)}
