"""What only a CUDA device can show (issue 15; `scripts/gpu-check` runs this file on a GPU machine, marked ``cuda``;
without CUDA every test here is skipped, and CI only collects them, through gpu-check's dry run).

- every method trains a few steps on CUDA, in fp32 and under bf16 autocast, and each run's events carry torch's
  CUDA peak allocated/reserved bytes per phase;
- a real CUDA out-of-memory (a batch far too large for the whole device) is one ``oom`` error event and exit 3, the
  memory comes back, and the process trains the next run; in a comparison whose first method runs out of memory
  (a memory cap it cannot fit), the next method still trains;
- a run stopped and resumed on CUDA continues with the CUDA RNG state it was checkpointed with (dropout masks);
- ``nvidia-smi`` answers the GPU monitor's query (src/engine/gpuMonitor.ts) in the form its parser reads, with the
  device's real figures.

Real engine runs in this process (``cli.main``), random-init preset shapes, the SST-2 rows of fixtures/glue-real.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import helpers
from helpers import REPO, SST2
from ladderlab import checkpoint, cli
from ladderlab.methods import BUILDERS
from ladderlab.oom import FAIL_ALLOC_ENV

# cuBLAS picks deterministic kernels only when told before its first use; the resume test compares weights.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

GIB = 2**30
TINY = helpers.cli(
    "--task sst2 --data",
    SST2,
    "--max-train-examples 16 --max-eval-examples 8 --epochs 1 --batch-size 8 --max-length 32 --fisher-samples 2",
    "--device cuda --format events",
)


def run_cli(capsys, *args) -> tuple[int, list[dict]]:
    """``ladderlab ARGS`` in this process: exit status and the JSON-lines events it printed."""
    capsys.readouterr()
    code = cli.main(helpers.cli(*args))
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def by_run(events: list[dict]) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for e in events:
        if "run_id" in e:
            runs.setdefault(e["run_id"], []).append(e)
    return runs


def assert_cuda_phase_memory(events: list[dict]) -> dict[str, dict]:
    """Every phase_memory event carries torch's CUDA peaks (never None on CUDA); returns them by phase."""
    phases = {e["phase"]: e["memory"] for e in events if e["type"] == "phase_memory"}
    assert {"train", "eval"} <= set(phases), phases.keys()
    for phase, memory in phases.items():
        alloc, reserved = memory["peak_allocated_bytes"], memory["peak_reserved_bytes"]
        assert isinstance(alloc, int) and isinstance(reserved, int), (phase, memory)
        assert 0 < alloc <= reserved, (phase, memory)
        assert alloc >= memory["param_bytes"], (phase, memory)  # the model is on the device
    return phases


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("preset", ["bert-tiny", "t5-tiny", "gpt2-tiny"])
def test_every_method_trains_on_cuda(tmp_path, capsys, preset, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    methods = list(BUILDERS)
    code, events = run_cli(
        capsys,
        f"compare --methods {','.join(methods)} --backbone preset:{preset} --precision {precision}",
        *TINY,
        "--runs-dir",
        tmp_path / "runs",
    )
    assert code == 0, [e for e in events if e["type"] == "error"]
    runs = by_run(events)
    finished = [e["summary"]["method"] for e in events if e["type"] == "run_finished"]
    assert finished == methods
    for run_events in runs.values():
        started = run_events[0]
        assert started["type"] == "run_started" and started["device"].startswith("cuda")
        assert started["config"]["precision"] == precision
        steps = [e for e in run_events if e["type"] == "train_step"]
        assert len(steps) == 2 and all(math.isfinite(e["loss"]) for e in steps), started["method"]
        for e in steps:  # the live figures the Run Monitor charts
            assert (
                e["memory"]["allocated_bytes"] > 0 and e["memory"]["reserved_bytes"] >= e["memory"]["allocated_bytes"]
            )
        phases = assert_cuda_phase_memory(run_events)
        if started["method"] == "lst":
            assert "pruning_init" in phases  # Fisher pruning ran on the device too
        summary = run_events[-1]["summary"]
        assert summary["memory"]["train_peak_bytes"] == phases["train"]["peak_allocated_bytes"]
        assert summary["memory"]["train_reserved_bytes"] == phases["train"]["peak_reserved_bytes"]


def long_sst2(folder: Path, rows: int) -> Path:
    """An SST-2 folder whose training sentences fill 512 tokens each (the hold-out takes 1,000 for validation)."""
    folder.mkdir()
    sentence = " ".join(["a gripping , funny and wholly unexpected film"] * 80)
    lines = ["sentence\tlabel"] + [f"{sentence}\t{i % 2}" for i in range(1000 + rows)]
    (folder / "train.tsv").write_text("\n".join(lines) + "\n")
    (folder / "dev.tsv").write_text("\n".join(lines[:9]) + "\n")
    return folder


def test_real_out_of_memory_is_one_event_exit_3_and_the_memory_comes_back(tmp_path, capsys):
    """Full fine-tuning of a BERT-base shape on 1,024 sequences of 512 tokens needs several times any GPU's memory
    (about 0.7 GB of activations per sequence): the device's own allocator fails, not a test hook."""
    assert FAIL_ALLOC_ENV not in os.environ
    data = long_sst2(tmp_path / "long", 1024)
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    total = torch.cuda.get_device_properties(0).total_memory
    code, events = run_cli(
        capsys,
        "run --method full --backbone preset:bert-base --task sst2 --data",
        data,
        "--max-train-examples 1024 --max-eval-examples 4 --epochs 1 --batch-size 1024 --max-length 512",
        "--device cuda --format events --runs-dir",
        tmp_path / "runs",
    )
    assert code == 3
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1, errors
    oom = errors[0]
    assert oom["kind"] == "oom" and oom["phase"] == "train" and oom["step"] == 1, oom
    assert "CUDA out of memory" in oom["message"], oom["message"]  # torch's own error, first line
    memory = oom["memory"]
    assert isinstance(memory["allocated_bytes"], int) and isinstance(memory["reserved_bytes"], int), memory
    assert memory["max_allocated_bytes"] > total / 3, memory  # it really filled the device before failing
    assert not any(e["type"] == "run_finished" for e in events)
    # Released: the failed run's tensors are gone and its cached blocks returned to the device.
    assert torch.cuda.memory_allocated() - before < 64 * 2**20
    assert torch.cuda.memory_reserved() < 2 * GIB
    # ... and the same process trains the next run.
    code, events = run_cli(
        capsys, "run --method lora --backbone preset:bert-base", *TINY, "--runs-dir", tmp_path / "runs"
    )
    assert code == 0 and events[-1]["type"] == "run_finished"


def test_after_an_out_of_memory_the_next_method_of_the_comparison_trains(tmp_path, capsys):
    """Capped at 1.5 GiB, full fine-tuning of a BERT-base shape (0.41 GiB of weights, as much again of gradients and
    twice that of AdamW state: 1.63 GiB) cannot fit; LST on the same backbone (frozen weights, a small side network,
    magnitude pruning: no backbone gradients) needs about 0.5 GiB, so it trains only if the failed run's memory
    went back to the allocator."""
    cap = 1.5 * GIB
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(cap / total)
    try:
        code, events = run_cli(
            capsys,
            "compare --methods full,lst --backbone preset:bert-base --init magnitude",
            *TINY,
            "--runs-dir",
            tmp_path / "runs",
        )
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert code == 3
    errors = [e for e in events if e["type"] == "error"]
    assert [(e["kind"], e["phase"]) for e in errors] == [("oom", "train")], errors
    assert errors[0]["memory"]["max_allocated_bytes"] <= cap
    finished = events[-1]
    assert finished["type"] == "compare_finished"
    assert [r["method"] for r in finished["rows"]] == ["lst"]
    assert [(f["method"], f["kind"]) for f in finished["failed"]] == [("full", "oom")]
    lst = next(e for e in events if e["type"] == "run_finished")["summary"]
    assert lst["memory"]["train_peak_bytes"] <= cap


def test_cuda_rng_state_round_trips_through_a_checkpoint(tmp_path):
    torch.cuda.manual_seed(7)
    state = checkpoint.rng_state()
    assert "cuda" in state
    expected = torch.rand(1000, device="cuda")
    torch.save(state, tmp_path / "rng.pt")
    torch.cuda.manual_seed(1234)  # move the device's stream elsewhere
    checkpoint.restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True))  # as checkpoint.load reads it
    assert torch.equal(torch.cuda.get_rng_state(), state["cuda"][0].cpu())
    assert torch.equal(torch.rand(1000, device="cuda"), expected)


