"""kopf registration of the serving controllers. ModelVersion: create, update, resume, and its
verification Job's and pods' events. InferenceService: create, update, resume, the events of its
Deployments, its Services and its model's ModelVersions, and a daemon that wakes it when it asked
to be looked at again (a canary's pause ends or check is due; a model-server pod waiting to start
is due a look, which that pod's own events only schedule). Every one ends in
``reconcile_model_version`` or ``reconcile_inference_service``; no polling: every change that
matters arrives as a watch event or at a time a reconcile named. The indices are in
controllers.serving.indices."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.inferenceservice import PLURAL as INFERENCESERVICE_PLURAL
from lepton.api.modelversion import MODEL_LABEL
from lepton.api.modelversion import PLURAL as MODELVERSION_PLURAL
from lepton.api.rollout import ROLLOUT_ANNOTATIONS
from lepton.builders.verification import MODELVERSION_UID_LABEL
from lepton.controllers.kit.errors import kopf_errors
from lepton.controllers.kit.pod_start import pod_start
from lepton.controllers.kit.stopping import sleep_unless_stopped
from lepton.controllers.serving.indices import (
    CHILD_LABELS,
    SERVER_POD_LABELS,
    VERIFY_LABELS,
    HasServing,
    Indices,
)
from lepton.controllers.serving.inferenceservice import inferenceservice_key, reconcile_inference_service
from lepton.controllers.serving.modelversion import modelversion_key, reconcile_model_version
from lepton.controllers.serving.observe import owner_key, parse_model_version
from lepton.kube.errors import KubeError
from lepton.policies.pod_start import look_at

log = logging.getLogger("lepton.rollout")

# How soon a rollout round the API server refused is tried again.
RETRY_SECONDS = 5.0


def _body(obj: Any) -> dict[str, Any]:
    """An indexed object as the body a reconcile takes (the reconcile then finds a fresher one)."""
    return dict(obj.model_dump(mode="json", by_alias=True, exclude_none=True))


# ModelVersion


@kopf.on.resume(GROUP, VERSION, MODELVERSION_PLURAL, id="modelversion-resume")
@kopf.on.create(GROUP, VERSION, MODELVERSION_PLURAL, id="modelversion-create")
@kopf.on.update(GROUP, VERSION, MODELVERSION_PLURAL, id="modelversion-update")
@kopf_errors
async def modelversion_changed(body: kopf.Body, memo: HasServing, **kwargs: Any) -> None:
    await reconcile_model_version(body, memo.serving, Indices.of(kwargs))


async def _reconcile_version_of(
    child: kopf.Body,
    memo: HasServing,
    kwargs: dict[str, Any],
    *,
    name: str | None = None,
    uid: str | None = None,
) -> None:
    """Reconcile the ModelVersion a child belongs to, found by name or uid among its model's versions."""
    meta = child["metadata"]
    model = (meta.get("labels") or {}).get(MODEL_LABEL)
    if not model:
        return
    indices = Indices.of(kwargs)
    mv = indices.model_version(meta["namespace"], model, name=name, uid=uid)
    if mv is not None:
        await reconcile_model_version(_body(mv), memo.serving, indices)


def _owner_name(body: kopf.Body, kind: str) -> str | None:
    owners = body["metadata"].get("ownerReferences") or []
    return next((str(o["name"]) for o in owners if o.get("kind") == kind), None)


@kopf.on.event("batch", "v1", "jobs", labels=VERIFY_LABELS)
@kopf_errors
async def verify_job_changed(body: kopf.Body, memo: HasServing, **kwargs: Any) -> None:
    # By owner name, not uid: when a Job of a deleted namesake goes, the new version must be told.
    owner = _owner_name(body, "ModelVersion")
    if owner:
        await _reconcile_version_of(body, memo, kwargs, name=owner)


@kopf.on.event("pods", labels=VERIFY_LABELS)
@kopf_errors
async def verify_pod_changed(body: kopf.Body, memo: HasServing, **kwargs: Any) -> None:
    uid = (body["metadata"].get("labels") or {}).get(MODELVERSION_UID_LABEL)
    await _reconcile_version_of(body, memo, kwargs, uid=uid)


@kopf.on.event(GROUP, VERSION, MODELVERSION_PLURAL)
@kopf_errors
async def modelversion_event(body: kopf.Body, memo: HasServing, type: str | None, **kwargs: Any) -> None:
    """A version appeared, changed phase or went: the services of its model may resolve differently."""
    if type == "DELETED":
        memo.serving.objects.forget(modelversion_key(body["metadata"]), body["metadata"].get("uid"))
    mv = parse_model_version(body)
    if mv is None:
        return
    indices = Indices.of(kwargs)
    for isvc in indices.services_for(mv.namespace, mv.spec.model):
        await reconcile_inference_service(_body(isvc), memo.serving, indices)


# InferenceService


@kopf.on.resume(GROUP, VERSION, INFERENCESERVICE_PLURAL, id="inferenceservice-resume")
@kopf.on.create(GROUP, VERSION, INFERENCESERVICE_PLURAL, id="inferenceservice-create")
@kopf.on.update(GROUP, VERSION, INFERENCESERVICE_PLURAL, id="inferenceservice-update")
@kopf_errors
async def inferenceservice_changed(body: kopf.Body, memo: HasServing, **kwargs: Any) -> None:
    await reconcile_inference_service(body, memo.serving, Indices.of(kwargs))


