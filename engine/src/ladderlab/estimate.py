"""``ladderlab estimate``: each method's training peak before a run, without loading weights.

The model is built from the backbone's config under ``FakeTensorMode`` (tensors with shapes, dtypes and devices
but no memory), then two real training steps (``step.training_step``: forward, backward, clipping, AdamW,
schedule) run on a synthetic batch as long as the run's longest while ``LiveTensorTracer`` follows every
storage. The peak and what was live at that moment (parameters, gradients, optimizer states, activations saved
for backward, and the transient rest) are the estimate. On CUDA each block is rounded as the caching allocator
rounds it; the CUDA context (a few hundred MiB outside torch's count) and allocator slack are added only to the
fits verdict.

The batch's length: batches are padded to their longest member (``data.pipeline.Batcher``), so a run's peak
comes from the batch holding its longest training sequence, which is usually far shorter than ``max_length``.
The training split is read and tokenised exactly as the run does it (``data.read_for``, the same seed,
``max_train_examples`` and truncation) and its longest sequence is the estimate's length; when the data cannot
be read the estimate assumes ``max_length`` and says why (``length_from``, ``length_note``).

Instruction tuning: the loss reads the logits of the response only, and the LM head runs only there (step.py), so the
peak depends on the response's length: the longest response in the training data, else half of the batch's length
(``response_tokens``, ``response_from``).

A quantised backbone (``backbone_quant`` nf4 / int8) is modelled from shapes (estimate_quant.py): bitsandbytes'
exact storage and what its forward and backward allocate; no GPU and no bitsandbytes are needed.

``bf16_weights`` (bench/llm_memory.py) estimates the setting of PEFT's method comparison, which loads the model in
bf16: the frozen weights in bf16 under every method, and full fine-tuning training its bf16 weights (AdamW states in
bf16). A Ladder Lab run keeps the baselines' weights in fp32 (LST: ``backbone_dtype``). ``checkpointing``: the
backbone's layers under gradient checkpointing, as the QLoRA paper trains (a Ladder Lab run does not).

Each row also carries the method's trainable parameters (``trainable_params``, ``trainable_pct`` of
``backbone_params``), counted on the meta device (``param_counts``), as a run reports them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import chain
from typing import cast

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from transformers import PreTrainedModel

from .backbones import Backbone, load_backbone
from .config import Experiment
from .data import TaskSpec, instruct, load_task, read_for, task_spec, text2text
from .data.pipeline import encode
from .devices import Autocast, resolve_device
from .errors import BadInput
from .estimate_quant import compute_dtype, quantise_frozen_linears
from .memory_trace import ROLES, LiveTensorTracer
from .methods import BUILDERS
from .param_counts import count_trainable
from .step import loss_for, make_optimizer, synthetic_batch, training_step

CUDA_CONTEXT_BYTES = 512 * 2**20  # driver + kernels; not in torch.cuda.max_memory_allocated
ALLOCATOR_SLACK = 1.10  # reserved vs allocated on a training loop (fragmentation of the caching allocator)


def spec_for(exp: Experiment) -> TaskSpec:
    """The task's labels without reading data, except for a user's file (its labels come from the file)."""
    if exp.task.strip().lower() != "file":
        return task_spec(exp.task)
    return load_task(
        "file",
        exp.data,
        text_columns=exp.text_columns,
        label_column=exp.label_column,
        max_train_examples=10,
        max_eval_examples=10,
    ).spec


def data_length(exp: Experiment, backbone: Backbone) -> dict:
    """The longest batch a run of ``exp`` will train on: ``{"length", "rows", "length_from", ...}``.

    ``rows`` is the batch size, or the whole training split when it is smaller."""
    try:
        task = read_for(exp)
    except BadInput as e:
        note = f"the training data could not be read ({e.message}), so the estimate assumes max_length"
        return {"length": exp.max_length, "rows": exp.batch_size, "length_from": "max_length", "length_note": note}
    response = {}
    if instruct.is_instruct(task.spec):
        features = instruct.encode(task.train, backbone.tokenizer, exp.max_length)
        longest = max((sum(t != instruct.IGNORE for t in f["labels"]) for f in features), default=0)
        response = {"response_tokens": longest, "response_from": "data"}
    else:
        text_format = text2text.for_backbone(exp.t5_format, backbone, task.spec)  # T5: inputs with the paper's prefix
        features = encode(task.train, backbone.tokenizer, exp.max_length, text_format)
    lengths = [len(f["input_ids"]) for f in features]
    if not lengths:
        note = "the training split is empty, so the estimate assumes max_length"
        return {"length": exp.max_length, "rows": exp.batch_size, "length_from": "max_length", "length_note": note}
    return {
        "length": max(lengths),
        "rows": min(exp.batch_size, len(lengths)),
        "length_from": "data",
        "train_examples": len(lengths),
        **response,
    }


def trace_training(
    backbone: Backbone,
    spec: TaskSpec,
    exp: Experiment,
    method: str,
    device: torch.device,
    steps: int = 2,
    length: int | None = None,
    rows: int | None = None,
    response_tokens: int | None = None,
    bf16_weights: bool = False,
    checkpointing: bool = False,
) -> LiveTensorTracer:
    """Run ``steps`` training steps of ``method`` on a (rows, length) batch, traced; fake tensors.
    Without ``length``/``rows``: a (batch_size, max_length) batch. ``response_tokens``: instruction tuning's response
    per row (step.synthetic_batch). ``bf16_weights``: weights stored as PEFT's method comparison has them.
    ``checkpointing``: transformers' gradient checkpointing of the backbone's layers (QLoRA's own setting)."""
    # pruning changes values, not shapes; a tap cache only lowers the peak of epochs after the first
    exp = dataclasses.replace(exp, init="random", tap_cache="off")
    if bf16_weights and method == "lst":
        exp = dataclasses.replace(exp, backbone_dtype="bf16")
    tracer = LiveTensorTracer()
    # torch warns once per fake tensor that libraries read data_ptr() of; the values are never used
    warnings.filterwarnings("ignore", message="Accessing the data pointer of FakeTensor", category=UserWarning)
    # Built directly on the target device: moving fake parameters with .to() is not supported.
    with FakeTensorMode(allow_non_fake_inputs=True), torch.device(device), _no_op_module_moves():
        torch.manual_seed(exp.seed)
        task_model = (
            backbone.family.task_model_from_config(backbone.config, spec, backbone.tokenizer)
            if backbone.folder is not None
            else backbone.new_task_model(spec, exp.seed, exp.pooling)
        )
        model = BUILDERS[method](backbone, task_model, exp)
        if bf16_weights:
            _store_in_bf16(model, trainable_too=method == "full")
        if exp.backbone_quant != "none":
            quantise_frozen_linears(model, exp.backbone_quant, compute_dtype(exp))
        if checkpointing:  # the transformers model (PEFT's wrapper passes the call on to it)
            task_model = cast(PreTrainedModel, model.model)
            task_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.train()
        params, optimizer, scheduler = make_optimizer(model, exp.lr_for(method), exp.weight_decay, 0, steps)
        batch = synthetic_batch(
            backbone, spec, rows or exp.batch_size, length or exp.max_length, device, response_tokens
        )
        autocast = Autocast.of(device, exp.precision)
        with tracer.tracking(model, optimizer):
            for t in batch.values():
                tracer.retag(t, "transient")
            for _ in range(steps):
                training_step(model, batch, loss_for(spec), params, optimizer, scheduler, exp.max_grad_norm, autocast)
    return tracer


def _store_in_bf16(model: nn.Module, trainable_too: bool) -> None:
    """The frozen floating-point weights in bf16 (and the trainable ones, for pure-bf16 full fine-tuning)."""
    for p in model.parameters():
        if p.is_floating_point() and (trainable_too or not p.requires_grad):
            p.data = p.data.to(torch.bfloat16)


@contextlib.contextmanager
def _no_op_module_moves():
    """``Module.to(device/dtype)`` that already holds returns the module untouched. Libraries (PEFT) call it on
    layers they create; on fake tensors torch would try to swap every parameter, which fake tensors refuse."""
    original = nn.Module.to

    def same(t: torch.Tensor, device, dtype) -> bool:
        return (device is None or (t.device.type == device.type and device.index in (None, t.device.index))) and (
            dtype is None or not t.is_floating_point() or t.dtype == dtype
        )

    def to(self, *args, **kwargs):
        # torch's own parser of .to()'s arguments (device, dtype, tensor or memory format); it has no type stub
        device, dtype, *_ = torch._C._nn._parse_to(*args, **kwargs)  # pyright: ignore[reportAttributeAccessIssue]
        if all(same(t, device, dtype) for t in chain(self.parameters(), self.buffers())):
            return self
        return original(self, *args, **kwargs)

    nn.Module.to = to
    try:
        yield
    finally:
        nn.Module.to = original


def estimate_run(
    exp: Experiment,
    method: str,
    device: torch.device | None = None,
    length: int | None = None,
    rows: int | None = None,
    response_tokens: int | None = None,
    bf16_weights: bool = False,
    checkpointing: bool = False,
) -> dict:
    """The estimate of one method on a (rows, length) batch (default: batch_size x max_length):
    ``{"peak_bytes", "components": {role: bytes at the peak}, "device"}``.

    Each trace runs in a fresh child process. Tracing a PEFT model on fake tensors and then another model in the
    same process crashed torch 2.13 (segfault in backward, ~2 runs in 3); a child per trace is immune and keeps
    the caller's process clean (``_child_context``: how the child starts). Each child takes the caller's
    environment as it is at the call."""
    device = device or resolve_device(exp.device)
    context = _child_context(torch.device(device).type)
    for attempt in (1, 2):
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            try:
                job = (exp, method, str(device), length, rows, response_tokens, bf16_weights, checkpointing)
                return pool.submit(_estimate_in_child, dict(os.environ), *job).result()
            except BrokenProcessPool:
                if attempt == 2:
                    raise RuntimeError(f"the memory estimate of {method} crashed its process twice") from None
    raise AssertionError("unreachable")


def _child_context(device_type: str):
    """For a CPU estimate, children forked from a forkserver that imported this module once: a trace then costs no
    interpreter start and no imports of torch, transformers and PEFT (seconds each when every child was spawned).
    For CUDA, and where there is no forkserver (Windows), a spawned child, as before: importing PEFT can import
    bitsandbytes, which initialises CUDA on a GPU machine, and CUDA does not survive a fork (nor does forking the
    caller itself, which may hold CUDA already)."""
    if device_type == "cpu" and "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # read when the server starts (the first trace), once
        return context
    return multiprocessing.get_context("spawn")


def _estimate_in_child(environ: dict[str, str], *job) -> dict:
    """_estimate_here in a child, under the caller's environment at the call (a forkserver's is the one it started
    with)."""
    os.environ.clear()
    os.environ.update(environ)
    return _estimate_here(*job)


def _estimate_here(
    exp: Experiment,
    method: str,
    device_name: str,
    length: int | None,
    rows: int | None,
    response_tokens: int | None,
    bf16_weights: bool,
    checkpointing: bool = False,
) -> dict:
    warnings.filterwarnings("ignore", category=FutureWarning)
    device = torch.device(device_name)
    backbone, spec = load_backbone(exp.backbone), spec_for(exp)
    assumed = (response_tokens, bf16_weights, checkpointing)
    tracer = trace_training(backbone, spec, exp, method, device, 2, length, rows, *assumed)
    parts = dict(tracer.peak_by_role)
    parts["param"] += parts.pop("buffer")
    return {
        "method": method,
        "device": str(device),
        "peak_bytes": tracer.peak,
        "components": parts,
        "saved_for_backward_bytes": tracer.saved_high,
    }


def fits(peak_bytes: int, gpu_bytes: int | None, device: torch.device) -> dict | None:
    if gpu_bytes is None:
        return None
    needed = int(peak_bytes * ALLOCATOR_SLACK) + (CUDA_CONTEXT_BYTES if device.type == "cuda" else 0)
    return {"gpu_bytes": gpu_bytes, "needed_bytes": needed, "fits": needed <= gpu_bytes}


def gpu_total_bytes(device: torch.device) -> int | None:
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(device).total_memory)
    return None