def trained_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(run_dir / "trainable.safetensors")


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def step_losses(events: list[dict]) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in events if e["type"] == "train_step"}


def test_resume_on_cuda_continues_with_the_checkpointed_cuda_rng(tmp_path, capsys, monkeypatch):
    """LoRA on a BERT shape trains with the backbone's dropout, whose masks come from the CUDA RNG. A run that fails
    at step 7 of 8 resumes from its step-6 checkpoint: steps 7 and 8 must see the losses of the uninterrupted run and
    end at its weights (one epoch, so the saved weights are the last step's). The same checkpoint with its CUDA RNG
    state replaced must not, or the comparison could not tell a wrong state from the right one."""
    args = helpers.cli(
        "--method lora --backbone preset:bert-tiny --task sst2 --data",
        SST2,
        "--max-train-examples 64 --max-eval-examples 8 --epochs 1 --batch-size 8 --max-length 32",
        "--checkpoint-every 2 --lr 1e-3 --device cuda --format events",
    )
    code, events = run_cli(capsys, "run", *args, "--runs-dir", tmp_path / "reference")
    assert code == 0
    reference = trained_weights(Path(events[-1]["summary"]["run_dir"]))
    reference_losses = step_losses(events)
    assert sorted(reference_losses) == list(range(1, 9))

    monkeypatch.setenv(FAIL_ALLOC_ENV, "lora:7")
    code, events = run_cli(capsys, "run", *args, "--runs-dir", tmp_path / "stopped")
    monkeypatch.delenv(FAIL_ALLOC_ENV)
    assert code == 3
    run_dir = Path(events[0]["run_dir"])
    payload = torch.load(run_dir / checkpoint.CHECKPOINT, weights_only=True)
    assert payload["state"]["step"] == 6 and "cuda" in payload["rng"]
    tampered = run_dir.with_name(run_dir.name + "-tampered")
    shutil.copytree(run_dir, tampered)
    torch.cuda.manual_seed(99)
    payload["rng"]["cuda"] = [torch.cuda.get_rng_state()]
    torch.save(payload, tampered / checkpoint.CHECKPOINT)

    torch.cuda.manual_seed(12345)  # whatever the process's stream is now, the resume must replace it
    code, events = run_cli(capsys, "resume", run_dir, "--format events")
    assert code == 0 and events[-1]["type"] == "run_finished"
    resumed_losses, resumed = step_losses(events), largest_difference(trained_weights(run_dir), reference)
    code, events = run_cli(capsys, "resume", tampered, "--format events")
    assert code == 0
    control_losses, control = step_losses(events), largest_difference(trained_weights(tampered), reference)
    print(f"\nsteps 7-8 losses: uninterrupted {[reference_losses[s] for s in (7, 8)]}, resumed "
          f"{[resumed_losses[s] for s in (7, 8)]}, other CUDA RNG {[control_losses[s] for s in (7, 8)]}; "
          f"weights off by {resumed:.3g} resumed, {control:.3g} with the other state")  # fmt: skip
    assert sorted(resumed_losses) == [7, 8]
    assert max(abs(control_losses[s] - reference_losses[s]) for s in (7, 8)) > 1e-4 and control > 1e-5, (
        "the CUDA RNG state made no difference: this test cannot see a wrong one"
    )
    assert all(abs(resumed_losses[s] - reference_losses[s]) <= 2e-6 for s in (7, 8))
    assert resumed <= 1e-6 and resumed < control / 100


