"""A quantised frozen backbone (backbone_quant, quant.py) on the CPU, through bitsandbytes' own CPU kernels and
transformers' quantised loader: LST over a 4-bit NF4 backbone (the QST setting) and QLoRA (LoRA over it) memorise the
32 instruction examples of test_llama_family.py and generate them back; int8 (LLM.int8()) trains too. The backbone's
quantised bytes are the same after training, it never enters autograd under LST, and the pruning init reads its
dequantised weights. Without bitsandbytes, or on a family it cannot serve, the run is refused (exit 2)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import bitsandbytes as bnb
import pytest
import torch
from peft.tuners.lora.bnb import Linear4bit as LoraLinear4bit

import helpers
from ladderlab import cli
from ladderlab.backbones import load_backbone
from ladderlab.comparison import prepare
from ladderlab.config import build_experiment
from ladderlab.data import instruct
from ladderlab.data.pipeline import Batcher
from ladderlab.errors import BadInput
from ladderlab.quant import QuantisedLoad, dense_parameters
from ladderlab.step import loss_for
from test_cli_generate import PAIRS, ask, memorising_experiment, worker
from test_llama_family import CPU, FAMILIES, answers, build, examples, memorise, write_tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py

QUANTISED = {"nf4": bnb.nn.Linear4bit, "int8": bnb.nn.Linear8bitLt}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny Llama checkpoint folder (test_llama_family.py's: std 0.2 weights, a 54-word tokenizer)."""
    return write_tiny_checkpoint("llama", tmp_path_factory.mktemp("llama"))


def quantised(folder, kind: str):
    backbone = load_backbone(str(folder))
    backbone.quant = QuantisedLoad.of(build_experiment({}, {"backbone_quant": kind}), backbone.family, CPU)
    return backbone


def stored_bytes(model) -> dict[str, torch.Tensor]:
    """Every quantised weight as stored (packed 4-bit codes or int8), with its scales."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, tuple(QUANTISED.values())):
            name = name.removesuffix(".base_layer")  # the layer LoRA wraps (PEFT) under the same name
            w = module.weight
            out[name] = w.data.clone()
            # int8's row scales move from the weight to the layer's state at its first forward
            scale = w.quant_state.absmax if hasattr(w, "quant_state") else module.state.SCB if w.SCB is None else w.SCB
            out[name + ".scale"] = scale.clone()
    return out


def backbone_of(model):
    """The transformers causal LM under a method (PEFT wraps it for LoRA)."""
    inner = model.model
    return inner.get_base_model() if hasattr(inner, "get_base_model") else inner


@pytest.mark.parametrize("method", ["lst", "lora"])
def test_nf4_backbone_memorises_and_is_left_unchanged(folder, method):
    backbone = quantised(folder, "nf4")
    model, loss = memorise(backbone, method)  # test_llama_family's steps and learning rates
    assert loss < 0.1, f"{method} over nf4: final loss {loss:.3f}"
    generated, references = answers(model, backbone)
    assert generated == references
    base = backbone_of(model)
    layers = base.model.layers
    assert all(isinstance(getattr(layers[0].mlp, p), bnb.nn.Linear4bit) for p in ("gate_proj", "up_proj", "down_proj"))
    assert layers[0].mlp.up_proj.weight.quant_state.quant_type == "nf4"
    assert not isinstance(base.lm_head, bnb.nn.Linear4bit)  # the LM head stays as loaded
    # the frozen 4-bit bytes after training are those of a fresh load: training never wrote to them
    fresh = stored_bytes(backbone.new_task_model(instruct.SPEC, 0))
    after = stored_bytes(base)
    assert fresh.keys() == after.keys() and len(fresh) == 2 * 7 * 4
    assert all(torch.equal(fresh[k], after[k]) for k in fresh)
    if method == "lora":  # QLoRA: PEFT's LoRA layer over the 4-bit one, trained
        assert isinstance(layers[0].self_attn.q_proj, LoraLinear4bit)
        trained = model.trainable_named_parameters()
        assert trained and all("lora_" in n for n in trained)
    else:  # the side network is ordinary fp32 layers
        assert not any(isinstance(m, tuple(QUANTISED.values())) for m in model.side.modules())
        assert all(p.dtype == torch.float32 for p in model.side.parameters())


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "llama"])  # llama: the test above
@pytest.mark.parametrize("method", ["lst", "lora"])
def test_every_decoder_family_memorises_over_nf4(family, method, tmp_path):
    """Mistral, Qwen2/3 and Gemma 1/2/3 differ in what the loader quantises (Gemma's tied and scaled embeddings,
    Qwen3's q/k norms, Gemma 2/3's extra norms and soft-capping), so each family's tiny shape goes through nf4 too."""
    backbone = quantised(write_tiny_checkpoint(family, tmp_path / family), "nf4")
    model, loss = memorise(backbone, method)
    assert loss < 0.1, f"{method} over nf4 on {family}: final loss {loss:.3f}"
    generated, references = answers(model, backbone)
    assert generated == references
    layers = backbone_of(model).model.layers
    assert isinstance(layers[0].mlp.up_proj, bnb.nn.Linear4bit) or isinstance(
        layers[0].mlp.up_proj.base_layer, bnb.nn.Linear4bit
    )


