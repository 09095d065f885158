"""``ladderlab sweep``: an experiment file with a ``sweep`` block becomes a grid of runs (ladderlab.sweep).

    ladderlab sweep --config F.ladder.json [--json] [--backend auto|ray|local] [--ray-address A]  expand, run, sum up
    ladderlab sweep plan --config F [--estimate] [--json]   the trials it expands to (+ peak, steps), nothing run
    ladderlab sweep report SWEEP_DIR [--json]     the aggregate again, from the sweep folder and its run folders
    ladderlab sweep resume SWEEP_DIR              finished trials kept, stopped and failed ones continued, the rest run

One command with two optional actions rather than ``sweep run/report/resume``: the issue's and the README's line is
``ladderlab sweep --config F``, and it reads as ``compare --config F`` does. Exit status as for compare: 0 when every
trial finished, 2 bad input (a refused grid: nothing is created), 3 / 1 when a trial ran out of memory / crashed
(the first failure's kind), 130 stopped. The grid is checked before any backend starts.

``--backend auto`` (the default): Ray when --ray-address names a cluster, or when Ray is installed and a local Ray
would listen on 127.0.0.1 only (ray_backend.local_ray_exposure); otherwise the local backend, with a log event that
says why and how to get Ray. ``--backend ray`` refuses instead of falling back.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import BadInput, error_fields
from .events import EventSink
from .stop import StopRequested, graceful_signals
from .stop import requested as stop_requested

COMMAND = "sweep"
SWEEP_EXTRA = "pip install 'ladderlab[sweep]'"
RAY_MISSING = f"install the sweep extra: {SWEEP_EXTRA} (or run the trials here: --backend local)"


def _options(p: argparse.ArgumentParser, keep_parent: bool) -> None:
    """Options the sweep and its resume share; on an action they default to the parent's (SUPPRESS), so that
    ``sweep --backend local resume D`` and ``sweep resume D --backend local`` mean the same."""
    d = (lambda value: argparse.SUPPRESS) if keep_parent else (lambda value: value)
    p.add_argument(
        "--backend",
        choices=("auto", "ray", "local"),
        default=d("auto"),
        help="where trials run (default auto: Ray with --ray-address, or when a local Ray would listen on 127.0.0.1 "
        "only; else here, one after another)",
    )
    p.add_argument("--ray-address", default=d(None), metavar="ADDRESS", help="an existing Ray cluster (ray backend)")
    p.add_argument("--json", action="store_true", default=d(False), help="print only the results as one JSON object")
    p.add_argument(
        "--format",
        choices=("events", "text"),
        default=d(None),
        help="stdout: JSON-lines events (default when piped) or readable progress (on a terminal)",
    )


def add_parser(sub) -> None:
    text = "run an experiment file's sweep block: a grid of runs over fields and seeds, aggregated per grid point"
    p = sub.add_parser(COMMAND, help=text, description=text)
    p.add_argument("--config", help="experiment file (*.ladder.json) with a sweep block")
    p.add_argument("--runs-dir", default=None, help="where run folders and the sweep folder go (default: the file's)")
    _options(p, keep_parent=False)
    actions = p.add_subparsers(dest="sweep_action", metavar="{plan,report,resume}")
    text = "list the trials the file's grid expands to (checked as the sweep checks it), nothing run or created"
    r = actions.add_parser("plan", help=text, description=text)
    r.add_argument("--config", default=argparse.SUPPRESS, help="experiment file (*.ladder.json) with a sweep block")
    r.add_argument("--estimate", action="store_true", help="also each trial's predicted peak memory and steps")
    r.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object")
    text = "print a sweep's aggregate (mean, std, Pareto front), recomputed from its folder and its runs"
    r = actions.add_parser("report", help=text, description=text)
    r.add_argument("sweep_dir", metavar="SWEEP_DIR", help="the sweep folder (<runs_dir>/sweeps/<id>)")
    r.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object")
    text = (
        "finish a sweep: finished and early-stopped trials kept, stopped and failed ones continued in their run "
        "folders (from their checkpoint, or from the start), queued ones run"
    )
    r = actions.add_parser("resume", help=text, description=text)
    r.add_argument("sweep_dir", metavar="SWEEP_DIR", help="the sweep folder (<runs_dir>/sweeps/<id>)")
    _options(r, keep_parent=True)


def main(args: argparse.Namespace, report: Callable[[EventSink | None, dict], int], exit_status: dict) -> int:
    """``report``: the CLI's way of telling a failure outside any run (cli._report); ``exit_status``: cli.EXIT."""
    from .sweep.store import SweepStore

    mode = "quiet" if args.json else args.format or ("text" if sys.stdout.isatty() else "events")
    sink = EventSink(mode)
    store: SweepStore | None = None
    try:
        with graceful_signals():
            if args.sweep_action == "plan":
                return _plan(args)
            if args.sweep_action == "report":
                results = _results(SweepStore.open(args.sweep_dir, sink=sink))
                _print(results, args.json)
                return 0
            store, trials, backend, claim = _prepare(args, sink)
            with claim:
                results = _drive(store, trials, backend, sink)
    except StopRequested:
        where = f" {store.dir}" if store is not None else ""
        print(f"ladderlab: sweep stopped; `ladderlab sweep resume{where}` continues it", file=sys.stderr)
        return exit_status["stopped"]
    except KeyboardInterrupt:
        print("ladderlab: sweep interrupted; finished trials are in their run folders", file=sys.stderr)
        return exit_status["stopped"]
    except Exception as e:  # a refused grid, a missing Ray, a bug: errors.py decides which
        return report(sink, error_fields(e))
    _print(results, args.json, mode == "text")
    failed = [t for t in store.manifest["trials"] if t["status"] == "failed"]
    for t in failed:
        print(
            f"ladderlab: trial {t['trial_id']} ({t['method']} {json.dumps(t['point'])} seed {t['seed']}) failed "
            f"({t['error']['kind']}): {t['error']['message']}",
            file=sys.stderr,
        )
    return exit_status[failed[0]["error"]["kind"]] if failed else 0