def estimate_all(exp: Experiment, gpu_gib: float | None = None) -> dict:
    """Every method of the experiment; the verdict uses ``gpu_gib`` or the GPU's own size."""
    # bad input is reported here, before any child starts. A quantised backbone needs no GPU or bitsandbytes here
    # (estimate_quant.py models it from shapes): quant.check_quant is for runs.
    backbone = load_backbone(exp.backbone)
    spec = spec_for(exp)
    device = resolve_device(exp.device)
    gpu_bytes = int(gpu_gib * 2**30) if gpu_gib else gpu_total_bytes(device)
    batch = data_length(exp, backbone)
    if instruct.is_instruct(spec) and "response_tokens" not in batch:
        batch.update(response_tokens=batch["length"] // 2, response_from="half of the length (no data read)")
    rows = []
    for method in exp.methods:
        row = estimate_run(exp, method, device, batch["length"], batch["rows"], batch.get("response_tokens"))
        row["verdict"] = fits(row["peak_bytes"], gpu_bytes, device)
        row.update(count_trainable(backbone, spec, exp, method))
        rows.append(row)
    return {
        "backbone": exp.backbone,
        "batch_size": batch.pop("rows"),
        **batch,
        "max_length": exp.max_length,
        "precision": exp.precision,
        "backbone_quant": exp.backbone_quant,
        "device": str(device),
        "rows": rows,
    }


def format_estimate(result: dict) -> str:
    def mib(b: int) -> str:
        return f"{b / 2**20:,.0f}"

    cols = [r for r in ROLES if r != "buffer"]
    lines = [
        f"trainable parameters (% of the backbone) and training peak per method (MiB) — {result['backbone']}, "
        f"batch {result['batch_size']}, {result['length']} tokens, {result['precision']}, {result['device']}",
        (
            f"{result['length']} tokens: the longest of the {result['train_examples']:,} training examples "
            f"(max_length {result['max_length']})"
            if result["length_from"] == "data"
            else f"{result['length']} tokens: {result['length_note']}"
        ),
        f"{'method':<8} {'trainable':>9} {'peak':>9} " + " ".join(f"{c:>10}" for c in cols) + "  verdict",
    ]
    if "response_tokens" in result:  # instruction tuning: the LM head runs on the response only
        lines.insert(2, f"the loss reads {result['response_tokens']} response tokens a row ({result['response_from']})")
    if result.get("backbone_quant", "none") != "none":
        lines.insert(2, f"frozen backbone quantised ({result['backbone_quant']}): bitsandbytes' storage, from shapes")
    for r in result["rows"]:
        v = r["verdict"]
        verdict = (
            ""
            if v is None
            else (
                f"fits in {v['gpu_bytes'] / 2**30:.3g} GiB"
                if v["fits"]
                else f"does NOT fit in {v['gpu_bytes'] / 2**30:.3g} GiB (needs ~{v['needed_bytes'] / 2**30:.1f} GiB)"
            )
        )
        lines.append(
            f"{r['method']:<8} {r['trainable_pct']:>8.2f}% {mib(r['peak_bytes']):>9} "
            + " ".join(f"{mib(r['components'][c]):>10}" for c in cols)
            + f"  {verdict}"
        )
    return "\n".join(lines)
