"""LST's T5 side stacks (families/t5_side.py) against transformers' own T5Stack with the same weights: the same
outputs and gradients on a padded batch, no (B, H, L, L) tensor kept for backward (the old formulation keeps
several), dropout replayed exactly by the checkpointed attention, and T5LayerNorm's numerics from the fused norm."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import T5Config
from transformers.models.t5.modeling_t5 import T5LayerNorm, T5Stack

from ladderlab.families import t5_side
from ladderlab.families.seq2seq import Seq2SeqFamily

B, L, T = 3, 12, 5  # batch, source length, target length


def _side_config(attention: str, width: int = 32):
    backbone = T5Config(d_model=width, d_ff=2 * width, d_kv=width // 4, num_heads=4, num_layers=2, vocab_size=100)
    side = Seq2SeqFamily().side_config(backbone, r=2, n_layers=2, heads=None)  # default: d 16, 4 heads of 4
    side._attn_implementation = attention
    return side


def test_side_stack_starts_as_t5s_own_init():
    """Same seed, same weights as transformers' T5Stack (init=random starts the side network there)."""
    config = _side_config("sdpa")
    torch.manual_seed(0)
    theirs = T5Stack(copy.deepcopy(config)).state_dict()
    torch.manual_seed(0)
    ours = t5_side.SideT5Stack(copy.deepcopy(config)).state_dict()
    assert set(ours) == set(theirs) - {"embed_tokens.weight"}
    for name, value in ours.items():
        assert torch.equal(value, theirs[name]), name


def _pair(attention: str, reference: str, width: int = 32):
    """The side stacks as LST builds them, and transformers' T5Stacks with the same weights."""
    torch.manual_seed(0)
    ours = Seq2SeqFamily().build_side_stacks(_side_config(attention, width))
    theirs = {}
    for name, stack in ours.items():
        config = copy.deepcopy(stack.config)
        config._attn_implementation = reference
        ref = T5Stack(config)
        ref.embed_tokens = None
        missing = ref.load_state_dict(stack.state_dict(), strict=False)
        assert not missing.unexpected_keys and set(missing.missing_keys) <= {"embed_tokens.weight"}
        theirs[name] = ref
    with torch.no_grad():  # T5's init leaves the relative bias small: make it matter, and differ per head
        for stack in [*ours.values(), *theirs.values()]:
            torch.manual_seed(1)
            stack.block[0].layer[0].SelfAttention.relative_attention_bias.weight.normal_(0, 2.0)
    return ours, torch.nn.ModuleDict(theirs)


def _inputs(width: int = 16):
    torch.manual_seed(2)
    enc = torch.randn(B, L, width, requires_grad=True)
    dec = torch.randn(B, T, width, requires_grad=True)
    mask = torch.ones(B, L, dtype=torch.long)
    mask[1, 7:] = 0  # padded rows of different lengths
    mask[2, 3:] = 0
    return enc, dec, mask


def _run_ours(side, enc, dec, mask):
    return Seq2SeqFamily().run_side(side, {"encoder": enc, "decoder": dec}, {"attention_mask": mask})


def _run_theirs(side, enc, dec, mask):
    encoded = side["encoder"](inputs_embeds=enc, attention_mask=mask).last_hidden_state
    out = side["decoder"](
        inputs_embeds=dec, encoder_hidden_states=encoded, encoder_attention_mask=mask, use_cache=False
    )
    return out.last_hidden_state


def _outputs_and_grads(run, side, enc, dec, mask):
    enc, dec = enc.detach().requires_grad_(), dec.detach().requires_grad_()
    out = run(side, enc, dec, mask)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    grads = {n: p.grad.clone() for n, p in side.named_parameters() if p.grad is not None}
    return out.detach(), enc.grad, dec.grad, grads


def _close(ours: torch.Tensor, reference: torch.Tensor, name: str) -> None:
    """fp32 agreement, with the absolute tolerance scaled to the tensor: sdpa and eager sum in different orders, and
    a few gradient entries near zero are differences of large terms. A wrong mask or bias is off by far more."""
    atol = 1e-5 * max(1.0, float(reference.abs().max()))
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=atol, msg=name)


