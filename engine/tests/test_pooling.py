"""The experiment field pooling: what a BERT-family head reads, for every method (families/pooling.py).

Real MiniLM (the embedded default, a sentence-transformers checkpoint trained for mean pooling) on real SST-2 rows.
"""

from __future__ import annotations

import json

import pytest
import torch

from helpers import batch_of, build_method, experiment
from ladderlab.backbones import load_backbone
from ladderlab.errors import BadInput
from ladderlab.families.base import masked_mean
from ladderlab.families.pooling import checkpoint_pooling, resolve_pooling


def _st_folder(folder, **flags):
    """A folder with sentence-transformers' modules.json and a Pooling config with these pooling_mode flags."""
    (folder / "1_Pooling").mkdir(parents=True)
    modes = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")
    config = {"word_embedding_dimension": 384, **{f"pooling_mode_{m}": flags.get(m, False) for m in modes}}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


def test_auto_follows_the_checkpoints_pooling_config(minilm, sst2, tmp_path):
    assert checkpoint_pooling(minilm.folder) == "mean"  # the embedded default's 1_Pooling/config.json
    assert minilm.new_task_model(sst2.spec, 0).ladderlab_pooling == "mean"
    assert checkpoint_pooling(_st_folder(tmp_path / "cls", cls_token=True)) == "cls"
    # max pooling, or mean and max concatenated, is not a head we offer: auto falls back to the family's [CLS]
    assert checkpoint_pooling(_st_folder(tmp_path / "max", mean_tokens=True, max_tokens=True)) is None
    assert resolve_pooling("auto", minilm.family, tmp_path / "max") == "cls"
    assert resolve_pooling("auto", minilm.family, tmp_path / "no-such-folder") == "cls"  # a plain BERT folder
    assert resolve_pooling("auto", minilm.family, None) == "cls"  # a preset
    assert resolve_pooling("cls", minilm.family, minilm.folder) == "cls"  # asked wins over the checkpoint


def test_mean_reads_the_real_tokens_and_cls_the_pooler(minilm, sst2):
    short, long = sorted(sst2.train[:8], key=lambda e: len(e.text_a))[::7]  # the shortest and longest of 8
    batch = batch_of(minilm, [short, long])
    alone = batch_of(minilm, [short])
    assert batch["input_ids"].shape[1] > alone["input_ids"].shape[1]  # the short row is padded in the pair
    for pooling in ("mean", "cls"):
        model, _ = build_method(minilm, sst2, "full", pooling=pooling)
        model.eval()
        task_model = model.model
        with torch.no_grad():
            logits = model(batch)
            states = task_model.bert(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
            pooled = (
                masked_mean(states.last_hidden_state, batch["attention_mask"])
                if pooling == "mean"
                else task_model.bert.pooler(states.last_hidden_state)
            )
            torch.testing.assert_close(logits, task_model.classifier(pooled))
            # padding does not move either head: the short row's logits alone equal its logits beside the long one
            torch.testing.assert_close(model(alone)[0], logits[0], atol=1e-5, rtol=1e-4)
        if pooling == "mean":
            mean_logits = logits
    assert not torch.allclose(mean_logits, logits, atol=1e-3)  # the two heads read different vectors


def test_lora_and_lst_heads_follow_pooling(minilm, sst2):
    batch = batch_of(minilm, sst2.train[:4])
    real = batch["attention_mask"].bool()
    # LoRA: PEFT wraps the task model; at init (B = 0) its logits are the plain mean-pooled head's
    lora, _ = build_method(minilm, sst2, "lora", pooling="mean")
    lora.eval()
    with torch.no_grad():
        base = lora.model.get_base_model()
        hidden = base.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        torch.testing.assert_close(lora(batch), base.classifier(masked_mean(hidden, batch["attention_mask"])))
    # LST's side output: with mean, only the real tokens' states reach the head; with cls, position 0 does
    for pooling in ("mean", "cls"):
        lst, _ = build_method(minilm, sst2, "lst", pooling=pooling, init="random")
        lst.eval()
        states = torch.randn(4, batch["input_ids"].shape[1], 384, generator=torch.Generator().manual_seed(0))
        moved_pad, moved_cls = states.clone(), states.clone()
        moved_pad[~real] += 5.0
        moved_cls[:, 0] += 5.0
        with torch.no_grad():
            head = [lst.family.side_head(lst.model, s, batch) for s in (states, moved_pad, moved_cls)]
        if pooling == "mean":
            torch.testing.assert_close(head[0], lst.model.classifier(masked_mean(states, batch["attention_mask"])))
            torch.testing.assert_close(head[0], head[1])
        else:
            torch.testing.assert_close(head[0], head[1])  # [CLS] is never padding
            assert not torch.allclose(head[0], head[2])


def test_a_bad_pooling_is_refused_with_the_fix():
    with pytest.raises(BadInput, match="pooling") as info:
        experiment(pooling="max")
    assert "mean" in str(info.value.hint)
    gpt2 = load_backbone("preset:gpt2-tiny")
    with pytest.raises(BadInput, match="pooling=mean applies to encoder") as info:
        resolve_pooling("mean", gpt2.family, None)
    assert info.value.hint == "set pooling to auto"
    assert resolve_pooling("auto", gpt2.family, None) is None  # GPT-2 keeps its last-token head
