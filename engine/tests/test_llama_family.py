"""Llama-class decoders (families/llama.py) on the tiny preset shapes: 64 wide, 4 layers, 4 query heads sharing 2
key/value heads (GQA), RoPE, RMSNorm, gated FFN; Qwen3's head dimension 32 differs from 64/4; Gemma 2 has soft-capped
eager attention and logits, Gemma 3 sliding-window layers and query/key norms.

Each family memorises 32 instruction examples of uneven lengths (so batches are left-padded) under LST, LoRA and full
fine-tuning, and greedy decoding with the key/value caches gives back the memorised answers: wrong gradients, masks,
rotary positions (training vs cached decoding) or ladders stop either. The checkpoints are written to a folder here
with a 54-word tokenizer (the presets' MiniLM vocabulary would make the LM head 30,522 wide and the test slow), and
their random weights at std 0.2: at transformers' 0.02 a random 64-wide decoder is nearly the identity (uniform
attention, near-zero blocks), through which no frozen-backbone method can route a prompt to its answer; a
pretrained backbone's layers carry signal at this scale.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

import helpers
from ladderlab import cli
from ladderlab.backbones import PRESETS, load_backbone
from ladderlab.config import build_experiment
from ladderlab.data import instruct
from ladderlab.data.pipeline import Batcher
from ladderlab.devices import Autocast
from ladderlab.errors import BadInput
from ladderlab.families.llama import generate_ids
from ladderlab.methods import BUILDERS
from ladderlab.methods.lst import pruning
from ladderlab.step import loss_for, make_optimizer, step_loss, training_step, with_loss_positions

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py

FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3")
WORDS = [
    "red",
    "green",
    "blue",
    "black",
    "white",
    "apple",
    "river",
    "stone",
    "cloud",
    "music",
    "paper",
    "garden",
    "window",
    "summer",
    "winter",
    "yellow",
]
VOCAB = ["<pad>", "<s>", "</s>", "[UNK]", "question", "user", "assistant", *WORDS, *map(str, range(32))]
# method -> (experiment fields, learning rate, steps): one batch of all 32 examples per step
METHODS = {
    "lst": ({"r": 4, "init": "magnitude"}, 1e-2, 60),
    "lora": ({"lora_rank": 8}, 2e-2, 100),
    "full": ({}, 3e-3, 40),
}
CPU = torch.device("cpu")


def examples() -> list[instruct.InstructExample]:
    """32 prompts of 2 to 5 words (question i, then filler words) and answers of 1 to 3 words."""
    rng = random.Random(0)
    rows = []
    for i in range(32):
        prompt = " ".join(["question", str(i), *rng.sample(WORDS, rng.randint(0, 3))])
        rows.append({"prompt": prompt, "response": " ".join(rng.sample(WORDS, rng.randint(1, 3)))})
    return [instruct._example(json.dumps(row), f"row {i}") for i, row in enumerate(rows)]


def word_tokenizer() -> PreTrainedTokenizerFast:
    model = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    model.pre_tokenizer = pre_tokenizers.Whitespace()
    model.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=model, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="[UNK]"
    )
    # a chat template of the usual shape: the role, the content, the answer closed by the end token
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }} {{ m['content'] }}{% if m['role'] == 'assistant' %} </s>{% endif %} "
        "{% endfor %}{% if add_generation_prompt %}assistant {% endif %}"
    )
    return tokenizer


def write_tiny_checkpoint(family: str, folder: Path) -> Path:
    """The family's tiny preset as a checkpoint folder with the word tokenizer: weights drawn with std 0.2 (seed 0),
    so that a few dozen steps memorise the examples."""
    fields = dict(PRESETS[f"{family}-tiny"])
    config = AutoConfig.for_model(
        fields.pop("model_type"),
        **{**fields, "vocab_size": len(VOCAB)},
        initializer_range=0.2,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    word_tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    """family -> Backbone loaded from a checkpoint folder (config.json's model_type picks the family)."""
    return {
        family: load_backbone(str(write_tiny_checkpoint(family, tmp_path_factory.mktemp(family))))
        for family in FAMILIES
    }


def build(backbone, method: str, **fields):
    exp = build_experiment({}, {"methods": [method], **fields})
    torch.manual_seed(0)
    model = BUILDERS[method](backbone, backbone.new_task_model(instruct.SPEC, 0), exp)
    if method == "lst" and exp.init == "magnitude":  # ladder_init pca (the default) reads these examples' taps
        taps_from = Batcher(backbone.tokenizer, CPU).batches(instruct.encode(examples()[:8], backbone.tokenizer, 64), 8)
        model.initialize(taps_from, lambda _name: contextlib.nullcontext(), init="magnitude", loss_fn=None)
    return model


def memorise(backbone, method: str):
    """Train on the 32 examples; return the model and its last training loss."""
    fields, lr, steps = METHODS[method]
    model = build(backbone, method, **fields)
    features = instruct.encode(examples(), backbone.tokenizer, 64)
    batcher = Batcher(backbone.tokenizer, CPU)
    params, optimizer, scheduler = make_optimizer(model, lr, 0.0, 0, steps)
    model.train()
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        for batch in batcher.batches(features, 32, shuffle_seed=step):
            loss = training_step(
                model, batch, loss_for(instruct.SPEC), params, optimizer, scheduler, 1.0, Autocast.of(CPU, "fp32")
            )
    return model, loss.item()


def answers(model, backbone) -> tuple[list[str], list[str]]:
    prompts, references = instruct.generation_inputs(examples(), backbone.tokenizer, 64)
    batch = next(Batcher(backbone.tokenizer, CPU).batches(prompts, 32))
    model.eval()
    ids = generate_ids(model, batch, 5, instruct.end_token(backbone.tokenizer), backbone.tokenizer.pad_token_id)
    return [instruct.answer_text(backbone.tokenizer, row) for row in ids.tolist()], references


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", list(METHODS))
def test_memorises_instructions_and_generates_them(backbones, family, method):
    backbone = backbones[family]
    assert backbone.family.name == "llama" and backbone.config.model_type == PRESETS[f"{family}-tiny"]["model_type"]
    model, loss = memorise(backbone, method)
    assert loss < 0.1, f"{family}/{method}: final loss {loss:.3f}"
    generated, references = answers(model, backbone)
    assert generated == references


def test_lst_keeps_the_backbone_out_of_autograd(backbones):
    backbone = backbones["qwen2"]  # q/k/v biases: every backbone parameter kind
    model = build(backbone, "lst", r=4, init="magnitude")
    assert not any(p.requires_grad for p in model.model.parameters())
    outputs = []
    hooks = [layer.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for layer in model.model.model.layers]
    batch = next(Batcher(backbone.tokenizer, CPU).batches(instruct.encode(examples(), backbone.tokenizer, 64), 8))
    loss = loss_for(instruct.SPEC)(model(batch), batch["labels"])
    loss.backward()
    for h in hooks:
        h.remove()
    assert len(outputs) == 4 and all(o.grad_fn is None and not o.requires_grad for o in outputs)
    assert all(p.grad is None for p in model.model.parameters())
    # every ladder (down_embed, down.k), gate, side block and the upsample learns
    no_gradient = [n for n, p in model.trainable_named_parameters().items() if p.grad is None or not p.grad.any()]
    assert not no_gradient and any(n.startswith("down.") for n in model.trainable_named_parameters())
    # and the side reads the backbone's layers: a change in backbone layer 2's output changes the logits
    with torch.no_grad():
        before = model(batch)
        hook = model.model.model.layers[2].register_forward_hook(lambda _m, _i, out: out * 2)
        after = model(batch)
        hook.remove()
    assert not torch.allclose(before, after)


def side_step(backbone, batch: dict, side_checkpointing: str):
    """LST's loss and gradients (by name) on ``batch``, whether the side was checkpointed, and the tensor elements
    autograd kept outside a checkpoint (checkpoint's own hook holds what its region saves)."""
    model = build(backbone, "lst", r=4, init="magnitude", side_checkpointing=side_checkpointing).train()
    params = model.trainable_named_parameters()
    kept = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(t.numel()) or t, lambda t: t):
        loss = step_loss(model, with_loss_positions(model, batch), loss_for(instruct.SPEC))
    grads = dict(zip(params, torch.autograd.grad(loss, list(params.values())), strict=True))
    return model.side_checkpointing, loss.item(), grads, sum(kept)