def monitor_query() -> list[str]:
    """The arguments the extension's GPU monitor passes to nvidia-smi (NVIDIA_SMI_ARGS, read from its source)."""
    source = (REPO / "src" / "engine" / "gpuMonitor.ts").read_text(encoding="utf-8")
    found = re.search(r"NVIDIA_SMI_ARGS\s*=\s*\[([^\]]*)\]", source)
    assert found, "NVIDIA_SMI_ARGS not found in src/engine/gpuMonitor.ts"
    return re.findall(r"'([^']*)'", found.group(1))


def query_gpus(args: list[str]) -> tuple[str, list[tuple[float, float]]]:
    """nvidia-smi's stdout and its (used MiB, total MiB) per GPU, read as parseNvidiaSmi reads them."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        pytest.skip("nvidia-smi is not on PATH")
    out = subprocess.run([smi, *args], capture_output=True, text=True, timeout=30, check=True).stdout
    rows = []
    for line in out.splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        assert len(parts) == 2 and all(re.fullmatch(r"\d+(\.\d+)?", p) for p in parts), repr(line)
        rows.append((float(parts[0]), float(parts[1])))
    return out, rows


def test_nvidia_smi_answers_the_gpu_monitors_query_with_the_devices_figures():
    args = monitor_query()
    torch.cuda.empty_cache()  # the 4 GiB below must come from the device, not from blocks torch keeps cached
    out, rows = query_gpus(args)
    print(f"\nnvidia-smi {' '.join(args)}:\n{out}")
    assert rows, f"no GPU line in {out!r}"
    total_mib = torch.cuda.get_device_properties(0).total_memory / 2**20
    match = [r for r in rows if abs(r[1] - total_mib) <= 0.03 * total_mib]
    assert match, f"no GPU with torch's {total_mib:.0f} MiB in {rows}"
    used_before = match[0][0]
    block = torch.empty(4 * GIB, dtype=torch.uint8, device="cuda")
    block.fill_(1)
    torch.cuda.synchronize()
    _, rows = query_gpus(args)
    used_after = next(r[0] for r in rows if abs(r[1] - total_mib) <= 0.03 * total_mib)
    del block
    torch.cuda.empty_cache()
    assert used_after - used_before >= 3.5 * 1024, (used_before, used_after)  # MiB: the 4 GiB it holds shows
