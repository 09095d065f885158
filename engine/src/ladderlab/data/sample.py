"""Data samples packaged with the engine: ``"data": "sample"`` (``--data sample``) names the one for the task.

A sample is a folder ``ladderlab/samples/<task>/`` in the task's own format, read by the task's own reader, so an
experiment that names it runs on any machine the engine is installed on, from any working folder. Which tasks have
one is read from that folder, not listed here; ``samples/README.md`` gives each sample's source and licence.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInput, for_client

SAMPLE = "sample"  # the word an experiment writes as its data to mean "the packaged sample"
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


def sample_tasks() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in SAMPLES_DIR.iterdir() if p.is_dir()))


def missing_sample_message(task: str) -> str:
    """The error for ``"data": "sample"`` with a task that has none; the extension shows the same words beside the
    Data field (protocol/experiment.ts, from the generated SAMPLE_TASKS; fixtures/sample-rules.json holds the cases)."""
    tasks = ", ".join(sample_tasks())
    return f"data \"{SAMPLE}\": task '{task}' has no sample packaged with the engine (samples exist for: {tasks})"


def resolve(task: str, data: str | None) -> tuple[str | None, list[str]]:
    """``data`` unchanged, unless it is the word ``sample``: then the task's packaged folder and a note saying so.

    The word is matched exactly, so a folder that happens to be called ``sample`` is still reachable as ``./sample``.
    """
    if data != SAMPLE:
        return data, []
    tasks = sample_tasks()
    if task not in tasks:
        raise BadInput(
            missing_sample_message(task),
            for_client(
                cli=f"pass --data with the {task} data, or use --task {tasks[0]} --data sample",
                vscode=f"choose the {task} data in the Experiment view's Data field (Browse…), or set Task to "
                f"{tasks[0]} to keep the sample",
            ),
        )
    folder = SAMPLES_DIR / task
    note = f"{task}: the sample packaged with the engine, {folder} (source and licence: {SAMPLES_DIR / 'README.md'})"
    if Path(SAMPLE).exists():
        note += f"; ./{SAMPLE} in the working folder is not read (write ./{SAMPLE} to use it)"
    return str(folder), [note]