def _plan(args) -> int:
    from .sweep.plan import format_plan, plan

    if not args.config:
        raise BadInput("sweep plan needs an experiment file with a sweep block", "pass --config FILE.ladder.json")
    result = plan(args.config, estimate=args.estimate)
    print(json.dumps(result, indent=2) if args.json else format_plan(result))
    return 0


def _prepare(args, sink: EventSink):
    """Everything that can be refused, refused before anything is created: the file and its grid, the backend, a
    sweep that another engine runs. Returns the store, the trials to run, the backend and the driver's claim."""
    from .config import build_experiment
    from .sweep.spec import read_sweep_file
    from .sweep.store import SweepStore, claim_driver

    if args.sweep_action == "resume":
        existing = SweepStore.open(args.sweep_dir)
        claim = claim_driver(existing.dir)
        # early stopping needs Ray only where trials are left to run: a finished sweep re-aggregates anywhere
        early_stopping = existing.manifest["sweep"].get("early_stopping") if existing.unfinished() else None
        backend = _backend(args, sink, early_stopping)
        store = SweepStore.open(args.sweep_dir, EventSink(sink.stdout_mode), backend)
        return store, store.unfinished(), backend, claim
    if not args.config:
        raise BadInput("sweep needs an experiment file with a sweep block", "pass --config FILE.ladder.json")
    values, spec = read_sweep_file(args.config)
    # Absolute from here on: the trials' config.json and a resume started elsewhere name the same folder.
    runs_dir = args.runs_dir or build_experiment(values, {}).runs_dir  # the flag, the file's, or the default
    values["runs_dir"] = str(Path(runs_dir).expanduser().resolve())
    backend = _backend(args, sink, spec.early_stopping)
    store = SweepStore.create(values["runs_dir"], values, spec, args.config, EventSink(sink.stdout_mode), backend)
    return store, store.expand(), backend, claim_driver(store.dir)


