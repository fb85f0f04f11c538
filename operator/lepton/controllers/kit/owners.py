"""Whether an existing child of the name a controller wants belongs to someone else: then it is never
taken over, and the owner gets a message that names the holder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def foreign_holder(existing: Mapping[str, Any] | None, uid: str | None) -> str | None:
    """Who holds ``existing`` when it is not the object with ``uid`` ("TrainingJob x", "no
    controller"); None when it does not exist or is already ours (the index may lag)."""
    if existing is None:
        return None
    owners = (existing.get("metadata") or {}).get("ownerReferences") or []
    if any(o.get("uid") == uid for o in owners):
        return None
    return next((f"{o['kind']} {o['name']}" for o in owners if o.get("controller")), "no controller")