@pytest.mark.parametrize(("attention", "chunks"), [("sdpa", "one"), ("sdpa", "per_row"), ("eager", "one")])
@pytest.mark.parametrize("reference", ["eager", "sdpa"])
def test_side_stacks_match_transformers_t5_outputs_and_gradients(attention, chunks, reference, monkeypatch):
    if chunks == "per_row":  # backward recomputes the attention row by row
        monkeypatch.setattr(t5_side, "CHUNK_BYTES", 1)
    ours, theirs = _pair(attention, reference)
    ours.eval(), theirs.eval()  # dropout off: the computation alone is compared
    enc, dec, mask = _inputs()
    out, g_enc, g_dec, grads = _outputs_and_grads(_run_ours, ours, enc, dec, mask)
    ref, r_enc, r_dec, r_grads = _outputs_and_grads(_run_theirs, theirs, enc, dec, mask)
    _close(out, ref, "output")
    _close(g_enc, r_enc, "encoder input gradient")
    _close(g_dec, r_dec, "decoder input gradient")
    names = {f"{s}.{n}" for s, stack in theirs.items() for n, p in stack.named_parameters() if p.requires_grad}
    assert set(grads) == names - {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}
    for name, g in grads.items():
        _close(g, r_grads[name], name)
    # the padded keys matter: unmasking them changes the output, so the comparison above saw the mask at work
    changed = _run_ours(ours, enc, dec, torch.ones_like(mask))
    assert not torch.allclose(changed, out, atol=1e-3)


def _saved_shapes(run, side, enc, dec, mask) -> list[tuple[int, ...]]:
    shapes = []

    def pack(t):
        shapes.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run(side, enc, dec, mask)
    return shapes


def test_no_batch_sized_attention_tensor_is_saved_for_backward():
    ours, theirs = _pair("sdpa", "sdpa")
    ours.train(), theirs.train()
    enc, dec, mask = _inputs()
    heads = ours["encoder"].config.num_heads

    def per_example_attention(shape):
        # (B, H, queries, keys); q, k, v and outputs are (B, H, length, d_kv) with d_kv 4, no length here
        return len(shape) == 4 and shape[:2] == (B, heads) and shape[-2] in (L, T) and shape[-1] in (L, T)

    assert not [s for s in _saved_shapes(_run_ours, ours, enc, dec, mask) if per_example_attention(s)]
    old = [s for s in _saved_shapes(_run_theirs, theirs, enc, dec, mask) if per_example_attention(s)]
    assert (B, heads, L, L) in old  # the formulation replaced here kept them (the test can fail)


@pytest.mark.parametrize("chunk_bytes", [t5_side.CHUNK_BYTES, 1])
def test_checkpointed_attention_replays_its_dropout(chunk_bytes, monkeypatch):
    """Training mode: the gradients through the checkpointed attention (in one chunk, or row by row) equal those of
    the same attention computed once with its graph kept (same seed), so the recomputation drew the same dropout."""
    monkeypatch.setattr(t5_side, "CHUNK_BYTES", chunk_bytes)
    torch.manual_seed(3)
    q, k, v = (torch.randn(B, 4, L, 8, requires_grad=True) for _ in range(3))
    bias = torch.randn(1, 4, L, L, requires_grad=True)
    keep = torch.ones(B, 1, 1, L, dtype=torch.bool)
    keep[0, ..., 5:] = False
    module = torch.nn.Module()
    module.is_decoder = False
    results = []
    for direct in (False, True):
        torch.manual_seed(4)
        if direct:
            rows = t5_side._chunk_rows(q, k)  # the same chunks, so the same random draws
            chunks = [
                t5_side._attend(
                    q[i : i + rows], k[i : i + rows], v[i : i + rows], bias, keep[i : i + rows], False, 0.5, 1.0
                )
                for i in range(0, B, rows)
            ]
            out = torch.cat(chunks).transpose(1, 2)
        else:
            out = t5_side.side_attention(module, q, k, v, keep, dropout=0.5, scaling=1.0, position_bias=bias)[0]
        grads = torch.autograd.grad(out.pow(2).sum(), (q, k, v, bias))
        results.append((out, *grads))
    for ours, direct in zip(*results, strict=True):
        torch.testing.assert_close(ours, direct)
    no_dropout = t5_side._attend(q, k, v, bias, keep, False, 0.0, 1.0).transpose(1, 2)
    assert not torch.allclose(results[0][0], no_dropout, atol=1e-3)  # dropout was on


