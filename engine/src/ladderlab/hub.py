"""Hugging Face hub ids (``org/name`` or ``org/name@revision``) resolved to a local folder through the user's
Hugging Face cache, with huggingface_hub's own functions, so the cache is the one the user's other tools fill:
``HF_HOME`` / ``HF_HUB_CACHE`` choose it, refs and revisions resolve as ``snapshot_download`` resolves them, and
``scan_cache_dir`` lists it (``ladderlab cache list``).

Nothing is downloaded unless the user allows it (``--allow-download``, or ``LADDERLAB_ALLOW_DOWNLOAD=1``) and has not
set ``HF_HUB_OFFLINE`` themselves: the package turns offline mode on by default (``ladderlab/__init__.py``), and
remembers whether the user had set it. Everything downstream (families, estimate, export, tokenizer) sees the
snapshot folder, as if the user had named it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import USER_HF_HUB_OFFLINE
from .errors import BadInput, for_client

ALLOW_DOWNLOAD_ENV = "LADDERLAB_ALLOW_DOWNLOAD"
# org/name, then an optional @revision (a branch, tag or commit); validate_repo_id checks the rest of the id's rules.
# protocol/hubCache.ts reads names by the same rules (engine/tests/fixtures/hub-names.json: the cases both test).
_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w./-]+))?$", re.ASCII)


def parse_hub_id(value: str) -> tuple[str, str | None] | None:
    """(repo id, revision or None) when ``value`` is written as a hub id; None for anything else (a path, a word).
    A value that is both (``models/bert``) is a folder when that folder exists: the caller checks that first."""
    match = _HUB_ID.match(value)
    if match is None or value.startswith(".") or "//" in value:
        return None
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(match["repo"])
    except HFValidationError:
        return None
    return match["repo"], match["revision"]


def cache_folder() -> Path:
    """The hub cache huggingface_hub uses: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def downloads_allowed() -> bool:
    user_offline = (USER_HF_HUB_OFFLINE or "").strip().upper() in ("1", "ON", "YES", "TRUE")
    return os.environ.get(ALLOW_DOWNLOAD_ENV) == "1" and not user_offline