def _backend(args, sink: EventSink, early_stopping: dict | None):
    """The backend the flags ask for. ``early_stopping``: the sweep's; ASHA runs in Ray Tune, so the local backend
    refuses it (running every trial to its end instead would be another sweep than the file asks for)."""
    if args.backend == "local" and args.ray_address:
        raise BadInput("--ray-address names a Ray cluster, and the backend is local", "use --backend ray (or auto)")
    why_not_ray = _why_not_ray(args) if args.backend == "auto" else None
    if args.backend == "local" or why_not_ray:
        if early_stopping is not None:
            raise BadInput(
                "sweep.early_stopping needs the Ray backend (ASHA runs in Ray Tune), and this sweep would run on "
                f"the local backend{f' ({why_not_ray[0]})' if why_not_ray else ''}",
                f"{why_not_ray[1]}; or remove sweep.early_stopping"
                if why_not_ray
                else "use --backend ray (or auto), or remove sweep.early_stopping",
            )
        if why_not_ray:
            sink.log(
                f"backend auto: the trials run here, one after another: {why_not_ray[0]}. For Ray, {why_not_ray[1]}"
            )
        from .sweep.local import LocalBackend

        return LocalBackend(sink)
    if importlib.util.find_spec("ray") is None:
        raise BadInput("the ray backend needs Ray, which is not installed", RAY_MISSING)
    return _ray_backend().RayBackend(sink=sink, address=args.ray_address, early_stopping=early_stopping)


def _why_not_ray(args) -> tuple[str, str] | None:
    """Backend auto: None when Ray runs the trials, else (why not, how to get Ray)."""
    if args.ray_address:
        return None  # a named cluster: Ray (refused as --backend ray is when Ray is not installed)
    if importlib.util.find_spec("ray") is None:
        return "Ray is not installed", f"install the sweep extra: {SWEEP_EXTRA}"
    ray_backend = _ray_backend()
    exposed = ray_backend.local_ray_exposure()
    return None if exposed is None else (exposed, ray_backend.SECURE_RAY)


def _ray_backend():
    # imported by name: Ray (and torch) load only here, when the sweep may run on Ray
    return importlib.import_module("ladderlab.sweep.ray_backend")


def _drive(store, trials, backend, sink: EventSink) -> dict:
    store.sink.emit(
        "sweep_started",
        sweep_id=store.sweep_id,
        sweep_dir=str(store.dir),
        trials=len(store.manifest["trials"]),
        pending=len(trials),
    )
    if trials:  # a resume of a finished sweep only aggregates (a Ray backend would start a cluster for nothing)
        backend.run(trials, store, store.runs_dir)
    results = _results(store)  # also when stopped: what finished is aggregated
    if stop_requested():
        raise StopRequested(stop_requested() or "SIGINT")
    store.sink.emit("sweep_finished", sweep_id=store.sweep_id, sweep_dir=str(store.dir), points=results["points"])
    return results


def _results(store) -> dict:
    from .sweep.aggregate import aggregate

    results = aggregate(store)
    store.write_results(results)
    return results


def _print(results: dict, as_json: bool, as_text: bool = True) -> None:
    if as_json:
        print(json.dumps(results, indent=2))
    elif as_text:
        print(format_points(results))


def format_points(results: dict) -> str:
    """One line per grid point: method, point, seeds done, score mean ± std, peak training memory."""
    lines = [f"sweep {results['sweep_dir']}"]
    for p in results["points"]:
        point = " ".join(f"{k}={json.dumps(v)}" for k, v in p["point"].items()) or "-"
        score = f"{p['mean']['score']:.2f} ± {p['std']['score']:.2f}" if "score" in p["mean"] else "n/a"
        peak = f"{p['peak_bytes'] / 2**20:.1f} MiB" if p["peak_bytes"] is not None else "n/a"
        lines.append(f"  {p['method']:8} {point:30} n={p['n']}/{p['trials']}  score {score}  peak {peak}")
    for f in results.get("pareto", ()):
        lines.append(f"  pareto ({f['task']}): {f['method']} {json.dumps(f['point'])} score {f['score']:.2f}")
    return "\n".join(lines)
