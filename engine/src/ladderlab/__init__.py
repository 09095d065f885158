"""Ladder Lab's engine: Ladder Side-Tuning and the PETL baselines, with per-phase memory accounting.

Never a hub download: ``HF_HUB_OFFLINE`` is set here, before any module of the package imports
huggingface_hub (through transformers or PEFT, which read it once at import), so a backbone folder that is
not a complete checkpoint gives a clear error instead of a network attempt.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
