"""The T5 (encoder-decoder) and GPT-2 (decoder-only) families under every method, on tiny random presets.

Shapes: t5-tiny d=64, d_ff=256, 4 heads x d_kv 16, 4+4 layers; gpt2-tiny d=64, FFN 256, 4 heads, 4 layers.
"""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer, GPT2LMHeadModel

from ladderlab.backbones import PRESETS, default_backbone_path, load_backbone
from ladderlab.config import build_experiment
from ladderlab.data import task_spec
from ladderlab.data.types import TaskSpec
from ladderlab.errors import BadInput
from ladderlab.methods import BUILDERS

D, L, FF = 64, 4, 256  # both tiny presets
MNLI, STSB = task_spec("mnli"), task_spec("stsb")  # 3 classes; regression
PAIRS = [
    ("a cat sat on the mat", "a cat is sitting"),
    ("it rained", "the weather was dry and sunny all week"),
    ("he plays the piano well", "he is a musician"),
    ("short", "a somewhat longer second sentence here"),
]
SMALL = {"lora_rank": 4, "adapter_size": 8, "prompt_tokens": 5}


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.fixture(scope="module")
def backbones():
    return {name: load_backbone(f"preset:{name}") for name in ("t5-tiny", "gpt2-tiny")}


def build(backbone, method, spec=MNLI, **overrides):
    exp = build_experiment({}, {"backbone": backbone.name, "methods": [method], **SMALL, **overrides})
    return BUILDERS[method](backbone, backbone.new_task_model(spec, 0), exp), exp


def batch_for(backbone, pairs=PAIRS, labels=None):
    enc = backbone.tokenizer([a for a, _ in pairs], [b for _, b in pairs], padding=True, return_tensors="pt")
    labels = torch.tensor([i % 3 for i in range(len(pairs))]) if labels is None else labels
    return {**enc, "labels": labels}


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def expected_trainable(preset: str, method: str, exp, k: int) -> int | None:
    """Closed-form trainable counts (None: not checked in closed form here)."""
    rank, m, prompts = exp.lora_rank, exp.adapter_size, exp.prompt_tokens
    adapter = D * m + m + m * D + D
    if preset == "t5-tiny":  # no biases (BitFit adds zero ones, as the LST paper), frozen LM head, no new head
        inner, norms, vocab = 4 * 16, 2 * L + 1 + 3 * L + 1, 32128  # norms incl. final ones; T5's vocabulary
        # every linear of both stacks, after every layer norm, and the LM head's (the paper's T5 BitFit)
        bitfit = L * (3 * inner + D + FF + D) + L * (2 * (3 * inner + D) + FF + D) + norms * D + vocab
        return {
            # q and v in enc self-, dec self- and dec cross-attention; on T5 LoRA also trains BitFit's biases
            "lora": 3 * L * 2 * rank * (D + inner) + bitfit,
            "adapter": 4 * L * adapter + norms * D,  # after self-attention and FFN (the paper's placement)
            "bitfit": bitfit,
            "prompt": prompts * D,
        }.get(method)
    head = D * k  # score: Linear(d, K) without bias
    return {
        "lora": L * rank * (D + 3 * D) + head,  # c_attn: Conv1D(d -> 3d)
        "adapter": 2 * L * adapter + (2 * L + 1) * 2 * D + head,
        "bitfit": L * (3 * D + D + FF + D + 2 * D) + D + head,  # Conv1D and layer-norm biases, + ln_f
        "prompt": prompts * D + head,
    }.get(method)


# -- every method on both families ------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["t5-tiny", "gpt2-tiny"])
@pytest.mark.parametrize("method", list(BUILDERS))
def test_method_trains_exactly_what_it_should(backbones, preset, method):
    backbone = backbones[preset]
    model, exp = build(backbone, method)
    model.train()
    batch = batch_for(backbone)
    logits = model(batch)
    assert logits.shape == (4, 3)
    want = expected_trainable(preset, method, exp, 3)
    if method == "full":
        want = sum(p.numel() for p in model.parameters())
    if want is not None:
        assert trainable(model) == want
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    F.cross_entropy(logits, batch["labels"]).backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert with_grad == {n for n, p in model.named_parameters() if p.requires_grad}
    if method == "bitfit" and preset == "t5-tiny":  # T5 has no biases: BitFit added zero ones, only they train
        assert all(n.endswith(".bias") for n in with_grad)
        assert all(torch.all(b == 0) for b in before)
    torch.optim.AdamW(params, lr=1e-3).step()
    assert any(not torch.equal(p, b) for p, b in zip(params, before, strict=True)), "the optimizer step changed nothing"


