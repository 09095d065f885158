"""A sweep on a real 2-node Ray cluster, one worker node killed mid-sweep; run by test_sweep_ray.py.

    python ray_two_node_sweep.py RUNS_DIR REPORT_JSON

Run it only inside a network namespace with loopback alone (``unshare -n``): Ray started outside one on these
machines tries to reach the machine's own external address (shared/notes/environment.md). Two sweeps of tiny LST
trials, each with the real SweepStore; stdout carries their events, REPORT_JSON what the test checks beside the
run store:
    local:    RayBackend() with no address starts its own Ray (2 trials); every socket listening while a trial trains
    cluster:  a head and a worker node (one CPU each, 127.0.0.1, no dashboard), 4 trials through
              RayBackend(address=...); the worker node is removed once two trials train at once (one of them on it);
              the GCS address, every socket listening just before the kill, timings
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported: nothing is reported anywhere

from helpers import SST2  # noqa: E402  (tests/ is this script's folder, so on sys.path)
from ladderlab.events import EventSink  # noqa: E402
from ladderlab.sweep.ray_backend import RayBackend  # noqa: E402
from ladderlab.sweep.spec import parse_sweep  # noqa: E402
from ladderlab.sweep.store import SweepStore  # noqa: E402

# Ray notices a dead node after health_check_period_ms x failure_threshold (15 s by default): 2 s here.
FAST_HEALTH_CHECK = {"health_check_period_ms": 500, "health_check_failure_threshold": 4}


def experiment(runs_dir: Path) -> dict:
    """tests/helpers.tiny_lst_run's run (bert-tiny, 32 SST-2 rows, 2 epochs of 4 steps), checkpointed every 2 steps."""
    return {
        "methods": ["lst"],
        "backbone": "preset:bert-tiny",
        "task": "sst2",
        "data": str(SST2),
        "max_train_examples": 32,
        "max_eval_examples": 8,
        "epochs": 2,
        "batch_size": 8,
        "max_length": 32,
        "fisher_samples": 2,
        "checkpoint_every": 2,
        "runs_dir": str(runs_dir),
    }


def listening() -> list[str]:
    """Every TCP socket listening in this network namespace, as ``address:port`` (IPv4-mapped IPv6 unmapped)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            hex_ip, hex_port = local.split(":")
            raw = bytes.fromhex(hex_ip)
            if len(raw) == 4:
                ip = ".".join(str(b) for b in raw[::-1])
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                ip = ".".join(str(b) for b in words[12:]) if words[:12] == bytes(10) + b"\xff\xff" else words.hex()
            found.append(f"{ip}:{int(hex_port, 16)}")
    return found


class MidSweep:
    """The real SweepStore as the reporter, and ``act`` called (in a thread of its own: it may take seconds) at the
    first training step seen while two trials run at once: on the cluster, one per node's CPU, so one runs on the
    worker node. ``running``: how many trials must run at once."""

    def __init__(self, store: SweepStore, act, running: int):
        self.store, self.act, self.needed = store, act, running
        self.running: set[str] = set()
        self.acted: threading.Thread | None = None

    def trial_started(self, trial_id: str, run_id: str) -> None:
        self.store.trial_started(trial_id, run_id)
        self.running.add(trial_id)

    def trial_event(self, trial_id: str, event: dict) -> None:
        self.store.trial_event(trial_id, event)
        if event["type"] == "train_step" and len(self.running) >= self.needed and self.acted is None:
            self.acted = threading.Thread(target=self.act)
            self.acted.start()

    def trial_file(self, trial_id: str, name: str, data: bytes) -> None:
        self.store.trial_file(trial_id, name, data)

    def trial_ended(self, trial_id: str, status: str, summary: dict | None, error: dict | None) -> None:
        self.store.trial_ended(trial_id, status, summary, error)
        self.running.discard(trial_id)


def sweep(runs_dir: Path, seeds: list[int], address: str | None, act, running: int) -> tuple[SweepStore, bool]:
    """LST r in {4, 8} x ``seeds`` through RayBackend; whether ``act`` ran (``running`` trials trained at once)."""
    values = experiment(runs_dir)
    spec = parse_sweep({"per_method": {"lst": {"r": [4, 8]}}, "seeds": seeds}, values)
    store = SweepStore.create(runs_dir, values, spec, None, EventSink("events"))
    reporter = MidSweep(store, act, running)
    RayBackend(address=address).run(store.expand(), reporter, store.runs_dir)
    if reporter.acted is not None:
        reporter.acted.join()
    return store, reporter.acted is not None


def main() -> None:
    runs_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    began = time.time()
    local: dict = {"listening": []}
    store, _ = sweep(runs_dir / "local", [0], None, lambda: local["listening"].extend(listening()), running=1)
    local.update(sweep_dir=str(store.dir), seconds=round(time.time() - began, 1))

    from ray.cluster_utils import Cluster

    began = time.time()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "node_ip_address": "127.0.0.1",
            "_system_config": FAST_HEALTH_CHECK,
        },
    )
    report: dict = {"listening": []}
    try:
        worker = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        report["cluster_up_s"] = round(time.time() - began, 1)

        def kill() -> None:
            report["listening"] = listening()  # both nodes, the driver, the relay and two trials are up now
            cluster.remove_node(worker, allow_graceful=False)

        store, killed = sweep(runs_dir / "cluster", [0, 1], cluster.address, kill, running=2)
        report.update(sweep_dir=str(store.dir), gcs_address=cluster.address, killed=killed)
        report["sweep_done_s"] = round(time.time() - began, 1)
    finally:
        cluster.shutdown()
    report["seconds"] = round(time.time() - began, 1)
    out.write_text(json.dumps({"local": local, "cluster": report}))


if __name__ == "__main__":
    main()
