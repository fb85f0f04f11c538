"""The Kubernetes termination message: a short JSON result a Job's pod leaves in its status."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

# Kubernetes keeps at most 4096 bytes of it; the operator reads nothing past that.
LIMIT = 4096
DEFAULT_PATH = Path("/dev/termination-log")
# Never dropped to make room: what the operator decides on.
_ESSENTIAL = frozenset({"verified", "fetched", "reason", "kind", "digest", "format", "sizeBytes"})


def message_path() -> Path | None:
    """$LEPTON_TERMINATION_MESSAGE_PATH, else /dev/termination-log when the kubelet mounted one."""
    configured = os.environ.get("LEPTON_TERMINATION_MESSAGE_PATH")
    if configured:
        return Path(configured)
    return DEFAULT_PATH if DEFAULT_PATH.exists() else None


def _encode(payload: dict[str, Any]) -> str:
    # ASCII only (non-ASCII is escaped), so the length in characters is the length in bytes.
    return json.dumps(payload, separators=(",", ":"), default=str)


def _cut_reason(payload: dict[str, Any], reason: str, limit: int) -> dict[str, Any] | None:
    """``payload`` with the longest prefix of ``reason`` (marked by "...") that fits, or None."""
    low, high = 0, len(reason)
    best = None
    while low <= high:
        middle = (low + high) // 2
        candidate = {**payload, "reason": reason[:middle] + "..."}
        if len(_encode(candidate)) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def fit(payload: dict[str, Any], limit: int = LIMIT) -> str:
    """``payload`` as JSON of at most ``limit`` bytes, valid whatever it held: a long ``reason`` is
    cut first, then fields the operator does not decide on (inputs, outputs, ...) are dropped,
    largest first; a payload whose essential fields alone are too long is replaced by one that says
    so.
    """
    fields = dict(payload)
    while True:
        text = _encode(fields)
        if len(text) <= limit:
            return text
        reason = fields.get("reason")
        if isinstance(reason, str) and (cut := _cut_reason(fields, reason, limit)) is not None:
            return _encode(cut)
        optional = [key for key in fields if key not in _ESSENTIAL]
        if not optional:
            break
        # The largest first: it makes the most room and leaves the most fields.
        del fields[max(optional, key=lambda key: len(_encode({key: fields[key]})))]
    outcome = {k: v for k, v in payload.items() if k in ("verified", "fetched") and isinstance(v, bool)}
    return _encode({**outcome, "reason": f"the termination message was over {limit} bytes; see the log"})


def write_termination_message(payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON of at most 4 KiB (see :func:`fit`)."""
    path = message_path()
    if path is None:
        return
    with contextlib.suppress(OSError):  # a courtesy: stderr already carries the reason
        path.write_text(fit(payload))