@pytest.mark.parametrize("preset", ["t5-tiny", "gpt2-tiny"])
@pytest.mark.parametrize("method", list(BUILDERS))
def test_regression_gives_one_score_per_example(backbones, preset, method):
    backbone = backbones[preset]
    model, _ = build(backbone, method, spec=STSB, init="random")
    batch = batch_for(backbone, labels=torch.tensor([0.5, 4.0, 2.2, 3.1]))
    scores = model(batch)
    assert scores.shape == (4,)
    F.mse_loss(scores, batch["labels"]).backward()


@pytest.mark.parametrize("method", ["lora", "prompt"])
def test_label_tokens_reach_through_peft_wrappers(backbones, method):
    backbone = backbones["t5-tiny"]
    model, _ = build(backbone, method)
    ids = model.model.label_token_ids  # PeftModel -> (LoraModel ->) T5ForConditionalGeneration
    first_pieces = [backbone.tokenizer.tokenize(label)[0] for label in MNLI.labels]  # WordPiece: "en"##tail##ment
    assert backbone.tokenizer.convert_ids_to_tokens(ids.tolist()) == first_pieces
    assert "label_token_ids" not in model.state_dict(), "a non-persistent buffer is not saved with the weights"


def test_labels_without_distinct_first_tokens_are_bad_input(backbones):
    spec = TaskSpec("file", ("not good", "not bad"), ("accuracy",), "score")
    with pytest.raises(BadInput, match="not good"):
        backbones["t5-tiny"].new_task_model(spec, 0)


@pytest.mark.parametrize("preset", ["t5-tiny", "gpt2-tiny"])
@pytest.mark.parametrize("method", ["full", "lst"])
def test_padding_does_not_change_an_example_logits(backbones, preset, method):
    """T5 pads right (relative positions), GPT-2 left with positions counted from the first real token."""
    backbone = backbones[preset]
    model, _ = build(backbone, method, init="random")
    model.eval()
    short, long = ("short", "one"), PAIRS[1]
    assert batch_for(backbone, [short, long])["attention_mask"][0].min() == 0, "row 0 must be padded"
    with torch.no_grad():
        together = model(batch_for(backbone, [short, long]))
        alone = model(batch_for(backbone, [short]))
    torch.testing.assert_close(together[:1], alone, atol=1e-5, rtol=1e-4)


# -- LST ----------------------------------------------------------------------------------------------
def stack_names(preset):
    return ["encoder", "decoder"] if preset == "t5-tiny" else ["decoder"]


@pytest.mark.parametrize("preset", ["t5-tiny", "gpt2-tiny"])
def test_lst_backbone_gets_no_gradient_and_saves_nothing(backbones, preset):
    backbone = backbones[preset]
    lst, _ = build(backbone, "lst", init="random")
    lst.train()
    for name in stack_names(preset):
        gates = torch.stack([lst.gate(name, k) for k in range(len(lst.kept))])
        assert torch.allclose(gates, torch.full_like(gates, 0.5))
    saved = []
    original = lst.family.run_backbone
    lst.family.run_backbone = lambda model, b: (saved.append("start"), original(model, b), saved.append("end"))
    try:
        with torch.autograd.graph.saved_tensors_hooks(lambda t: (saved.append(tuple(t.shape)), t)[1], lambda t: t):
            logits = lst(batch_for(backbone))
    finally:
        del lst.family.run_backbone
    inside = saved[saved.index("start") + 1 : saved.index("end")]
    assert inside == [], f"the backbone saved tensors for backward: {inside[:5]}"
    F.cross_entropy(logits, torch.tensor([0, 1, 2, 0])).backward()
    head = {id(p) for name in backbone.family.head_modules for p in lst.model.get_submodule(name).parameters()}
    got = [n for n, p in lst.model.named_parameters() if p.grad is not None and id(p) not in head]
    assert got == [], f"backbone parameters got gradients: {got[:5]}"
    assert all(p.grad is not None for p in lst.side.parameters())
    vocab = backbone.config.vocab_size
    assert not [n for n, p in lst.side.named_parameters() if vocab in p.shape], "the side owns no vocabulary"


