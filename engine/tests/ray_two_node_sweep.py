"""Sweeps on a real Ray through RayBackend, with the real SweepStore; run by test_sweep_ray.py.

    python ray_two_node_sweep.py RUNS_DIR REPORT_JSON

Run it only inside a network namespace with loopback alone (``unshare -n``): Ray started outside one on these
machines tries to reach the machine's own external address (shared/notes/environment.md). Stdout carries the
sweeps' events; REPORT_JSON what the test checks beside the run store:
    local:    RayBackend() with no address starts its own Ray; 3 trials, stopped (ladderlab.stop, as the CLI's SIGINT
              handler asks) once one has written a checkpoint; the manifest the stop left, and every socket
              listening while a trial ran. The stopped sweep is resumed on the cluster below: what it continues
              from is in the driver's run store, not in any Ray.
    cluster:  a head and a worker node (one CPU each, 127.0.0.1, no dashboard); the local sweep's unfinished trials
              (as `ladderlab sweep resume` runs them), then a new sweep of 4 trials through RayBackend(address=...);
              the worker node is removed when a trial on it trains; the GCS address, every socket listening just
              before the kill, timings
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray is imported: nothing is reported anywhere

from helpers import TINY_LST, phase  # noqa: E402  (tests/ is this script's folder, so on sys.path)
from ladderlab import stop  # noqa: E402
from ladderlab.events import EventSink  # noqa: E402
from ladderlab.sweep.ray_backend import NODE_LOG, RayBackend  # noqa: E402
from ladderlab.sweep.spec import parse_sweep  # noqa: E402
from ladderlab.sweep.store import SweepStore  # noqa: E402

# Ray notices a dead node after health_check_period_ms x failure_threshold (15 s by default): 2 s here.
FAST_HEALTH_CHECK = {"health_check_period_ms": 500, "health_check_failure_threshold": 4}


def experiment(runs_dir: Path, **overrides) -> dict:
    """helpers.TINY_LST's run, checkpointed every 2 steps, in runs_dir."""
    return {**TINY_LST, "checkpoint_every": 2, "runs_dir": str(runs_dir), **overrides}


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
    """The real SweepStore as the reporter, and ``act`` called once (in a thread of its own: it may take seconds) at
    the first event of type ``event`` of a trial running on the node ``node_id`` (any node: None)."""

    def __init__(self, store: SweepStore, act, event: str, node_id: str | None = None):
        self.store, self.act, self.event, self.node_id = store, act, event, node_id
        self.nodes: dict[str, str] = {}  # trial -> the node its latest attempt runs on (RayBackend's log event)
        self.acted: threading.Thread | None = None

    def trial_started(self, trial_id: str, run_id: str) -> None:
        self.store.trial_started(trial_id, run_id)

    def trial_event(self, trial_id: str, event: dict) -> None:
        self.store.trial_event(trial_id, event)
        if event["type"] == "log" and event["message"].startswith(NODE_LOG):
            self.nodes[trial_id] = event["message"][len(NODE_LOG) :].split()[0]
        on_node = self.node_id is None or self.nodes.get(trial_id) == self.node_id
        if event["type"] == self.event and on_node and self.acted is None:
            self.acted = threading.Thread(target=self.act)
            self.acted.start()

    def trial_file(self, trial_id: str, name: str, data: bytes) -> None:
        self.store.trial_file(trial_id, name, data)

    def trial_ended(self, trial_id: str, status: str, summary: dict | None, error: dict | None) -> None:
        self.store.trial_ended(trial_id, status, summary, error)


def sweep(values: dict, block: dict, address: str | None, mid: dict) -> tuple[SweepStore, bool]:
    """A new sweep of ``values`` run through RayBackend, with MidSweep(store, **mid) as its reporter; whether the
    MidSweep acted."""
    store = SweepStore.create(values["runs_dir"], values, parse_sweep(block, values), None, EventSink("events"))
    reporter = MidSweep(store, **mid)
    RayBackend(address=address).run(store.expand(), reporter, store.runs_dir)
    if reporter.acted is not None:
        reporter.acted.join()
    return store, reporter.acted is not None


def local(runs_dir: Path, began: float) -> dict:
    report: dict = {"listening": []}

    def stop_now() -> None:
        phase("local: a checkpoint was saved, stopping", began)
        report["listening"] = listening()
        stop.request()  # what the CLI's SIGINT handler does

    # 36 steps a trial (48 rows in batches of 4, 3 epochs): it is still training when the stop reaches it
    values = experiment(runs_dir, max_train_examples=48, batch_size=4, epochs=3)
    phase("local: sweep of 3 trials starting", began)
    with stop.graceful_signals():  # ladderlab.stop's flag is cleared when it ends, as after a CLI command
        store, acted = sweep(values, {"seeds": [0, 1, 2]}, None, {"act": stop_now, "event": "checkpoint_saved"})
    report["stop_requested"] = acted
    report["stopped"] = [dict(t) for t in store.manifest["trials"]]  # the manifest as the stop left it
    report["stopped_with_checkpoint"] = [
        t["trial_id"]
        for t in report["stopped"]
        if t["run_id"] and (store.runs_dir / t["run_id"] / "checkpoint.pt").is_file()
    ]
    report["sweep_dir"] = str(store.dir)
    return report


def cluster(runs_dir: Path, stopped_sweep: str, began: float) -> dict:
    from ray.cluster_utils import Cluster

    phase("cluster: starting the head", began)
    ray_cluster = Cluster(
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
        worker = ray_cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        report["cluster_up_s"] = round(time.time() - began, 1)
        phase("cluster: both nodes up, resuming the stopped sweep", began)
        stopped = SweepStore.open(stopped_sweep, EventSink("events"))
        RayBackend(address=ray_cluster.address).run(stopped.unfinished(), stopped, stopped.runs_dir)
        report["resumed_s"] = round(time.time() - began, 1)

        phase("cluster: resumed, new sweep of 4 trials starting", began)

        def kill() -> None:
            phase("cluster: removing the worker node", began)
            report["listening"] = listening()  # both nodes, the driver, the relay and the trials are up now
            ray_cluster.remove_node(worker, allow_graceful=False)

        block = {"per_method": {"lst": {"r": [4, 8]}}, "seeds": [0, 1]}
        mid = {"act": kill, "event": "train_step", "node_id": worker.node_id}
        # report_to: the trials' trackers record on the driver (the workers' folders are scratch)
        store, killed = sweep(experiment(runs_dir, report_to=["tensorboard"]), block, ray_cluster.address, mid)
        report.update(sweep_dir=str(store.dir), gcs_address=ray_cluster.address, killed=killed)
        report["sweep_done_s"] = round(time.time() - began, 1)
        phase("cluster: sweep done, shutting down", began)
    finally:
        ray_cluster.shutdown()
    report["seconds"] = round(time.time() - began, 1)
    return report


def main() -> None:
    runs_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    began = time.time()
    report = {"local": local(runs_dir / "local", began)}
    report["local"]["seconds"] = round(time.time() - began, 1)
    began = time.time()
    report["cluster"] = cluster(runs_dir / "cluster", report["local"]["sweep_dir"], began)
    out.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