@kopf.daemon(
    GROUP,
    VERSION,
    INFERENCESERVICE_PLURAL,
    id="rollout",
    cancellation_backoff=2.0,
    cancellation_timeout=5.0,
    backoff=RETRY_SECONDS,  # as the autoscaler's: a round that raised is not a minute without rollouts
)
async def rollout_clock(
    body: kopf.Body, memo: HasServing, stopped: kopf.DaemonStopped, **kwargs: Any
) -> None:
    """Sleeps until the time the service's last reconcile named (none: until one names one), then
    reconciles: a canary's pause ends or its check is due, a model-server pod waiting to start is
    due a look. kopf keeps ``body`` current for daemons."""
    serving = memo.serving
    key = inferenceservice_key(body["metadata"])
    # The due time outlives the daemon (kopf may stop and restart it): only a deletion forgets it.
    while not stopped:
        await sleep_unless_stopped(serving.requeues.sleep(key, serving.clock), stopped.wait)
        if stopped:
            break
        try:
            await reconcile_inference_service(body, serving, Indices.of(kwargs))
        except KubeError as exc:
            log.warning("rollout round of %s failed: %s", key, exc)
            serving.requeues.set(key, serving.clock() + RETRY_SECONDS)


async def _reconcile_owner(child: kopf.Body, memo: HasServing, kwargs: dict[str, Any]) -> None:
    """Reconcile the InferenceService a child (Deployment, Service) is labelled with."""
    key = owner_key(child)
    model = (child["metadata"].get("labels") or {}).get(MODEL_LABEL)
    if key is None or not model:
        return
    indices = Indices.of(kwargs)
    for isvc in indices.services_for(key[0], model):
        if isvc.name == key[1]:
            await reconcile_inference_service(_body(isvc), memo.serving, indices)


@kopf.on.event("apps", "v1", "deployments", labels=CHILD_LABELS)
@kopf_errors
async def isvc_deployment_changed(body: kopf.Body, memo: HasServing, **kwargs: Any) -> None:
    await _reconcile_owner(body, memo, kwargs)
    uid = (body["metadata"].get("labels") or {}).get(MODELVERSION_UID_LABEL)
    if uid:  # servedBy of the version it serves
        await _reconcile_version_of(body, memo, kwargs, uid=uid)


@kopf.on.event("services", labels=CHILD_LABELS)
@kopf_errors
async def isvc_service_changed(body: kopf.Body, memo: HasServing, **kwargs: Any) -> None:
    await _reconcile_owner(body, memo, kwargs)


@kopf.on.event("pods", labels=SERVER_POD_LABELS)
async def isvc_pod_changed(body: kopf.Body, memo: HasServing, **_: Any) -> None:
    """A model-server pod scheduled after its service's last reconcile: no Deployment event follows
    while it waits to start, so its service's timer is set to look at it then (no reconcile now)."""
    key, at = owner_key(body), look_at(pod_start(body))
    if key is not None and at is not None:
        memo.serving.requeues.earliest(inferenceservice_key({"namespace": key[0], "name": key[1]}), at)


@kopf.on.event("networking.k8s.io", "v1", "networkpolicies", labels=CHILD_LABELS)
@kopf_errors
async def isvc_networkpolicy_changed(body: kopf.Body, memo: HasServing, **kwargs: Any) -> None:
    await _reconcile_owner(body, memo, kwargs)


@kopf.on.event(GROUP, VERSION, INFERENCESERVICE_PLURAL)
@kopf_errors
async def inferenceservice_event(body: kopf.Body, memo: HasServing, type: str | None, **kwargs: Any) -> None:
    """A service went (forget it), or its rollout annotations changed: kopf leaves annotations under
    its storage prefix (lepton.ai/) out of what makes an update, so lepton.ai/promote, abort and
    retry would otherwise wait for the next event or timer."""
    meta, serving = body["metadata"], memo.serving
    key = inferenceservice_key(meta)
    if type == "DELETED":
        # Under the object's lock: a reconcile in flight finishes first, so its series do not come
        # back after they are dropped; later ones (stale bodies) are refused by the uid.
        async with serving.objects.lock(key):
            serving.objects.forget(key, meta.get("uid"))
            serving.metrics.inference_service(meta["namespace"], meta["name"], None)
        serving.requeues.forget(key)
        serving.pod_starts.forget(key)
        serving.rollout_annotations.pop(key, None)
        serving.forget_children(
            meta["namespace"],
            (
                f"deployments/{meta['name']}-",
                f"services/{meta['name']}",
                f"httproutes/{meta['name']}",
                f"networkpolicies/{meta['name']}",
            ),
        )
        return
    annotations = meta.get("annotations") or {}
    values = tuple(annotations.get(name) for name in ROLLOUT_ANNOTATIONS)
    seen = serving.rollout_annotations.setdefault(key, values)  # first sight: resume reconciles
    if seen != values:
        await reconcile_inference_service(body, serving, Indices.of(kwargs))
        serving.rollout_annotations[key] = values
