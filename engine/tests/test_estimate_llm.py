"""Decoder-LLM memory (issue 14, part 3): the LM head only at the loss's positions and chunked with the loss, and
quantised backbones in the estimator, on tiny shapes. The verdicts at the issue's full-size shapes (8B and 70B over
nf4, Llama-3.2-3B against LoRA) take minutes of tracing: ``bench/llm_memory.py --check`` prints and checks them.
"""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch.utils.checkpoint import checkpoint

from ladderlab.backbones import load_backbone
from ladderlab.bench import BenchSetup, Case, measure
from ladderlab.config import build_experiment
from ladderlab.data import instruct
from ladderlab.estimate import estimate_all, estimate_run
from ladderlab.estimate_quant import Linear4bitShape, Linear8bitShape, nf4_bytes
from ladderlab.families import llama
from ladderlab.methods import BUILDERS
from ladderlab.step import loss_for, step_loss, with_loss_positions

pytestmark = pytest.mark.usefixtures("one_thread", "estimates")  # conftest.py; the estimates start at once
CPU = torch.device("cpu")


def instruct_exp(backbone: str, method: str, **fields):
    fields = {"backbone": backbone, "task": "instruct", "methods": [method], "device": "cpu", **fields}
    return build_experiment({}, fields)


# the real-step comparisons' shape
NF4 = {"batch_size": 4, "max_length": 48, "init": "random", "r": 4, "backbone_quant": "nf4", "precision": "bf16"}
ESTIMATES = {  # name -> (method, fields, estimate_all's row (param bytes) or estimate_run's result)
    "lst-nf4": ("lst", NF4, False),
    "lora-nf4": ("lora", NF4, False),
    "rows-nf4": ("lora", {"batch_size": 2, "max_length": 32, "backbone_quant": "nf4"}, True),
    "rows-int8": ("lora", {"batch_size": 2, "max_length": 32, "backbone_quant": "int8"}, True),
}


@pytest.fixture(scope="module")
def estimates():
    """Every estimate of this file, started together when the module starts: each runs in its own child process (a
    few seconds of imports), two at a time, while the tests run; a test waits only for its own (``.result()``)."""

    def run(method: str, fields: dict, row: bool):
        exp = instruct_exp("preset:llama-tiny", method, **fields)
        return estimate_all(exp)["rows"][0] if row else estimate_run(exp, method, CPU)

    with ThreadPoolExecutor(2) as pool:
        yield {name: pool.submit(run, *job) for name, job in ESTIMATES.items()}


def left_padded_batch(vocab: int) -> dict:
    """3 rows of 12: left padding of 0, 3 and 5, prompts of uneven length, labels (next tokens) on the response."""
    torch.manual_seed(1)
    ids = torch.randint(5, vocab, (3, 12))
    mask = torch.ones_like(ids)
    labels = ids.roll(-1, dims=1)
    for row, (pad, prompt) in enumerate([(0, 4), (3, 2), (5, 5)]):
        mask[row, :pad] = 0
        labels[row, : pad + prompt] = instruct.IGNORE
    labels[:, -1] = instruct.IGNORE
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@pytest.mark.parametrize("preset", ["llama-tiny", "gemma2-tiny"])  # Gemma 2: soft-capped logits
@pytest.mark.parametrize("method", ["lst", "lora", "full"])
def test_the_lm_head_at_the_response_only_chunked_gives_the_same_loss_and_gradients(preset, method, monkeypatch):
    backbone = load_backbone(f"preset:{preset}")
    exp = instruct_exp(f"preset:{preset}", method, r=4)
    torch.manual_seed(0)
    model = BUILDERS[method](backbone, backbone.new_task_model(instruct.SPEC, 0), exp).train()
    batch, loss_fn = left_padded_batch(backbone.config.vocab_size), loss_for(instruct.SPEC)
    params = [p for p in model.parameters() if p.requires_grad]
    responses = int((batch["labels"] != instruct.IGNORE).sum())

    every = loss_fn(model(batch), batch["labels"])  # (B, L, V) logits, -100 ignored
    every_grads = torch.autograd.grad(every, params)
    positioned = with_loss_positions(model, batch)
    head_output = model({k: v for k, v in positioned.items() if k != llama.LOSS_TARGETS})
    assert head_output.shape == (responses, backbone.config.vocab_size)  # the LM head at the response only
    monkeypatch.setattr(llama, "LOGITS_PER_CHUNK", 4 * backbone.config.vocab_size)  # 4 positions a chunk
    chunks = []
    monkeypatch.setattr(llama, "checkpoint", lambda f, *a, **k: chunks.append(a[0].shape[0]) or checkpoint(f, *a, **k))
    chunked = step_loss(model, positioned, loss_fn)  # the training step's: loss and head a chunk at a time
    chunked_grads = torch.autograd.grad(chunked, params)

    assert chunks == [4] * (responses // 4) + ([responses % 4] if responses % 4 else [])
    assert chunked.item() == pytest.approx(every.item(), abs=1e-6)
    for a, b in zip(every_grads, chunked_grads, strict=True):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5)