def resolve_model(repo_id: str, revision: str | None) -> Path:
    """The cached snapshot folder of ``repo_id`` at ``revision`` (default: the ``main`` ref); downloaded first only
    when downloads are allowed. Every failure is a BadInput naming the id, the cache folder and the fix."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    shown = f"{repo_id}@{revision}" if revision else repo_id
    try:
        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except LocalEntryNotFoundError as e:  # not cached, or cached incompletely (IncompleteSnapshotError, a subclass)
        if not downloads_allowed():
            raise BadInput(*_not_cached(shown, revision, e)) from None
    try:
        with _online():
            return Path(snapshot_download(repo_id, revision=revision, tqdm_class=_progress_lines(shown)))
    except GatedRepoError:
        raise BadInput(
            f"{repo_id} is a gated model: the hub refused it without access ({cache_folder()} has no copy)",
            f"accept its terms on https://huggingface.co/{repo_id}, then `hf auth login` (or set HF_TOKEN) and run "
            "again",
        ) from None
    except RevisionNotFoundError:
        raise BadInput(
            f"{repo_id} has no revision {revision!r} on the hub", f"check the branch, tag or commit after @ in {shown}"
        ) from None
    except RepositoryNotFoundError:
        raise BadInput(
            f"no model {repo_id} on the Hugging Face hub (or it is private)",
            "check the id's spelling (org/name); for a private model `hf auth login` first",
        ) from None
    except (LocalEntryNotFoundError, OSError) as e:  # the hub could not be reached
        cause = e.__cause__ or e  # huggingface_hub raises "cannot find it locally" from the network's error
        raise BadInput(
            f"cannot download {shown}: the hub could not be reached ({type(cause).__name__}: {cause})",
            f"check the network, or download it elsewhere into {cache_folder()} (`hf download {repo_id}`)",
        ) from None


def _not_cached(shown: str, revision: str | None, error: Exception) -> tuple[str, str]:
    """(message, hint) for a model that is not (completely) in the cache and may not be downloaded."""
    from huggingface_hub.errors import IncompleteSnapshotError

    what = "incompletely" if isinstance(error, IncompleteSnapshotError) else "not"
    at = f" at revision {revision}" if revision else ""
    repo_id = shown.split("@", 1)[0]
    download = f"hf download {repo_id}" + (f" --revision {revision}" if revision else "")
    vetoed = os.environ.get(ALLOW_DOWNLOAD_ENV) == "1"  # allowed, yet not: the user's own HF_HUB_OFFLINE
    why = "HF_HUB_OFFLINE is set, so downloads are off" if vetoed else "downloads are off"
    return (
        f"{shown} is {what} in the Hugging Face cache{at} (looked in {cache_folder()})"
        + (" nor a folder by that name here" if what == "not" else "")
        + f", and {why}",
        for_client(
            cli=f"download it once with `{download}` (huggingface_hub's CLI; older versions: huggingface-cli "
            "download), "
            + ("or unset HF_HUB_OFFLINE so --allow-download may download it" if vetoed else "or add --allow-download")
            + "; or pass a local checkpoint folder",
            vscode=f"download it once in a terminal with `{download}`, or pick a model already in the cache, a "
            "checkpoint folder or a preset in the Experiment view's Backbone field",
        ),
    )


def _progress_lines(shown: str):
    """A tqdm class for snapshot_download's bars (files, bytes): whole lines on stderr every few seconds instead of a
    redrawn bar, readable in a log and in the extension's output channel alike."""
    import sys

    from tqdm.auto import tqdm  # the class snapshot_download's tqdm_class is typed as

    class ProgressLines(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.update(file=sys.stderr, mininterval=5.0, disable=False, leave=False)
            super().__init__(*args, **kwargs)

        def display(self, msg=None, pos=None):
            if msg == "" or not self.total:  # a bar being cleared, or one with nothing to count yet
                return True
            line = self.format_meter(
                **{**self.format_dict, "bar_format": "{desc}: {percentage:3.0f}% ({n_fmt}/{total_fmt})"}
            )
            print(f"ladderlab: downloading {shown}: {line}", file=self.fp, flush=True)
            return True

    return ProgressLines


@contextmanager
def _online() -> Iterator[None]:
    """huggingface_hub's offline switch off for one download. The package set HF_HUB_OFFLINE itself (the user did
    not, or downloads_allowed would be false), and the library reads its switch on each request."""
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


def cached_models() -> dict:
    """Every model snapshot in the hub cache, for ``ladderlab cache list`` and the extension's backbone picker:
    {"cache": folder, "models": [{id, backbone, revision, refs, size_bytes, model_type, architectures, supported,
    path}], "warnings": [...]}. ``backbone`` is what to write in the Backbone field to get that snapshot."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    folder = cache_folder()
    try:
        info = scan_cache_dir(folder)
    except CacheNotFound:
        return {"cache": str(folder), "models": [], "warnings": []}
    models = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id.lower()):
        if repo.repo_type != "model":
            continue
        for rev in sorted(repo.revisions, key=lambda r: ("main" not in r.refs, -r.last_modified)):
            refs = sorted(rev.refs)
            ref = "" if "main" in refs else "@" + (refs[0] if refs else rev.commit_hash)
            models.append(
                {
                    "id": repo.repo_id,
                    "backbone": repo.repo_id + ref,
                    "revision": rev.commit_hash,
                    "refs": refs,
                    "size_bytes": rev.size_on_disk,
                    **_architecture(rev.snapshot_path / "config.json"),
                    "path": str(rev.snapshot_path),
                }
            )
    return {"cache": str(folder), "models": models, "warnings": [str(w) for w in info.warnings]}


def _architecture(config_path: Path) -> dict:
    """model_type and architectures from a snapshot's config.json, and whether a Ladder Lab family trains it."""
    from .families import family_for

    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raw = {}
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    architectures = raw.get("architectures") if isinstance(raw, dict) else None
    try:
        supported = isinstance(model_type, str) and family_for(model_type) is not None
    except BadInput:
        supported = False
    return {
        "model_type": model_type if isinstance(model_type, str) else None,
        "architectures": [a for a in architectures or () if isinstance(a, str)],
        "supported": supported,
    }


def format_models(listing: dict) -> str:
    """The listing as a table for a terminal."""
    rows = [("BACKBONE", "TYPE", "SIZE", "REVISION", "TRAINS")]
    for m in listing["models"]:
        size = f"{m['size_bytes'] / 1024**2:,.1f} MiB"
        rows.append(
            (m["backbone"], m["model_type"] or "?", size, m["revision"][:12], "yes" if m["supported"] else "no")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"models in {listing['cache']}:" if listing["models"] else f"no models in {listing['cache']}"]
    if listing["models"]:
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines + [f"warning: {w}" for w in listing["warnings"]])
