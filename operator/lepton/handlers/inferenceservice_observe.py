"""What the InferenceService controller keeps from watched objects (values of its kopf indices)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lepton.api.inferenceservice import InferenceService
from lepton.api.modelversion import VERSION_LABEL
from lepton.builders.inference import APPLIED_HASH, ISVC_LABEL
from lepton.builders.verification import MODELVERSION_UID_LABEL
from lepton.policies.inference import DeploymentState


def parse_inference_service(body: Mapping[str, Any]) -> InferenceService | None:
    try:
        return InferenceService.model_validate(dict(body))
    except ValueError:
        return None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def deployment_state(body: Mapping[str, Any]) -> DeploymentState | None:
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    labels = meta.get("labels") or {}
    version = labels.get(VERSION_LABEL)
    if not version:
        return None
    return DeploymentState(
        name=str(meta.get("name", "")),
        version=str(version),
        modelversion_uid=str(labels.get(MODELVERSION_UID_LABEL, "")),
        replicas=_int(spec.get("replicas", 1)),
        current=_int(status.get("replicas")),
        ready=_int(status.get("readyReplicas")),
        available=_int(status.get("availableReplicas")),
        updated=_int(status.get("updatedReplicas")),
        generation=_int(meta.get("generation")),
        observed_generation=_int(status.get("observedGeneration")),
        applied_hash=str((meta.get("annotations") or {}).get(APPLIED_HASH, "")),
        deleting=meta.get("deletionTimestamp") is not None,
    )


@dataclass(frozen=True)
class ServiceState:
    name: str
    selects: str | None
    """The version the Service's selector picks."""
    applied_hash: str


def service_state(body: Mapping[str, Any]) -> ServiceState:
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    selector = spec.get("selector") or {}
    return ServiceState(
        name=str(meta.get("name", "")),
        selects=selector.get(VERSION_LABEL),
        applied_hash=str((meta.get("annotations") or {}).get(APPLIED_HASH, "")),
    )


def owner_key(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, InferenceService name) of a child labelled with its service."""
    meta = body.get("metadata") or {}
    name = (meta.get("labels") or {}).get(ISVC_LABEL)
    return (str(meta.get("namespace")), str(name)) if name else None
