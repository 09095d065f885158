"""The side network's residual basis for ``ladder_init=pca`` (issue 16): the top d/r principal directions of the
backbone's taps on the init batches, instead of the pruning's d/r residual coordinates R.

The side network's residual stream has ONE basis, shared by every ladder, every side block and the upsample, so the
basis P (d x d/r, orthonormal columns) is chosen from all of a stack's taps at once (the embedding tap and every kept
layer's output): the top eigenvectors of the sum of their second moments, each tap's scaled to unit trace so that no
layer's magnitude outvotes the others. Uncentered, because the ladders are linear maps without an offset: P P^T x is
then the best rank-d/r reconstruction of the taps themselves. With P the side network reads and writes P's
coordinates everywhere (pruning.copy_pruned rotates the residual axis of every copied weight: W P for a matrix reading
the stream, P^T W for one writing it, P^T b for a bias; a norm's per-coordinate scale becomes the diagonal of
P^T diag(gamma) P); the ladders start as P^T and the upsample as P. Selection is the special case P = I[:, R].
"""

from __future__ import annotations

import contextlib

import torch

BASIS = "R_basis"  # the index-set entry holding a stack's basis (stored in the init cache with the sets)
CROSS_BASIS = "RX_basis"  # a decoder's cross-attention reads the encoder side's residual, in the encoder's basis


class TapMoments:
    """Each stack's tap second moments over real tokens, added batch by batch: by the Fisher pass's own forward
    (``collecting``: no second pass over the backbone), or by ``read`` for an init that runs none (magnitude)."""

    def __init__(self):
        self.sums: dict[str, dict] = {}  # stack -> tap key -> [sum of x^T x (d x d, fp32), token count]

    @torch.no_grad()
    def add(self, taps: dict[str, dict], mask: torch.Tensor | None) -> None:
        for stack, stack_taps in taps.items():
            for key, tap in stack_taps.items():
                x = tap.detach().float()
                if mask is not None and mask.shape == x.shape[:2]:
                    x = x[mask.bool()]
                x = x.reshape(-1, x.shape[-1])
                acc = self.sums.setdefault(stack, {}).setdefault(key, [torch.zeros(x.shape[-1], x.shape[-1]), 0])
                acc[0] += (x.T @ x).cpu()
                acc[1] += x.shape[0]

    @contextlib.contextmanager
    def collecting(self, network, batch: dict):
        """While a forward of ``network``'s backbone runs inside, its tap hooks hand this batch's taps here."""
        taps: dict[str, dict] = {s.name: {} for s in network.stack_infos}
        network._taps = taps
        try:
            yield
        finally:
            network._taps = None
        self.add(taps, batch.get("attention_mask"))

    @torch.no_grad()
    def read(self, network, batches) -> TapMoments:
        """One frozen forward per batch, for its taps alone."""
        for batch in batches:
            with self.collecting(network, batch):
                network._run_backbone(batch, network._taps)
        return self

    def normalised(self) -> dict[str, torch.Tensor]:
        """stack -> sum over its taps of each tap's second moment at unit trace (d x d, fp32)."""
        if not self.sums:
            raise ValueError("ladder_init=pca needs init batches, and there were none")
        return {
            stack: sum(m / m.trace() for m, n in per_tap.values() if n)  # type: ignore[misc]
            for stack, per_tap in self.sums.items()
        }


def top_directions(moment: torch.Tensor, k: int) -> torch.Tensor:
    """The top-k eigenvectors of a symmetric moment as columns (d x k), largest first, each signed so that its
    largest entry is positive (eigh's sign is arbitrary; this makes the basis a function of the data alone)."""
    values, vectors = torch.linalg.eigh(moment.double())
    top = vectors[:, values.argsort(descending=True)[:k]]
    peak = top.gather(0, top.abs().argmax(0, keepdim=True))
    return (top * peak.sign()).float()


def add_bases(sets: dict[str, list[dict[str, torch.Tensor]]], moments: TapMoments) -> None:
    """Put each stack's basis into its index sets (every kept layer's, like R), and the encoder's as the
    cross-attention basis where a decoder has one."""
    per_stack = moments.normalised()
    bases = {stack: top_directions(per_stack[stack], len(layers[0]["R"])) for stack, layers in sets.items()}
    first = next(iter(bases.values()))
    for stack, layers in sets.items():
        for layer in layers:
            layer[BASIS] = bases[stack]
            if "RX" in layer:
                layer[CROSS_BASIS] = first


def reconstruction_error(x: torch.Tensor, basis: torch.Tensor) -> float:
    """Share of the energy of rows x (n x d) that the columns of ``basis`` (d x k, orthonormal) do not keep."""
    x = x.float()
    kept = (x @ basis) @ basis.T
    return float((x - kept).square().sum() / x.square().sum())