@pytest.mark.parametrize("preset", ["t5-tiny", "gpt2-tiny"])
def test_lst_taps_are_the_input_embeddings_and_the_kept_layers_outputs(backbones, preset):
    backbone = backbones[preset]
    lst, _ = build(backbone, "lst", keep_layers=[0, 2], init="random")
    lst.train()  # the backbone still runs in eval mode: its dropout is off
    batch = batch_for(backbone)
    outputs = {}
    stacks = lst.family.stacks(lst.model)
    handles = [
        layer.register_forward_hook(lambda m, a, o, key=(s.name, i): outputs.__setitem__(key, o))
        for s in stacks
        for i, layer in enumerate(s.layers)
    ]
    lst._taps = {s.name: {} for s in stacks}
    try:
        with torch.no_grad():
            lst.family.run_backbone(lst.model, batch)
    finally:
        for h in handles:
            h.remove()
    taps, ids, model = lst._taps, batch["input_ids"], lst.model
    lst._taps = None
    if preset == "t5-tiny":
        torch.testing.assert_close(taps["encoder"]["embed"], model.shared(ids))
        start = torch.zeros(len(ids), 1, dtype=torch.long)  # T5 starts decoding from its pad id 0
        torch.testing.assert_close(taps["decoder"]["embed"], model.shared(start))
    else:  # token + position embeddings, positions counted from each row's first real token
        positions = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        embedded = model.transformer.wte(ids) + model.transformer.wpe(positions)
        torch.testing.assert_close(taps["decoder"]["embed"], embedded)
    for name in stack_names(preset):
        assert set(taps[name]) == {"embed", 0, 1}
        for k, i in enumerate([0, 2]):
            out = outputs[(name, i)]
            assert torch.equal(taps[name][k], out[0] if isinstance(out, tuple) else out)


def test_t5_side_decoder_cross_attends_to_the_side_encoder(backbones):
    lst, exp = build(backbones["t5-tiny"], "lst", init="random")
    seen = {}
    enc_hook = lst.side["encoder"].register_forward_hook(
        lambda m, a, out: seen.__setitem__("encoder", out.last_hidden_state)
    )
    cross = lst.family.side_layers(lst.side["decoder"])[0].layer[1]
    cross_hook = cross.register_forward_pre_hook(
        lambda m, a, kw: seen.__setitem__("cross", kw["key_value_states"]), with_kwargs=True
    )
    try:
        lst(batch_for(backbones["t5-tiny"]))
    finally:
        enc_hook.remove()
        cross_hook.remove()
    assert seen["cross"] is seen["encoder"]
    assert seen["cross"].shape[-1] == D // exp.r


@pytest.mark.parametrize("r", [2, 4, 8, 16])
@pytest.mark.parametrize("preset", ["t5-tiny", "gpt2-tiny"])
def test_lst_side_width_is_backbone_width_over_r(backbones, preset, r):
    lst, _ = build(backbones[preset], "lst", r=r, init="random")
    d, f = D // r, FF // r
    for name in stack_names(preset):
        for block in lst.family.side_layers(lst.side[name]):
            if preset == "t5-tiny":
                assert block.layer[0].SelfAttention.q.weight.shape == (d, d)  # 4 heads x d_kv/r = 64/r
                assert block.layer[-1].DenseReluDense.wi.weight.shape == (f, d)
                if name == "decoder":
                    assert block.layer[1].EncDecAttention.k.weight.shape == (d, d)
            else:
                assert block.attn.c_attn.weight.shape == (d, 3 * d)  # Conv1D: (in, out)
                assert block.mlp.c_fc.weight.shape == (d, f)
        assert lst.down_embed[name].weight.shape == (d, D)
    assert lst.up.weight.shape == (D, d)
    lst(batch_for(backbones[preset]))


def test_lst_width_not_divisible_is_bad_input(backbones):
    with pytest.raises(BadInput, match="does not divide"):
        build(backbones["gpt2-tiny"], "lst", r=3)
    with pytest.raises(BadInput, match="not divisible by 3 heads"):
        build(backbones["t5-tiny"], "lst", r=2, side_heads=3)