def test_side_checkpointing_recomputes_the_side_with_the_same_loss_and_gradients(backbones):
    """side_checkpointing (auto: on for decoder LLMs): the side blocks keep only their inputs for the backward and
    recompute the rest there; the loss and every trainable gradient (ladders, gates, side, upsample) equal those of the
    side that keeps its activations, to 1e-6, and far fewer tensor elements are kept for the backward."""
    backbone = backbones["llama"]
    batch = next(Batcher(backbone.tokenizer, CPU).batches(instruct.encode(examples(), backbone.tokenizer, 64), 8))
    off, off_loss, off_grads, off_kept = side_step(backbone, batch, "off")
    on, on_loss, on_grads, on_kept = side_step(backbone, batch, "auto")
    assert (off, on) == (False, True)
    assert on_kept < off_kept / 2, f"kept for backward: {on_kept} elements checkpointed, {off_kept} not"
    assert on_loss == pytest.approx(off_loss, abs=1e-6)
    assert on_grads.keys() == off_grads.keys()
    for name, grad in off_grads.items():
        torch.testing.assert_close(on_grads[name], grad, atol=1e-6, rtol=1e-5, msg=name)


def test_side_network_keeps_heads_and_grouped_key_values(backbones):
    backbone = backbones["qwen3"]  # head_dim 32 (not 64 / 4 heads)
    model = build(backbone, "lst", r=4, init="magnitude", ladder_init="selection")  # the backbone's own slices
    side = model.side["decoder"]
    attention = side.layers[0].self_attn
    assert (side.config.num_attention_heads, side.config.num_key_value_heads, side.config.head_dim) == (4, 2, 8)
    assert attention.q_proj.weight.shape == (4 * 8, 16) and attention.k_proj.weight.shape == (2 * 8, 16)
    # the pruning copied each query head the dims its key/value head kept: heads 0,1 share kv head 0, 2,3 kv head 1
    sets = model.pruned_sets["decoder"][0]
    within_q = sets["Q"].reshape(4, 8) - torch.arange(4).unsqueeze(1) * 32
    within_k = sets["QK"].reshape(2, 8) - torch.arange(2).unsqueeze(1) * 32
    assert torch.equal(within_q, within_k.repeat_interleave(2, dim=0))
    source = model.model.model.layers[model.kept[0]].self_attn
    assert torch.equal(attention.k_proj.weight, source.k_proj.weight[sets["QK"]][:, sets["R"]])
    assert torch.equal(attention.o_proj.weight, source.o_proj.weight[sets["R"]][:, sets["O"]])


