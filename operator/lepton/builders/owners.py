"""The owner reference every child carries: its owner controls it, and deleting the owner deletes it."""

from __future__ import annotations

from typing import Any

from lepton.api.common import API_VERSION, ObjectBase


def owner_reference(owner: ObjectBase) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": owner.KIND,
        "name": owner.name,
        "uid": owner.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
