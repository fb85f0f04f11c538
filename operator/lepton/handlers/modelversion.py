"""kopf handlers of ModelVersion: indices over ModelVersions and their verification Jobs and pods,
and the handlers (create, update, resume, Job and pod events) that all end in
``reconcile_model_version``. Deployment events (servedBy) come from handlers.inferenceservice."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.modelversion import MODEL_LABEL
from lepton.api.modelversion import PLURAL as MODELVERSION_PLURAL
from lepton.builders.serving_config import ServingConfigError, serving_config_from_env
from lepton.builders.verification import COMPONENT_LABEL, MODELVERSION_UID_LABEL, VERIFY_COMPONENT
from lepton.handlers.modelversion_observe import (
    find_model_version,
    parse_model_version,
    verify_job,
    verify_pod,
)
from lepton.handlers.modelversion_reconcile import (
    ModelVersionIndices,
    reconcile_model_version,
    runtime_key,
)
from lepton.handlers.serving_runtime import install, runtime_of

if TYPE_CHECKING:
    from lepton.operator import Memo

VERIFY_LABELS: Mapping[str, Any] = {
    MODELVERSION_UID_LABEL: kopf.PRESENT,
    COMPONENT_LABEL: VERIFY_COMPONENT,
}


@kopf.on.startup()
async def serving_settings(memo: Memo, **_: Any) -> None:
    try:
        install(memo, serving_config_from_env(os.environ))
    except ServingConfigError as exc:
        raise kopf.PermanentError(str(exc)) from exc


@kopf.index(GROUP, VERSION, MODELVERSION_PLURAL)
async def lepton_modelversions(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    """(namespace, model) -> ModelVersion: resolution and lookups by name or uid go through it."""
    mv = parse_model_version(body)
    return {(mv.namespace, mv.spec.model): mv} if mv else {}


@kopf.index("batch", "v1", "jobs", labels=VERIFY_LABELS)
async def lepton_verify_jobs(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    meta = body["metadata"]
    return {(meta["namespace"], meta["labels"][MODELVERSION_UID_LABEL]): verify_job(body)}


@kopf.index("pods", labels=VERIFY_LABELS)
async def lepton_verify_pods(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    meta = body["metadata"]
    return {(meta["namespace"], meta["labels"][MODELVERSION_UID_LABEL]): verify_pod(body)}


def modelversion_indices(kwargs: dict[str, Any]) -> ModelVersionIndices:
    return ModelVersionIndices(
        jobs=kwargs["lepton_verify_jobs"],
        pods=kwargs["lepton_verify_pods"],
        served_by=kwargs["lepton_served_by"],
    )


@kopf.on.resume(GROUP, VERSION, MODELVERSION_PLURAL, id="modelversion-resume")
@kopf.on.create(GROUP, VERSION, MODELVERSION_PLURAL, id="modelversion-create")
@kopf.on.update(GROUP, VERSION, MODELVERSION_PLURAL, id="modelversion-update")
async def modelversion_changed(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    await reconcile_model_version(body, memo, modelversion_indices(kwargs))


async def reconcile_by_owner(
    namespace: str,
    labels: dict[str, str],
    memo: Memo,
    kwargs: dict[str, Any],
    *,
    name: str | None = None,
    uid: str | None = None,
) -> None:
    """Reconcile the ModelVersion a child belongs to, found by name or uid among its model's versions."""
    model = labels.get(MODEL_LABEL)
    if not model:
        return
    candidates = kwargs["lepton_modelversions"].get((namespace, model), [])
    mv = find_model_version(candidates, name=name, uid=uid)
    if mv is not None:
        body = mv.model_dump(mode="json", by_alias=True, exclude_none=True)
        await reconcile_model_version(body, memo, modelversion_indices(kwargs))


def _owner_name(body: kopf.Body, kind: str) -> str | None:
    owners = body["metadata"].get("ownerReferences") or []
    return next((str(o["name"]) for o in owners if o.get("kind") == kind), None)


@kopf.on.event("batch", "v1", "jobs", labels=VERIFY_LABELS)
async def verify_job_changed(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    # By owner name, not uid: when a Job of a deleted namesake goes, the new version must be told.
    owner = _owner_name(body, "ModelVersion")
    if owner:
        meta = body["metadata"]
        await reconcile_by_owner(meta["namespace"], dict(meta.get("labels") or {}), memo, kwargs, name=owner)


@kopf.on.event("pods", labels=VERIFY_LABELS)
async def verify_pod_changed(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    meta = body["metadata"]
    labels = dict(meta.get("labels") or {})
    await reconcile_by_owner(meta["namespace"], labels, memo, kwargs, uid=labels.get(MODELVERSION_UID_LABEL))


@kopf.on.event(GROUP, VERSION, MODELVERSION_PLURAL)
async def modelversion_gone(body: kopf.Body, memo: Memo, type: str | None, **_: Any) -> None:
    if type == "DELETED":
        runtime_of(memo).forget(runtime_key(body["metadata"]))