def test_cached_decoding_matches_full_forward(backbones):
    """LST decoding with both caches gives, step by step, the argmax of a forward over the whole sequence."""
    backbone = backbones["llama"]
    model = build(backbone, "lst", r=4, init="magnitude").eval()
    prompts, _ = instruct.generation_inputs(examples()[:6], backbone.tokenizer, 64)
    batch = next(Batcher(backbone.tokenizer, CPU).batches(prompts, 6))
    generated = generate_ids(model, batch, 4, eos_id=-1, pad_id=0)  # no end token: 4 tokens each
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        for t in range(4):
            step = model({"input_ids": ids, "attention_mask": mask})[:, -1].argmax(-1)
            assert torch.equal(step, generated[:, t])
            ids, mask = torch.cat([ids, step[:, None]], 1), torch.cat([mask, mask.new_ones(6, 1)], 1)


def test_chat_messages_train_on_the_answer_only(backbones):
    tokenizer = backbones["llama"].tokenizer
    chat = instruct._example(
        json.dumps({"messages": [{"role": "user", "content": "question 3"}, {"role": "assistant", "content": "red"}]}),
        "chat",
    )
    feature = instruct.encode([chat], tokenizer, 64)[0]
    words = tokenizer.convert_ids_to_tokens(feature["input_ids"])
    assert words == ["user", "question", "3", "assistant", "red", "</s>"]
    assert feature["labels"] == [-100, -100, -100, VOCAB.index("red"), VOCAB.index("</s>"), -100]
    tokenizer_without = word_tokenizer()
    tokenizer_without.chat_template = None
    with pytest.raises(BadInput, match="no chat template"):
        instruct.encode([chat], tokenizer_without, 64)


