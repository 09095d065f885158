"""Each method lowers the training loss on real data (SST-2 rows in fixtures/glue-real, MiniLM backbone)."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F

from helpers import batch_of, build_method
from ladderlab.methods.lst.model import LadderSideNetwork

# Learning rates for a 12-step check on one fixed set of 32 sentences (the paper's rates are for 10+ epochs).
LR = {"lst": 3e-3, "lora": 1e-3, "adapter": 1e-3, "bitfit": 3e-3, "prompt": 3e-2, "full": 5e-5}
EXTRA = {"prompt": {"prompt_tokens": 20}}  # 20 prompt vectors keep this test fast; 100 is the default


def mean_loss(model, batches) -> float:
    model.eval()
    with torch.no_grad():
        return sum(F.cross_entropy(model(b), b["labels"]).item() for b in batches) / len(batches)


@pytest.mark.parametrize("method", list(LR))
def test_training_lowers_the_loss_on_sst2(minilm, sst2, method):
    torch.manual_seed(0)
    model, exp = build_method(minilm, sst2, method, init="magnitude", **EXTRA.get(method, {}))
    batches = [batch_of(minilm, sst2.train[i : i + 8]) for i in range(0, 32, 8)]
    if isinstance(model, LadderSideNetwork):  # ladder_init pca (the default) reads the batches' taps
        model.initialize(iter(batches), nullcontext, init="magnitude", loss_fn=None)
    before = mean_loss(model, batches)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR[method])
    for step in range(12):
        model.train()
        batch = batches[step % len(batches)]
        F.cross_entropy(model(batch), batch["labels"]).backward()
        opt.step()
        opt.zero_grad()
    after = mean_loss(model, batches)
    print(f"\n{method}: training loss {before:.4f} -> {after:.4f}")
    assert after < before - 0.02
