"""kopf handlers of InferenceService: indices over services, their Deployments and Services, and the
handlers (create, update, resume, child and ModelVersion events) that all end in
``reconcile_inference_service``. No polling: every change that matters arrives as a watch event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.inferenceservice import PLURAL as INFERENCESERVICE_PLURAL
from lepton.api.modelversion import MODEL_LABEL
from lepton.api.modelversion import PLURAL as MODELVERSION_PLURAL
from lepton.builders.inference import ISVC_LABEL
from lepton.builders.verification import MODELVERSION_UID_LABEL
from lepton.handlers.inferenceservice_observe import (
    deployment_state,
    owner_key,
    parse_inference_service,
    service_state,
)
from lepton.handlers.inferenceservice_reconcile import (
    InferenceServiceIndices,
    reconcile_inference_service,
    runtime_key,
)
from lepton.handlers.modelversion import reconcile_by_owner
from lepton.handlers.modelversion_observe import parse_model_version
from lepton.handlers.serving_runtime import runtime_of

if TYPE_CHECKING:
    from lepton.operator import Memo

CHILD_LABELS = {ISVC_LABEL: kopf.PRESENT}


@kopf.index(GROUP, VERSION, INFERENCESERVICE_PLURAL)
async def lepton_inferenceservices(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    """(namespace, model) -> InferenceService: a ModelVersion event finds the services of its model."""
    isvc = parse_inference_service(body)
    return {(isvc.namespace, isvc.spec.model.name): isvc} if isvc else {}


@kopf.index("apps", "v1", "deployments", labels=CHILD_LABELS)
async def lepton_isvc_deployments(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    key, state = owner_key(body), deployment_state(body)
    return {key: state} if key and state else {}


@kopf.index("apps", "v1", "deployments", labels=CHILD_LABELS)
async def lepton_served_by(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    """(namespace, ModelVersion uid) -> InferenceService name: ModelVersion status.servedBy."""
    meta = body["metadata"]
    labels = meta.get("labels") or {}
    uid = labels.get(MODELVERSION_UID_LABEL)
    return {(meta["namespace"], uid): labels[ISVC_LABEL]} if uid else {}


@kopf.index("services", labels=CHILD_LABELS)
async def lepton_isvc_services(body: kopf.Body, **_: Any) -> dict[Any, Any]:
    key = owner_key(body)
    return {key: service_state(body)} if key else {}


def inferenceservice_indices(kwargs: dict[str, Any]) -> InferenceServiceIndices:
    return InferenceServiceIndices(
        model_versions=kwargs["lepton_modelversions"],
        deployments=kwargs["lepton_isvc_deployments"],
        services=kwargs["lepton_isvc_services"],
    )


@kopf.on.resume(GROUP, VERSION, INFERENCESERVICE_PLURAL, id="inferenceservice-resume")
@kopf.on.create(GROUP, VERSION, INFERENCESERVICE_PLURAL, id="inferenceservice-create")
@kopf.on.update(GROUP, VERSION, INFERENCESERVICE_PLURAL, id="inferenceservice-update")
async def inferenceservice_changed(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    await reconcile_inference_service(body, memo, inferenceservice_indices(kwargs))


async def _reconcile_named(
    namespace: str, model: str | None, name: str, memo: Memo, kwargs: dict[str, Any]
) -> None:
    if not model:
        return
    for isvc in kwargs["lepton_inferenceservices"].get((namespace, model), []):
        if isvc.name == name:
            body = isvc.model_dump(mode="json", by_alias=True, exclude_none=True)
            await reconcile_inference_service(body, memo, inferenceservice_indices(kwargs))


@kopf.on.event("apps", "v1", "deployments", labels=CHILD_LABELS)
async def isvc_deployment_changed(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    meta = body["metadata"]
    labels = dict(meta.get("labels") or {})
    key = owner_key(body)
    if key is not None:
        await _reconcile_named(key[0], labels.get(MODEL_LABEL), key[1], memo, kwargs)
    uid = labels.get(MODELVERSION_UID_LABEL)
    if uid:  # servedBy of the version it serves
        await reconcile_by_owner(meta["namespace"], labels, memo, kwargs, uid=uid)


@kopf.on.event("services", labels=CHILD_LABELS)
async def isvc_service_changed(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    key = owner_key(body)
    if key is not None:
        model = (body["metadata"].get("labels") or {}).get(MODEL_LABEL)
        await _reconcile_named(key[0], model, key[1], memo, kwargs)


@kopf.on.event(GROUP, VERSION, MODELVERSION_PLURAL)
async def isvc_modelversion_changed(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    """A version appeared, changed phase or went: the services of its model may resolve differently."""
    mv = parse_model_version(body)
    if mv is None:
        return
    for isvc in list(kwargs["lepton_inferenceservices"].get((mv.namespace, mv.spec.model), [])):
        body_of = isvc.model_dump(mode="json", by_alias=True, exclude_none=True)
        await reconcile_inference_service(body_of, memo, inferenceservice_indices(kwargs))


@kopf.on.event(GROUP, VERSION, INFERENCESERVICE_PLURAL)
async def inferenceservice_gone(body: kopf.Body, memo: Memo, type: str | None, **_: Any) -> None:
    if type != "DELETED":
        return
    meta = body["metadata"]
    runtime = runtime_of(memo)
    runtime.forget(runtime_key(meta))
    prefixes = (
        f"{meta['namespace']}/deployments/{meta['name']}-",
        f"{meta['namespace']}/services/{meta['name']}",
    )
    for ident in [i for i in runtime.applied if i.startswith(prefixes)]:
        runtime.applied.pop(ident, None)
