"""What the serving controllers keep from watched objects: ModelVersions, InferenceServices, and the
values of their kopf indices (verification Jobs and pods, model-server Deployments and Services)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lepton.api.inferenceservice import InferenceService
from lepton.api.modelversion import VERSION_LABEL, ModelVersion
from lepton.builders.activator import ACTIVATOR_COMPONENT
from lepton.builders.inference import APPLIED_HASH, ISVC_LABEL
from lepton.builders.verification import COMPONENT_LABEL, MODELVERSION_UID_LABEL, VERIFY_CONTAINER
from lepton.policies.inference import DeploymentState
from lepton.policies.models import VersionInfo
from lepton.policies.verification import VerifyJob, VerifyPod


def parse_model_version(body: Mapping[str, Any]) -> ModelVersion | None:
    try:
        return ModelVersion.model_validate(dict(body))
    except ValueError:
        return None


def version_info(mv: ModelVersion) -> VersionInfo:
    status = mv.status
    ready = next((c for c in (status.conditions or []) if c.type == "Ready"), None) if status else None
    return VersionInfo(
        name=mv.name,
        model=mv.spec.model,
        version=mv.spec.version,
        phase=status.phase if status else None,
        created=mv.metadata.creation_timestamp or "",
        reason=ready.reason if ready else "",
        message=ready.message if ready else "",
        deleting=mv.metadata.deletion_timestamp is not None,
        uid=mv.metadata.uid or "",
    )


def find_model_version(
    candidates: Iterable[ModelVersion], *, name: str | None = None, uid: str | None = None
) -> ModelVersion | None:
    for mv in candidates:
        if (name is None or mv.name == name) and (uid is None or mv.metadata.uid == uid):
            return mv
    return None


def _true(conditions: Iterable[Mapping[str, Any]], *types: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") in types and c.get("status") == "True"), None)


def verify_job(body: Mapping[str, Any]) -> VerifyJob:
    status = body.get("status") or {}
    conditions = status.get("conditions") or []
    # FailureTarget/SuccessCriteriaMet come first since Kubernetes 1.31; Failed/Complete follow once
    # the pods are finished, which may take the whole grace period.
    failed = _true(conditions, "Failed", "FailureTarget")
    complete = _true(conditions, "Complete", "SuccessCriteriaMet")
    return VerifyJob(
        name=str((body.get("metadata") or {}).get("name", "")),
        complete=complete is not None,
        failed=failed is not None,
        reason=str((failed or {}).get("reason") or ""),
        message=str((failed or {}).get("message") or ""),
    )


def _terminated(statuses: Iterable[Mapping[str, Any]], name: str | None = None) -> Mapping[str, Any]:
    for status in statuses:
        if name is None or status.get("name") == name:
            terminated = (status.get("state") or {}).get("terminated")
            if terminated:
                return dict(terminated)
    return {}


def verify_pod(body: Mapping[str, Any]) -> VerifyPod:
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    main = _terminated(status.get("containerStatuses") or [], VERIFY_CONTAINER)
    init_failure = next(
        (
            t
            for t in (_terminated([s]) for s in status.get("initContainerStatuses") or [])
            if t and t.get("exitCode") not in (None, 0)
        ),
        None,
    )
    exit_code = main.get("exitCode")
    return VerifyPod(
        name=str(meta.get("name", "")),
        phase=str(status.get("phase") or "Pending"),
        exit_code=int(exit_code) if exit_code is not None else None,
        message=main.get("message"),
        init_failed=init_failure is not None,
        init_message=(init_failure or {}).get("message"),
        scheduled=_true(status.get("conditions") or [], "PodScheduled") is not None,
        unschedulable=_unschedulable(status.get("conditions") or []),
    )


def _unschedulable(conditions: Iterable[Mapping[str, Any]]) -> str:
    for condition in conditions:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return str(condition.get("message") or condition.get("reason") or "")
    return ""


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
    activator = labels.get(COMPONENT_LABEL) == ACTIVATOR_COMPONENT
    if not version and not activator:
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
        activator=activator,
    )


@dataclass(frozen=True)
class ServiceState:
    name: str
    selects: str | None
    """The version the Service's selector picks."""
    applied_hash: str
    to_activator: bool = False
    """The Service selects the activator (no replica ready)."""


def service_state(body: Mapping[str, Any]) -> ServiceState:
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    selector = spec.get("selector") or {}
    return ServiceState(
        name=str(meta.get("name", "")),
        selects=selector.get(VERSION_LABEL),
        applied_hash=str((meta.get("annotations") or {}).get(APPLIED_HASH, "")),
        to_activator=selector.get(COMPONENT_LABEL) == ACTIVATOR_COMPONENT,
    )


def applied_hash_of(body: Mapping[str, Any]) -> str:
    return str(((body.get("metadata") or {}).get("annotations") or {}).get(APPLIED_HASH, ""))


def owner_key(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, InferenceService name) of a child labelled with its service."""
    meta = body.get("metadata") or {}
    name = (meta.get("labels") or {}).get(ISVC_LABEL)
    return (str(meta.get("namespace")), str(name)) if name else None
