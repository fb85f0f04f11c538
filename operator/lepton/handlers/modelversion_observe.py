"""What the ModelVersion controller keeps from watched objects (values of its kopf indices)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lepton.api.modelversion import ModelVersion
from lepton.builders.verification import VERIFY_CONTAINER
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
