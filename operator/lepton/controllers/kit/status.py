"""The status write's one rule: the keys of the desired status are the ones the controller manages;
a None value deletes its key, and keys it does not manage (written by anyone else) are left alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def status_patch(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch turning the managed keys of ``current`` into ``desired``; None if equal."""
    current = current or {}
    patch = {k: v for k, v in desired.items() if current.get(k) != v and not (v is None and k not in current)}
    return patch or None