@pytest.mark.parametrize(
    ("x_dtype", "w_dtype"),
    [(torch.float32, torch.float32), (torch.bfloat16, torch.float32), (torch.bfloat16, torch.bfloat16)],
)
def test_fused_norm_matches_t5_layer_norm(x_dtype, w_dtype):
    torch.manual_seed(5)
    t5 = T5LayerNorm(16, eps=1e-6).to(w_dtype)
    with torch.no_grad():
        t5.weight.normal_(1, 0.3)
    fused = t5_side.SideRMSNorm(t5.weight, t5.variance_epsilon)
    x = (torch.randn(B, L, 16) * 3).to(x_dtype)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    a, b = fused(x1), t5(x2)
    assert a.dtype == b.dtype
    exact = x_dtype == w_dtype == torch.float32
    tol = {"rtol": 1e-5, "atol": 1e-6} if exact else {"rtol": 1.6e-2, "atol": 1e-2}  # bf16: a unit of its last place
    torch.testing.assert_close(a, b, **tol)
    a.float().sum().backward(), b.float().sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **tol)
    # a bf16 weight's gradient: T5 multiplies in bf16 before the sum over positions, the fused norm in fp32
    wtol = tol if w_dtype == torch.float32 else {"rtol": 5e-2, "atol": 5e-2}
    torch.testing.assert_close(fused.weight.grad, t5.weight.grad, **wtol)


def test_relu_dropout_keeps_one_tensor_and_matches_relu_then_dropout():
    """Training mode: the side FFN's fused ReLU + dropout gives dropout(relu(x)) with the same mask (same seed, same
    draw) and its gradient, and the FFN keeps one (.., d_ff) tensor per block for backward where T5's keeps three."""
    torch.manual_seed(6)
    x = torch.randn(B, L, 32)
    x[0, 0] = 0.0  # ReLU's kink: gradient 0 there, as torch's relu
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(7)
    ours = t5_side._ReluDropout.apply(x1, 0.3)
    torch.manual_seed(7)
    keep = torch.empty_like(x).bernoulli_(0.7)
    ref = torch.relu(x2) * keep / 0.7
    torch.testing.assert_close(ours, ref)
    weights = torch.randn_like(x)
    (ours * weights).sum().backward(), (ref * weights).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    assert (keep == 0).any() and (x < 0).any()  # both kinds of zeros were there

    ours_side, theirs = _pair("sdpa", "sdpa")
    ours_side.train(), theirs.train()
    enc, dec, mask = _inputs()
    d_ff = ours_side["encoder"].config.d_ff

    def ffn_tensors(run, side) -> int:
        storages = set()

        def pack(t):
            if t.shape[-1] == d_ff and t.dim() >= 2 and t.shape[0] in (B, B * L):  # activations, not wo's weight
                storages.add(t.untyped_storage().data_ptr())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            run(side, enc, dec, mask)
        return len(storages)

    blocks = sum(len(s.block) for s in ours_side.values())
    assert ffn_tensors(_run_ours, ours_side) == blocks
    assert ffn_tensors(_run_theirs, theirs) >= 2 * blocks


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_on_cuda_the_side_attention_takes_a_fused_kernel_and_matches(precision):
    """On CUDA, with SDPA held to its fused kernels (the math fallback excluded: SDPA raises if none applies), the
    side stacks train (dropout and the trainable bias on) and match transformers' eager T5 without dropout: in fp32
    closely; under bf16 autocast both are compared with eager fp32, and ours may not drift much more than eager."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fused = [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION]
    ours, theirs = _pair("sdpa", "eager", width=64)  # side head dim 8, as T5-base at r=8
    ours, theirs = ours.cuda(), theirs.cuda()
    enc, dec, mask = (t.detach().cuda() for t in _inputs(width=32))
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16")
    with sdpa_kernel(fused), autocast:
        ours.train()
        _outputs_and_grads(_run_ours, ours, enc, dec, mask)
        ours.eval(), theirs.eval()
        ours.zero_grad()
        out, g_enc, _, grads = _outputs_and_grads(_run_ours, ours, enc, dec, mask)
    exact = _outputs_and_grads(_run_theirs, theirs, enc, dec, mask)  # eager, fp32
    theirs.zero_grad()
    with autocast:
        rounded = _outputs_and_grads(_run_theirs, theirs, enc, dec, mask)  # eager, in the same precision as ours
    ours_all = {"output": out, "input grad": g_enc, **grads}
    exact_all = {"output": exact[0], "input grad": exact[1], **exact[3]}
    rounded_all = {"output": rounded[0], "input grad": rounded[1], **rounded[3]}
    for name, a in ours_all.items():
        if precision == "fp32":
            torch.testing.assert_close(a, exact_all[name], rtol=1e-4, atol=1e-4, msg=name)
        else:
            ref = exact_all[name].float()
            ours_err = (a.float() - ref).norm() / ref.norm()
            eager_err = (rounded_all[name].float() - ref).norm() / ref.norm()
            assert ours_err <= 1.5 * eager_err + 0.01, (name, float(ours_err), float(eager_err))
