"""The status write's one rule: the keys of the desired status are the ones the controller manages;
a None value deletes its key, and keys it does not manage (written by anyone else) are left alone.
Below a managed key the controller owns the whole value: a key it no longer writes there is deleted
(a merge patch would otherwise keep it, as status.autoscaler.memory kept a count of failures)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def status_patch(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch turning the managed keys of ``current`` into ``desired``; None if equal."""
    current = current or {}
    patch = {
        k: _replacing(current.get(k), v)
        for k, v in desired.items()
        if current.get(k) != v and not (v is None and k not in current)
    }
    return patch or None


def _replacing(old: Any, new: Any) -> Any:
    """``new`` as a merge patch over ``old``: nested keys only ``old`` has are set to None."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return new
    patch = {k: _replacing(old.get(k), v) for k, v in new.items()}
    patch.update({k: None for k in old if k not in new})
    return patch