def test_bad_instruction_lines_name_the_line(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n{"text": "no fields"}\n')
    with pytest.raises(BadInput, match=r"bad.jsonl:2: neither prompt/response"):
        instruct.read(str(data))


INSTRUCT_LINES = json.loads((helpers.FIXTURES / "instruct-lines.json").read_text())


@pytest.mark.parametrize("case", INSTRUCT_LINES, ids=lambda c: c["case"])
def test_instruction_lines_as_the_shared_table_says(case, tmp_path):
    """fixtures/instruct-lines.json, which the Experiment form's check (src/views/instructData.ts) reads too: each
    line is an example, or refused naming its line and the problem the table gives."""
    data = tmp_path / "d.jsonl"
    data.write_text((case["line"] + "\n") * 3)  # three: the fewest a run splits
    if case["problem"] is None:
        assert len(instruct.read(str(data))) == 3
        return
    with pytest.raises(BadInput) as info:
        instruct.read(str(data))
    assert info.value.message.startswith(f"{data}:1: {case['problem']}"), info.value.message


def test_gqa_index_sets_follow_key_value_heads():
    """pruning.select_indices with 4 query heads over 2 key/value heads of 4 dims each, r=2: a group's query scores
    are added to its key head's before the choice."""
    q = torch.zeros(16)
    q[[0, 5]] = 10.0  # head 0 dim 0 and head 1 dim 1: both fold into key/value head 0
    importance = {
        "q.weight": (q, torch.ones(8)),
        "k.weight": (torch.arange(8.0) / 100, torch.ones(8)),
        "v.weight": (torch.arange(8.0), torch.ones(8)),
        "o.weight": (torch.ones(8), torch.ones(16)),
    }
    roles = {"q.weight": ("Q", "R"), "k.weight": ("QK", "R"), "v.weight": ("VO", "R"), "o.weight": ("R", "O")}
    sets = pruning.select_indices([importance], roles, 2, heads=4, kv_heads=2)[0]
    assert sets["QK"].tolist() == [0, 1, 6, 7]
    assert sets["Q"].tolist() == [0, 1, 4, 5, 10, 11, 14, 15]
    assert sets["VO"].tolist() == [2, 3, 6, 7] and sets["O"].tolist() == [2, 3, 6, 7, 10, 11, 14, 15]


def test_instruct_runs_through_the_cli_and_reports_loss_and_exact_match(backbones, tmp_path, monkeypatch, capsys):
    """``ladderlab compare --task instruct``: the training loop, the split, the collator (labels padded like the
    input) and the evaluation (per-token loss, generated answers) on a checkpoint folder of the Llama family."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "chat.jsonl"
    rows = [{"prompt": e.prompt, "response": e.response} for e in examples()]
    rows[0] = {"messages": [{"role": "user", "content": "question 0"}, {"role": "assistant", "content": "red"}]}
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    folder = backbones["llama"].folder
    code = cli.main(
        helpers.cli("compare --methods lst,lora --task instruct --epochs 1 --batch-size 8 --json --data", data)
        + ["--backbone", str(folder)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = json.loads(captured.out)["rows"]
    assert [r["method"] for r in rows] == ["lst", "lora"]
    for row in rows:
        metrics = row["metrics"]
        assert set(metrics) == {"exact_match", "token_loss", "score"}
        assert 0 <= metrics["exact_match"] <= 100 and 0 < metrics["token_loss"] < 10
        assert metrics["exact_match"] <= metrics["score"] < metrics["exact_match"] + 100 / 3


def test_instruct_is_refused_on_a_classifier_family(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q {i}", "response": "a"}) + "\n" for i in range(5)))
    code = cli.main(helpers.cli("run --method lst --task instruct --backbone preset:bert-tiny --data", data))
    assert code == 2
    assert (
        "task instruct trains a decoder LLM (Llama, Mistral, Qwen2/3, Gemma); this backbone's family is encoder"
        in capsys.readouterr().err
    )
