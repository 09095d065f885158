"""``ladderlab`` — the engine's command line. Everything the extension does goes through here.

    ladderlab run --methods lst --task sst2 --data path/to/SST-2      one method, one run folder
    ladderlab compare --methods lst,lora,full --json                   several methods, one data pipeline
    ladderlab resume .ladderlab/runs/20261127-001500-lst-1a2b          continue a stopped run in its folder
    ladderlab sweep --config figure5.ladder.json --backend local       a grid of runs over fields and seeds

Every Experiment field is a flag (``keep_layers`` -> ``--keep-layers``) and a key of ``--config FILE.ladder.json``;
flags win. stdout carries JSON-lines events (default when piped) or readable progress (default on a terminal).
Exit status: 0 ok, 2 bad input, 3 out of memory, 1 crash, 130 stopped; the message is on stderr and in an error
event. SIGINT or SIGTERM stops gracefully: the current step finishes, a checkpoint is written, a ``run_stopped``
event names it, exit 130; a second signal stops at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

from . import cli_cache, cli_generate, cli_measure, cli_sweep
from .config import FIELDS, KIND, Experiment, build_experiment, load_experiment_file
from .errors import BadInput, error_fields
from .events import EventSink
from .fields import GROUPS, default_of, flag, info_of, interval
from .filepaths import resolve_file_paths
from .hub import ALLOW_DOWNLOAD_ENV
from .report import format_table
from .stop import StopRequested, graceful_signals

EXIT = {"bad_input": 2, "oom": 3, "crash": 1, "stopped": 130}


def _flag_help(name: str) -> str:
    """``--r``'s help: its one line, then its choices or range, unit, the methods it applies to and its default."""
    field = FIELDS[name]
    info = info_of(field)
    parts = [info.help]
    if info.choices:
        parts.append(f"choices: {', '.join(info.choices)}")
    elif (text := interval(info)) is not None:
        parts.append(text + (f" {info.unit}" if info.unit else ""))
    elif info.unit:
        parts.append(f"in {info.unit}")
    if info.methods:
        parts.append(f"{', '.join(info.methods)} only")
    default = default_of(field)
    if default is None:
        parts.append(f"default: {info.null_means}")
    else:
        parts.append(f"default: {','.join(map(str, default)) if isinstance(default, list) else default}")
    if KIND[name] in ("stringList", "intList"):
        parts.append("comma-separated")
    return "; ".join(parts).replace("%", "%%")  # argparse formats help with %


def _add_experiment_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="experiment file (*.ladder.json); flags override its values")
    parser.add_argument(
        "--allow-download",
        action="store_true",
        help="a backbone named by hub id (org/name) that is not in your Hugging Face cache is downloaded into it "
        "(default: refused with the command that downloads it; your own HF_HUB_OFFLINE=1 still refuses)",
    )
    for group_id, heading in GROUPS.items():
        group = parser.add_argument_group(heading)
        for name, field in FIELDS.items():
            if info_of(field).group != group_id:
                continue
            # Lists and lrs arrive as text and are split by build_experiment (the same path as a file's "1,3,5").
            flag_type = {"int": int, "number": float}.get(KIND[name], str)
            group.add_argument(
                flag(name), dest=name, type=flag_type, default=None, help=_flag_help(name), metavar=_metavar(name)
            )


