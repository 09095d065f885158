"""Ladder Lab's engine: Ladder Side-Tuning and the PETL baselines, with per-phase memory accounting.

No hub download unless the user allows one (hub.py): ``HF_HUB_OFFLINE`` is set here, before any module of the
package imports huggingface_hub (through transformers or PEFT, which read it once at import), so a backbone folder
that is not a complete checkpoint gives a clear error instead of a network attempt.
"""

import os

# What the user set, before the package's default: their own HF_HUB_OFFLINE=1 also vetoes a download they allowed
# with --allow-download (hub.py).
USER_HF_HUB_OFFLINE = os.environ.get("HF_HUB_OFFLINE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