def test_lst_keeps_the_4bit_backbone_out_of_autograd(folder):
    backbone = quantised(folder, "nf4")
    model = build(backbone, "lst", r=4, init="magnitude")
    assert not any(p.requires_grad for p in model.model.parameters())
    outputs = []
    hooks = [layer.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for layer in model.model.model.layers]
    batch = next(Batcher(backbone.tokenizer, CPU).batches(instruct.encode(examples(), backbone.tokenizer, 64), 8))
    loss_for(instruct.SPEC)(model(batch), batch["labels"]).backward()
    for h in hooks:
        h.remove()
    assert len(outputs) == 4 and all(o.grad_fn is None and not o.requires_grad for o in outputs)
    assert all(p.grad is None for p in model.model.parameters())
    assert all(p.grad is not None and p.grad.any() for p in model.trainable_named_parameters().values())


def test_fisher_pruning_copies_the_dequantised_backbone(folder):
    """The Fisher pass runs through the 4-bit layers, and the side blocks start as slices of their dequantised
    weights (the packed storage has another shape: reading it raw would fail or copy codes)."""
    backbone = quantised(folder, "nf4")
    model = build(backbone, "lst", r=4, init="fisher", ladder_init="selection")  # slices, not a rotation of them
    features = instruct.encode(examples(), backbone.tokenizer, 64)
    batches = list(Batcher(backbone.tokenizer, CPU).batches(features, 16))
    model.initialize(batches, lambda _name: contextlib.nullcontext(), init="fisher", loss_fn=loss_for(instruct.SPEC))
    for k, i in enumerate(model.kept):
        sets = model.pruned_sets["decoder"][k]
        side, source = model.side["decoder"].layers[k], model.model.model.layers[i]
        weights = dense_parameters(source)
        for name, rows, cols in (("self_attn.k_proj", "QK", "R"), ("mlp.down_proj", "R", "F")):
            packed = source.get_submodule(name).weight
            assert weights[name + ".weight"].shape == packed.quant_state.shape != packed.shape
            assert torch.equal(side.get_submodule(name).weight, weights[name + ".weight"][sets[rows]][:, sets[cols]])


