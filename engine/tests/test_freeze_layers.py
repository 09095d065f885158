"""freeze_layers=N for the baselines (the LST paper's Figure 6), on real tiny backbones of every family (bert-tiny,
gpt2-tiny, t5-tiny presets) and real SST-2 rows: each method trains exactly what it trains at N=0 outside the first N
layers and the embeddings, inserts nothing there, autograd saves no tensor while those layers run (it does at N=0: the
check can fail), a step trains, and N >= the layer count (T5: encoder and decoder together) is refused naming it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import SST2, build_method, experiment
from ladderlab.backbone_rules import check_backbone
from ladderlab.backbones import load_backbone
from ladderlab.data import load_task
from ladderlab.errors import BadInput
from ladderlab.methods.freeze import frozen_part

METHODS = ("adapter", "lora", "bitfit", "full")
# T5: 5 of its 4 + 4 layers is the whole encoder and the decoder's first block (counted encoder, then decoder)
FROZEN = {"bert-tiny": 1, "gpt2-tiny": 2, "t5-tiny": 5}
CASES = [(preset, method) for preset in FROZEN for method in METHODS]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.fixture(scope="module")
def backbones():
    return {name: load_backbone(f"preset:{name}") for name in FROZEN}


@pytest.fixture(scope="module")
def task():
    return load_task("sst2", str(SST2), seed=0, max_train_examples=16, max_eval_examples=8)


def inner(name: str) -> str:
    """A method's parameter or module name as a path in the task model (less MethodModel's and PEFT's wrappers)."""
    for prefix in ("model.base_model.model.", "model."):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def frozen_names(backbone, task, n: int) -> tuple[str, ...]:
    part = frozen_part(backbone.family, backbone.new_task_model(task.spec, 0), n)
    return part.names


def held(name: str, parts: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in parts)


def trainable(method) -> dict[str, torch.nn.Parameter]:
    return {inner(n): p for n, p in method.named_parameters() if p.requires_grad}


def batch(backbone, examples) -> dict:
    enc = backbone.tokenizer(
        [e.text_a for e in examples], truncation=True, max_length=32, padding=True, return_tensors="pt"
    )
    return {**enc, "labels": torch.tensor([e.label for e in examples])}


def saved_inside(method, parts: tuple[str, ...], b: dict) -> tuple[list, torch.Tensor]:
    """(shapes autograd saved while a module of ``parts`` ran its forward, the loss)."""
    depth, saved = [0], []
    hooks = []
    for name, module in method.named_modules():
        if inner(name) in parts:
            hooks.append(module.register_forward_pre_hook(lambda *_: depth.__setitem__(0, depth[0] + 1)))
            hooks.append(module.register_forward_hook(lambda *_: depth.__setitem__(0, depth[0] - 1)))
    assert len(hooks) == 2 * len(parts), "every frozen module is found in the method's model"

    def pack(t):
        if depth[0]:
            saved.append(tuple(t.shape))
        return t

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = F.cross_entropy(method(b), b["labels"])
    finally:
        for h in hooks:
            h.remove()
    return saved, loss


@pytest.mark.parametrize(("preset", "method"), CASES, ids=[f"{p}-{m}" for p, m in CASES])
def test_trains_what_the_method_trains_outside_the_frozen_layers(backbones, task, preset, method):
    backbone, n = backbones[preset], FROZEN[preset]
    parts = frozen_names(backbone, task, n)
    whole, _ = build_method(backbone, task, method)
    frozen, _ = build_method(backbone, task, method, freeze_layers=n)
    expected = {name: p.numel() for name, p in trainable(whole).items() if not held(name, parts)}
    assert {name: p.numel() for name, p in trainable(frozen).items()} == expected
    assert any(held(name, parts) for name in trainable(whole)), "at N=0 the method trains in those layers"
    # nothing inserted there (no adapter, no LoRA module, no zero bias): the backbone's own parameters only
    fresh = {name for name, _ in backbone.new_task_model(task.spec, 0).named_parameters()}
    inserted = [inner(name) for name, _ in frozen.named_parameters() if held(inner(name), parts)]
    assert set(inserted) <= fresh, sorted(set(inserted) - fresh)[:5]


def test_lora_count_by_hand_and_t5_counts_encoder_then_decoder(backbones, task):
    bert = backbones["bert-tiny"]
    d, r = bert.config.hidden_size, experiment().lora_rank
    lora = [
        sum(p.numel() for p in trainable(build_method(bert, task, "lora", freeze_layers=k)[0]).values()) for k in (0, 1)
    ]
    assert lora[0] - lora[1] == 2 * (r * d + d * r)  # one layer's query and value: A (r x d) and B (d x r) each
    t5 = backbones["t5-tiny"]
    assert frozen_names(t5, task, 2) == ("shared", "encoder.block.0", "encoder.block.1")
    assert frozen_names(t5, task, 5) == ("shared", "encoder", "decoder.block.0")


@pytest.mark.parametrize(("preset", "method"), CASES, ids=[f"{p}-{m}" for p, m in CASES])
def test_autograd_saves_nothing_in_the_frozen_layers_and_a_step_trains(backbones, task, preset, method):
    backbone, n = backbones[preset], FROZEN[preset]
    parts = frozen_names(backbone, task, n)
    b = batch(backbone, task.train[:8])
    torch.manual_seed(0)
    whole, _ = build_method(backbone, task, method)
    whole.train()
    saved, _ = saved_inside(whole, parts, b)
    assert saved, "at N=0 the same layers save tensors for backward (so this check can fail)"

    model, _ = build_method(backbone, task, method, freeze_layers=n)
    model.train()
    saved, loss = saved_inside(model, parts, b)
    assert saved == [], f"the frozen layers saved tensors for backward: {saved[:5]}"
    params = trainable(model)
    before = {name: p.detach().clone() for name, p in params.items()}
    optimizer = torch.optim.AdamW(params.values(), lr=1e-2)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert all(p.grad is None for name, p in model.named_parameters() if held(inner(name), parts))
    assert any(not torch.equal(p, before[name]) for name, p in params.items()), "the step changed nothing"


@pytest.mark.parametrize(("preset", "layers"), [("bert-tiny", 4), ("t5-tiny", 8)])
def test_freezing_every_layer_is_refused_naming_freeze_layers(backbones, task, preset, layers):
    backbone = backbones[preset]
    exp = experiment(methods=["lora", "lst"], freeze_layers=layers - 1)
    check_backbone(exp, backbone.config)  # one layer left to train: fine
    with pytest.raises(BadInput, match=f"freeze_layers={layers} freezes every layer") as info:
        check_backbone(experiment(methods=["lora"], freeze_layers=layers), backbone.config)
    assert f"0 to {layers - 1}" in (info.value.hint or "")
    with pytest.raises(BadInput, match="freeze_layers"):
        build_method(backbone, task, "full", freeze_layers=layers)
    check_backbone(experiment(methods=["lst"], freeze_layers=layers), backbone.config)  # LST ignores the field