def test_quantised_stand_ins_hold_bitsandbytes_storage_exactly():
    """Against bitsandbytes' own quantisers (CPU kernels) where it is installed; the formula otherwise."""
    linear = torch.nn.Linear(192, 96, bias=False).requires_grad_(False)
    nf4 = Linear4bitShape(linear, torch.bfloat16)
    nf4_total = sum(t.nbytes for t in [*nf4.parameters(), *nf4.buffers()])
    int8 = Linear8bitShape(linear)
    int8_total = sum(t.nbytes for t in [*int8.parameters(), *int8.buffers()])
    assert nf4_total == nf4_bytes(96, 192) == 96 * 192 // 2 + 4 * (96 * 192 // 64)
    bnb = pytest.importorskip("bitsandbytes.functional")
    packed, state = bnb.quantize_4bit(linear.weight, quant_type="nf4", blocksize=64)
    assert nf4_total == packed.nbytes + state.absmax.nbytes
    codes, scales, _ = bnb.int8_vectorwise_quant(linear.weight.half())
    assert int8_total == codes.nbytes + scales.nbytes


@pytest.mark.parametrize("method", ["lst", "lora"])  # LST over nf4 (QST) and QLoRA
def test_nf4_estimate_within_10pct_of_a_real_bitsandbytes_step(method, estimates):
    """Where bitsandbytes' CPU kernels and the quantised loader (quant.QuantisedLoad) are here (the dev extra has
    them): the estimate from shapes against the same steps traced on the real 4-bit backbone, tiny Llama, bf16: the
    instruct step's chunked LM head and loss, LoRA through PEFT, LST's checkpointed side."""
    pytest.importorskip("bitsandbytes")
    loader = getattr(importlib.import_module("ladderlab.quant"), "QuantisedLoad", None)
    if loader is None:
        pytest.skip("this version has no quantised loader (quant.QuantisedLoad)")
    exp = instruct_exp("preset:llama-tiny", method, **NF4)
    backbone = load_backbone(exp.backbone)
    backbone.quant = loader.of(exp, backbone.family, CPU)
    setup = BenchSetup(backbone, instruct.SPEC, exp, CPU, backbone.quant.task_model(backbone, instruct.SPEC))
    measured = measure(setup, Case(method, "paper", "bf16"), warmup=1, steps=1)
    assert estimates[f"{method}-nf4"].result()["peak_bytes"] == pytest.approx(measured["peak_bytes"], rel=0.10)


QUANTISED_BYTES = {"nf4": nf4_bytes, "int8": lambda out, in_: out * in_ + 4 * out}  # + int8's fp32 row scales


@pytest.mark.parametrize("kind", ["nf4", "int8"])
def test_a_quantised_backbone_is_estimated_without_a_gpu_or_bitsandbytes(kind, estimates):
    """``estimate --backbone-quant`` needs shapes only, and its parameter bytes are exact: the fp32 model and LoRA's
    matrices (and buffers), less every layer Linear's fp32 weight, plus its quantised storage (the LM head stays
    fp32); the quantised layers' forward and backward run on fake tensors."""
    exp = instruct_exp("preset:llama-tiny", "lora", **ESTIMATES[f"rows-{kind}"][1])
    row = estimates[f"rows-{kind}"].result()
    task_model = load_backbone(exp.backbone).new_task_model(instruct.SPEC, 0)
    linears = [m for m in task_model.model.layers.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 7 * task_model.config.num_hidden_layers
    fp32 = 4 * (sum(p.numel() for p in task_model.parameters()) + row["trainable_params"])
    fp32 += sum(b.nbytes for b in task_model.buffers())  # the rotary frequencies: counted with the parameters
    stored = QUANTISED_BYTES[kind]
    quantised = sum(4 * m.weight.numel() - stored(m.out_features, m.in_features) for m in linears)
    assert row["components"]["param"] == fp32 - quantised