@pytest.mark.parametrize("method", ["lst", "lora"])
def test_int8_backbone_trains(folder, method, caplog):
    backbone = quantised(folder, "int8")
    model = build(backbone, method, **({"r": 4, "init": "magnitude"} if method == "lst" else {"lora_rank": 8}))
    assert isinstance(backbone_of(model).model.layers[1].self_attn.o_proj, bnb.nn.Linear8bitLt)
    before = stored_bytes(backbone_of(model))
    batch = next(Batcher(backbone.tokenizer, CPU).batches(instruct.encode(examples(), backbone.tokenizer, 64), 32))
    optimizer = torch.optim.AdamW(model.trainable_named_parameters().values(), lr=1e-2)
    losses = []
    for _ in range(8):
        loss = loss_for(instruct.SPEC)(model(batch), batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses
    # bitsandbytes logs its fp16 cast of int8 inputs at every matmul (16 a step here): said once per process
    assert sum("cast from torch.float32 to float16" in r.getMessage() for r in caplog.records) <= 1
    after = stored_bytes(backbone_of(model))
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_preset_loads_quantised_through_the_same_loader():
    backbone = load_backbone("preset:llama-tiny")
    backbone.quant = QuantisedLoad.of(build_experiment({}, {"backbone_quant": "nf4"}), backbone.family, CPU)
    model = backbone.new_task_model(instruct.SPEC, 0)
    assert isinstance(model.model.layers[3].self_attn.v_proj, bnb.nn.Linear4bit) and model.is_loaded_in_4bit


def test_qlora_and_lst_over_nf4_run_through_the_cli(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": e.prompt, "response": e.response}) + "\n" for e in examples()))
    args = "compare --methods lst,lora --task instruct --backbone-quant nf4 --epochs 1 --batch-size 8 --json --data"
    code = cli.main(helpers.cli(args, data) + ["--backbone", str(folder)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = json.loads(captured.out)["rows"]
    assert [r["method"] for r in rows] == ["lst", "lora"]
    assert all(0 < r["metrics"]["token_loss"] < 10 for r in rows)


@pytest.mark.parametrize("preset, family", [("gpt2-tiny", "decoder"), ("t5-tiny", "seq2seq")])
def test_a_family_that_cannot_be_quantised_is_refused(preset, family):
    exp = build_experiment({}, {"backbone": f"preset:{preset}", "backbone_quant": "nf4", "device": "cpu"})
    with pytest.raises(BadInput, match=f"not available for this backbone's family \\({family}\\)") as e:
        prepare(exp)  # before any data is read (the experiment names none)
    assert "--backbone-quant none" in (e.value.hint or "")


def test_without_bitsandbytes_the_run_is_refused_with_the_install(folder, tmp_path):
    """A real run in a fresh interpreter where importing bitsandbytes fails, as where it is not installed."""
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "question 1", "response": "red"}) + "\n")
    blocked = "import sys; sys.modules['bitsandbytes'] = None; from ladderlab.cli import main; sys.exit(main())"
    args = ["run", "--method", "lora", "--task", "instruct", "--backbone-quant", "nf4", "--backbone", str(folder)]
    result = subprocess.run(
        [sys.executable, "-c", blocked, *args, "--data", str(data), "--runs-dir", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 2, result.stderr
    assert "bitsandbytes, which is not installed here" in result.stderr
    assert "pip install 'ladderlab[quant]'" in result.stderr


@pytest.mark.parametrize("kind", ["nf4", "int8"])
def test_accounted_parameter_bytes_include_the_scales(kind):
    """memory.parameter_bytes counts a quantised weight's scales too (they are not in parameters()): nf4's packed
    bytes plus its per-block absmax (double-quantised: uint8, with their own absmax and code tables), int8's bytes
    plus the fp32 scale of each row."""
    from ladderlab.memory import parameter_bytes

    weight = torch.nn.Linear(256, 512, bias=False).weight.data
    if kind == "nf4":
        layer = bnb.nn.Linear4bit(256, 512, bias=False, quant_type="nf4")
        layer.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4")
    else:
        layer = bnb.nn.Linear8bitLt(256, 512, bias=False, has_fp16_weights=False)
        layer.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
    layer = layer.to("cpu")  # quantises
    packed = 256 * 512 // 2 if kind == "nf4" else 256 * 512
    if kind == "nf4":
        state = layer.weight.quant_state
        scales = [state.absmax, state.code, state.state2.absmax, state.state2.code]
        assert state.absmax.numel() == 256 * 512 // 64  # one per block of 64
    else:
        scales = [layer.weight.SCB]
        assert layer.weight.SCB.numel() == 512 and layer.weight.SCB.dtype == torch.float32
    expected = packed + sum(t.numel() * t.element_size() for t in scales)
    assert parameter_bytes(layer) == expected > packed


def test_a_run_over_nf4_generates_over_nf4_again_and_is_not_exported(tmp_path, capsys):
    """Try Model's worker (``ladderlab generate``) rebuilds the run over the backbone it trained on, 4-bit again (not
    the full-precision checkpoint, which would cost four times the memory and answer from other activations), and gives
    the memorised answers back; the ONNX export refuses the run before loading anything."""
    from ladderlab.cli_generate import Generator

    experiment = tmp_path / "memorise.ladder.json"
    experiment.write_text(json.dumps({**memorising_experiment(tmp_path), "backbone_quant": "nf4"}))
    assert cli.main(helpers.cli("compare --json --config", experiment, "--runs-dir", tmp_path / "runs")) == 0
    (run,) = (d for d in (tmp_path / "runs").iterdir() if not d.name.startswith("."))
    assert json.loads((run / "summary.json").read_text())["metrics"]["exact_match"] == 100.0
    generator = Generator(str(run), "cpu")
    assert isinstance(backbone_of(generator.model).model.layers[0].mlp.up_proj, bnb.nn.Linear4bit)
    process = worker(run, "--device", "cpu")
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["device"] == "cpu"
        assert ask(process, {"prompt": "question 5 white"})["text"] == PAIRS["question 5 white"]
    finally:
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    capsys.readouterr()
    assert cli.main(["export", str(run)]) == 2
    assert "trained over a nf4 backbone; bitsandbytes' quantised layers have no ONNX form" in capsys.readouterr().err
