"""Adapters (Houlsby et al., 2019): a bottleneck after every self-attention and every feed-forward sublayer, as the
LST paper's baseline; ``adapter_placement=every_sublayer`` adds one after each cross-attention (T5's decoder).

Each adapter reads the sublayer's output projection and adds its own residual: h + up(gelu(down(h))).
``up`` starts at zero so the backbone's function is unchanged at step 0. Adapters, layer norms and the
task head train. The adapter is attached as a child of the projection it follows (so it is saved with the
model) and applied by a forward hook, which works for every family without editing its forward code.
"""

from torch import nn
from transformers.pytorch_utils import Conv1D

from .base import MethodModel, freeze_all, is_norm, unfreeze_modules
from .freeze import frozen_part


class Adapter(nn.Module):
    def __init__(self, width: int, bottleneck: int):
        super().__init__()
        self.down = nn.Linear(width, bottleneck)
        self.act = nn.GELU()
        self.up = nn.Linear(bottleneck, width)
        nn.init.normal_(self.down.weight, std=1e-2)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h):
        return h + self.up(self.act(self.down(h)))


def _apply_adapter(module, _inputs, output):
    return module.adapter(output)


def out_width(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return module.out_features
    if isinstance(module, Conv1D):  # GPT-2's projections
        return module.nf
    raise TypeError(f"an adapter follows a Linear or Conv1D projection, not a {type(module).__name__}")


def insert_adapters(
    model: nn.Module, stacks, points: tuple[str, ...], bottleneck: int, skip: frozenset[int] = frozenset()
) -> int:
    """Attach an adapter after each of the ``points`` (paths inside a block) found in every block but those in
    ``skip`` (their id(): the layers freeze_layers freezes)."""
    count = 0
    for stack in stacks:
        for layer in stack.layers:
            if id(layer) in skip:
                continue
            for point in points:
                try:
                    module = layer.get_submodule(point)
                except AttributeError:
                    continue  # e.g. cross-attention exists only in decoder blocks
                module.adapter = Adapter(out_width(module), bottleneck).to(module.weight.device)
                module.register_forward_hook(_apply_adapter)
                count += 1
    return count


def build(backbone, model, exp) -> MethodModel:
    family = backbone.family
    frozen = frozen_part(family, model, exp.freeze_layers)
    freeze_all(model)
    points = family.adapter_points
    if exp.adapter_placement == "every_sublayer":
        points += family.adapter_cross_points
    count = insert_adapters(model, family.stacks(model), points, exp.adapter_size, skip=frozen.layers)
    if count == 0:
        raise RuntimeError(f"no adapter insertion points found in the {family.name} family's blocks")
    for module in model.modules():
        if is_norm(module) or isinstance(module, Adapter):
            for p in module.parameters():
                p.requires_grad_(True)
    unfreeze_modules(model, family.head_modules)
    frozen.freeze()  # the layer norms in and below the frozen layers
    return MethodModel(family, model)
