"""Server-side apply: create or update an object to exactly the fields the operator owns, in one
idempotent request (fields the operator stops setting are removed; others' fields are kept)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from lepton.kube.client import Kube
from lepton.kube.errors import kube_error
from lepton.kube.resources import object_path

APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "lepton-operator"


async def apply(kube: Kube, body: Mapping[str, Any], plural: str) -> dict[str, Any]:
    """Apply ``body`` (forcing ownership of its fields, as a controller does) and return the result."""
    meta = body["metadata"]
    path = object_path(body["apiVersion"], plural, meta["namespace"], meta["name"])
    try:
        return await kube.request(
            "PATCH",
            path,
            body=dict(body),
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type=APPLY_PATCH,
        )
    except ApiException as exc:
        raise kube_error(exc, f"applying {plural}/{meta['name']}") from exc
