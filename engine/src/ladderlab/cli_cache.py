"""``ladderlab cache list [--json]``: the models in the user's Hugging Face cache (hub.py), each with the value to
write as the backbone, its size, architecture and revision, and whether Ladder Lab trains it. The extension's backbone
picker reads the JSON; nothing is loaded but each snapshot's config.json.
"""

from __future__ import annotations

import argparse
import json

COMMAND = "cache"


def add_parser(sub) -> None:
    text = "the models in your Hugging Face cache (HF_HUB_CACHE / HF_HOME), usable as --backbone ORG/NAME"
    p = sub.add_parser(COMMAND, help=text, description=text)
    actions = p.add_subparsers(dest="cache_command", required=True)
    q = actions.add_parser("list", help="list the cached models: size, architecture, revision")
    q.add_argument("--json", action="store_true", help="one JSON object {cache, models: [...], warnings}")


def main(args: argparse.Namespace) -> int:
    from .hub import cached_models, format_models

    listing = cached_models()
    print(json.dumps(listing, indent=2) if args.json else format_models(listing))
    return 0