def _metavar(name: str) -> str:
    info = info_of(FIELDS[name])
    if KIND[name] == "enum":
        return "{" + ",".join(info.choices or ()) + "}"
    return {"int": "N", "number": "X", "stringList": "A,B", "intList": "N,M", "rates": "METHOD=LR,..."}.get(
        KIND[name], "PATH" if info.path else "TEXT"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ladderlab", description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "train and evaluate one method"),
        ("compare", "train and evaluate several methods on one config, one after another"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        _add_experiment_flags(p)
        p.add_argument(
            "--format",
            choices=("events", "text"),
            default=None,
            help="stdout: JSON-lines events (default when piped) or readable progress (on a terminal)",
        )
        if name == "run":
            p.add_argument("--method", dest="method", help="the method to run (same as --methods with one name)")
        else:
            p.add_argument("--json", action="store_true", help="print only one JSON object {rows: [...]} at the end")
    p = sub.add_parser(
        "export",
        help="export a finished run to ONNX (model.onnx, manifest.json, tokenizer files)",
        description="export a finished run to ONNX: backbone and trained part as one graph",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run folder (holds config.json and trainable.safetensors)")
    p.add_argument("--out", help="output folder (default: RUN_DIR/export)")
    text = "continue a stopped (or killed) run in its own folder, from its latest checkpoint"
    p = sub.add_parser("resume", help=text, description=text)
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run folder (it holds config.json and checkpoint.pt)")
    p.add_argument(
        "--format",
        choices=("events", "text"),
        default=None,
        help="stdout: JSON-lines events (default when piped) or readable progress (on a terminal)",
    )
    text = "print the JSON schema of experiment files, or the extension's TypeScript field module"
    p = sub.add_parser("schema", help=text, description=text + ", both made from the Experiment declaration")
    p.add_argument("--typescript", action="store_true", help="the TypeScript module (protocol/experimentFields.ts)")
    cli_measure.add_parsers(sub, _add_experiment_flags)
    cli_sweep.add_parser(sub)
    cli_cache.add_parser(sub)
    cli_generate.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Library deprecation notices (transformers/PEFT internals) are not actionable for users of the CLI.
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.command == "export":
        return _export(args)
    if args.command == "schema":
        from .schema import json_schema, typescript_module

        sys.stdout.write(typescript_module() if args.typescript else json.dumps(json_schema(), indent=2) + "\n")
        return 0
    if args.command == cli_cache.COMMAND:
        return cli_cache.main(args)
    if args.command == cli_generate.COMMAND:
        return cli_generate.main(args, _report)
    if getattr(args, "allow_download", False):  # read by hub.py; the environment carries it to sweep trials too
        os.environ[ALLOW_DOWNLOAD_ENV] = "1"
    if args.command in cli_measure.COMMANDS:
        return cli_measure.main(args, _experiment)
    if args.command == cli_sweep.COMMAND:
        return cli_sweep.main(args, _report, EXIT)
    # --json prints one object at the end; otherwise events when piped (the extension), readable text on a terminal.
    mode = "quiet" if getattr(args, "json", False) else args.format or ("text" if sys.stdout.isatty() else "events")
    sink = EventSink(mode)
    try:
        with graceful_signals():
            outcome = _execute(args, sink)
    except StopRequested:
        print(
            "ladderlab: stopped; the run's checkpoint is in its folder (ladderlab resume RUN_DIR continues it), "
            "finished runs are in theirs",
            file=sys.stderr,
        )
        return EXIT["stopped"]
    except KeyboardInterrupt:
        print("ladderlab: interrupted; finished runs are in their folders", file=sys.stderr)
        return EXIT["stopped"]
    except Exception as e:  # bad input, out of memory or a bug: errors.py decides which, and what to say
        return _report(sink, error_fields(e))
    if getattr(args, "json", False):
        print(json.dumps({"rows": outcome.rows, "failed": outcome.failed, "skipped": outcome.skipped}, indent=2))
    elif mode == "text" and (outcome.rows or outcome.failed):
        print()
        print(format_table(outcome.rows, outcome.failed, outcome.skipped))
    for failure in outcome.failed:
        print(
            f"ladderlab: {failure['method']} failed ({failure['kind']}): {failure['message']}"
            + (f"\n  hint: {failure['hint']}" if failure.get("hint") else ""),
            file=sys.stderr,
        )
    return EXIT[outcome.failed[0]["kind"]] if outcome.failed else 0


def _execute(args, sink: EventSink):
    if args.command == "resume":
        from .comparison import resume_run  # heavy imports (torch) only once the arguments parsed

        return resume_run(args.run_dir, sink)
    exp = _experiment(args)
    from .comparison import run_comparison  # heavy imports (torch) only once the input is valid

    return run_comparison(exp, sink, args.config)


def _experiment(args) -> Experiment:
    flags = {name: getattr(args, name) for name in FIELDS}
    method = getattr(args, "method", None)
    if method:
        flags["methods"] = method
    # Relative paths in the file are read from the file's folder (filepaths.py); flags from the working folder.
    file_values = resolve_file_paths(load_experiment_file(args.config), Path(args.config).parent) if args.config else {}
    exp = build_experiment(file_values, flags)
    if args.command == "run" and len(exp.methods) != 1:
        raise BadInput(
            f"run trains one method, got {len(exp.methods)}: {','.join(exp.methods)}",
            "use `ladderlab compare` for several, or --method NAME",
        )
    return exp


def _export(args) -> int:
    """Prints the export folder on stdout; errors as for runs (exit 2 bad input, 1 crash) on stderr."""
    try:
        from .export import export_run

        out = export_run(args.run_dir, args.out)
    except Exception as e:
        return _report(None, error_fields(e))
    print(out)
    return 0


def _report(sink: EventSink | None, fields: dict) -> int:
    """A failure outside any run (a run reports its own): one error event on stdout (the traceback of a crash in
    its detail), one plain message on stderr; the exit status follows from the kind."""
    if sink is not None and sink.stdout_mode == "events":
        sink.emit("error", **fields)
    label = "crash" if fields["kind"] == "crash" else "error"
    hint = f"\n  hint: {fields['hint']}" if fields.get("hint") else ""
    print(f"ladderlab: {label}: {fields['message']}{hint}", file=sys.stderr)
    return EXIT[fields["kind"]]


def _exit_now(code: int) -> None:
    """Exit without the interpreter's module teardown, which takes seconds once torch and transformers are loaded
    and would delay a stop. Everything is written by now (run files are closed and fsynced); flush the streams."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe has nothing left to flush
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main())
