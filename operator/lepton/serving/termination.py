"""The Kubernetes termination message: a short JSON result a Job's pod leaves in its status."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

LIMIT = 4096
DEFAULT_PATH = Path("/dev/termination-log")


def message_path() -> Path | None:
    """$LEPTON_TERMINATION_MESSAGE_PATH, else /dev/termination-log when the kubelet mounted one."""
    configured = os.environ.get("LEPTON_TERMINATION_MESSAGE_PATH")
    if configured:
        return Path(configured)
    return DEFAULT_PATH if DEFAULT_PATH.exists() else None


def write_termination_message(payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON of at most 4 KiB (a long ``reason`` is cut to fit)."""
    path = message_path()
    if path is None:
        return
    text = json.dumps(payload, separators=(",", ":"))
    if len(text.encode()) > LIMIT and isinstance(payload.get("reason"), str):
        reason: str = payload["reason"]
        excess = len(text.encode()) - LIMIT
        text = json.dumps({**payload, "reason": reason[: max(0, len(reason) - excess - 16)] + "..."})
    with contextlib.suppress(OSError):  # a courtesy: stderr already carries the reason
        path.write_text(text[:LIMIT])