@pytest.mark.parametrize("init", ["magnitude", "fisher"])
@pytest.mark.parametrize("preset", ["t5-tiny", "gpt2-tiny"])
def test_lst_pruning_init_copies_backbone_slices_of_kept_layers(backbones, preset, init):
    backbone = backbones[preset]
    # the selection basis: the side's weights are the backbone's own slices (pca rotates them: test_ladder_init.py)
    lst, _ = build(backbone, "lst", r=4, keep_layers=[1, 3], init=init, ladder_init="selection")
    examples = [batch_for(backbone, [p], torch.tensor([i])) for i, p in enumerate(PAIRS[:3])]
    lst.initialize(iter(examples), nullcontext, init=init, loss_fn=lambda lo, la: F.cross_entropy(lo, la))
    assert lst.kept == [1, 3]
    stacks = {s.name: s for s in lst.family.stacks(lst.model)}
    for name in stack_names(preset):
        side_blocks = lst.family.side_layers(lst.side[name])
        assert len(side_blocks) == 2 and len(lst.down[name]) == 2
        for k, i in enumerate([1, 3]):
            sets, source = lst.pruned_sets[name][k], stacks[name].layers[i]
            if preset == "t5-tiny":
                q = source.layer[0].SelfAttention.q.weight
                assert torch.equal(side_blocks[k].layer[0].SelfAttention.q.weight, q[sets["QK"]][:, sets["R"]])
                if name == "decoder":  # cross-attention keys read the encoder's residual set
                    key = source.layer[1].EncDecAttention.k.weight
                    rx = lst.pruned_sets["encoder"][0]["R"]
                    assert torch.equal(sets["RX"], rx)
                    assert torch.equal(side_blocks[k].layer[1].EncDecAttention.k.weight, key[sets["QK"]][:, rx])
            else:
                w, third = source.attn.c_attn.weight, D
                cols = torch.cat([sets["QK"], sets["QK"] + third, sets["VO"] + 2 * third])
                assert torch.equal(side_blocks[k].attn.c_attn.weight, w[sets["R"]][:, cols])
                assert torch.equal(side_blocks[k].mlp.c_proj.weight, source.mlp.c_proj.weight[sets["F"]][:, sets["R"]])
        if preset == "t5-tiny":  # the first side block owns the (unpruned, heads x buckets) relative bias
            bias = "layer.0.SelfAttention.relative_attention_bias.weight"
            assert torch.equal(side_blocks[0].get_parameter(bias), stacks[name].layers[0].get_parameter(bias))
            norm = stacks[name].module.final_layer_norm.weight[lst.pruned_sets[name][0]["R"]]
            assert torch.equal(lst.side[name].final_layer_norm.weight, norm)
        else:
            assert torch.equal(lst.side[name].ln_f.bias, stacks[name].module.ln_f.bias[lst.pruned_sets[name][0]["R"]])
    assert lst(batch_for(backbone)).shape == (4, 3)


# -- checkpoint folders -------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["t5-tiny", "gpt2-tiny"])
def test_checkpoint_folder_loads_and_runs_lst(tmp_path, preset):
    fields = dict(PRESETS[preset])
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)  # as a real checkpoint: GPT-2 has no pad
    torch.manual_seed(0)
    saved = AutoModelForSeq2SeqLM.from_config(config) if preset == "t5-tiny" else GPT2LMHeadModel(config)
    saved.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(str(default_backbone_path())).save_pretrained(tmp_path)
    backbone = load_backbone(str(tmp_path))
    assert backbone.folder is not None and backbone.family.name == ("seq2seq" if preset == "t5-tiny" else "decoder")
    lst, _ = build(backbone, "lst", init="magnitude")
    lst.initialize(iter([batch_for(backbone)]), nullcontext, init="magnitude", loss_fn=None)  # pca reads its taps
    name = "encoder.block.2.layer.0.SelfAttention.q.weight" if preset == "t5-tiny" else "h.2.attn.c_attn.weight"
    loaded = lst.model.get_parameter(name if preset == "t5-tiny" else "transformer." + name)
    assert torch.equal(loaded, saved.get_parameter(name if preset == "t5-tiny" else "transformer." + name))
    if preset == "gpt2-tiny":
        assert backbone.tokenizer.padding_side == "left"
        assert lst.model.config.pad_token_id == backbone.tokenizer.pad_token_id
    assert lst(batch_for(backbone)).shape == (4, 3)
