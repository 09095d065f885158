"""Memory accounting: LST saves far fewer bytes for backward than LoRA on the same model and batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from helpers import batch_of, build_method
from ladderlab.memory import PhaseMemory, SavedTensorMeter, optimizer_bytes


def saved_bytes(model, batch) -> int:
    model.train()
    meter = SavedTensorMeter(model)
    with meter.measure():
        loss = F.cross_entropy(model(batch), batch["labels"])
    loss.backward()
    return meter.bytes


def test_lst_saves_under_035x_of_lora(minilm, sst2):
    batch = batch_of(minilm, sst2.train[:32], max_length=128)
    lst, _ = build_method(minilm, sst2, "lst")
    lora, _ = build_method(minilm, sst2, "lora")
    lst_bytes, lora_bytes = saved_bytes(lst, batch), saved_bytes(lora, batch)
    ratio = lst_bytes / lora_bytes
    print(
        f"\nsaved for backward, batch {tuple(batch['input_ids'].shape)}: LST {lst_bytes / 2**20:.2f} MiB, "
        f"LoRA {lora_bytes / 2**20:.2f} MiB, LST/LoRA = {ratio:.3f}"
    )
    assert ratio < 0.35


def test_meter_counts_each_storage_once_and_skips_parameters():
    layer = torch.nn.Linear(8, 8)
    x = torch.randn(4, 8, requires_grad=True)
    meter = SavedTensorMeter(layer)
    with meter.measure():
        y = layer(x)  # saves x (and the weight, a parameter: not counted)
        z = (y * y).sum()  # saves y once even though it is used twice
    z.backward()
    assert meter.bytes == x.numel() * 4 + y.numel() * 4


def test_phase_report_counts_gradients_and_adam_state():
    layer = torch.nn.Linear(10, 10)
    opt = torch.optim.AdamW(layer.parameters())
    layer(torch.randn(2, 10)).sum().backward()
    opt.step()
    phase = PhaseMemory(torch.device("cpu"))
    phase.begin()
    report = phase.report(layer, opt, with_grads=True)
    n_bytes = (100 + 10) * 4
    assert report["param_bytes"] == n_bytes and report["grad_bytes"] == n_bytes
    assert optimizer_bytes(opt) >= 2 * n_bytes  # exp_avg and exp_avg_sq (+ step counters)
    assert report["peak_allocated_bytes"] is None  # no CUDA here: null, never a made-up number
