"""One reconcile of one InferenceService: observe (indices), decide (policies.models and
policies.inference), act (apply Deployments and the Service, delete old Deployments), report (one
status write, then events). Every handler of the service funnels into it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lepton.api.common import API_VERSION, Condition, now, set_condition
from lepton.api.inferenceservice import (
    PLURAL,
    InferenceService,
    InferenceServiceConditionType,
    InferenceServicePhase,
    InferenceServiceReason,
)
from lepton.api.modelversion import ModelVersion
from lepton.builders.inference import (
    APPLIED_HASH,
    construct_deployment,
    construct_service,
    selector_string,
    url_of,
)
from lepton.builders.serving_config import pod_annotations_of
from lepton.handlers.inferenceservice_observe import ServiceState
from lepton.handlers.modelversion_observe import find_model_version, version_info
from lepton.handlers.serving_runtime import ServingRuntime, object_key, runtime_of
from lepton.kube import resources
from lepton.kube.apply import apply
from lepton.policies.inference import (
    Assessment,
    ConditionValue,
    DeploymentState,
    Plan,
    assess,
    desired_replicas,
    plan,
)
from lepton.policies.models import resolve

if TYPE_CHECKING:
    from lepton.operator import Memo

log = logging.getLogger("lepton.inferenceservice")

WARNING_PHASES = frozenset({InferenceServicePhase.FAILED, InferenceServicePhase.DEGRADED})
WAS_READY_PHASES = frozenset(
    {InferenceServicePhase.READY, InferenceServicePhase.DEGRADED, InferenceServicePhase.ROLLING_OUT}
)


@dataclass(frozen=True)
class InferenceServiceIndices:
    """The kopf indices the InferenceService controller reads (see handlers.inferenceservice)."""

    model_versions: Mapping[Any, Any]
    """(namespace, model) -> ModelVersion"""
    deployments: Mapping[Any, Any]
    """(namespace, service) -> DeploymentState"""
    services: Mapping[Any, Any]
    """(namespace, service) -> ServiceState"""


async def reconcile_inference_service(
    body: Mapping[str, Any], memo: Memo, indices: InferenceServiceIndices
) -> None:
    key = runtime_key(body["metadata"])

    async def run(fresh: Mapping[str, Any]) -> None:
        await _reconcile(InferenceService.model_validate(dict(fresh)), key, fresh, memo, indices)

    await runtime_of(memo).reconcile_locked(key, body, run)


async def _reconcile(
    isvc: InferenceService, key: str, body: Mapping[str, Any], memo: Memo, indices: InferenceServiceIndices
) -> None:
    runtime = runtime_of(memo)
    spec, ns = isvc.spec, isvc.namespace
    versions: list[ModelVersion] = list(indices.model_versions.get((ns, spec.model.name), []))
    resolution = resolve(spec.model.name, spec.model.version, [version_info(v) for v in versions])
    deployments: list[DeploymentState] = list(indices.deployments.get((ns, isvc.name), []))
    service: ServiceState | None = next(iter(indices.services.get((ns, isvc.name), [])), None)
    replicas = desired_replicas(spec)
    status = isvc.status
    decided = plan(
        replicas=replicas,
        strategy=spec.rollout.strategy,
        resolution=resolution,
        recorded_version=status.current_version if status else None,
        deployments=deployments,
        service_selects=service.selects if service else None,
    )
    target = resolution.version
    resolved = find_model_version(versions, name=target.name) if target else None
    conflict = await _act(isvc, decided, resolved, versions, deployments, service, memo)

    # Once it has had all its replicas, a shortfall is a degradation rather than a deployment.
    was_ready = status is not None and status.phase in WAS_READY_PHASES
    assessment = assess(
        the_plan=decided,
        replicas=replicas,
        resolution=resolution,
        deployments=deployments,
        was_ready=was_ready,
    )
    if conflict is not None:
        blocked = ConditionValue(False, InferenceServiceReason.SERVICE_CONFLICT, conflict)
        assessment = replace(assessment, phase=InferenceServicePhase.FAILED, ready=blocked)
    desired = _status(isvc, decided, assessment, runtime.config.cluster_domain)
    await runtime.write_status(memo.kube, _ref(isvc), key, body.get("status"), desired)
    await _report(isvc, decided, assessment, memo)


def runtime_key(meta: Mapping[str, Any]) -> str:
    return object_key(PLURAL, meta)


def _ref(isvc: InferenceService) -> resources.Ref:
    return resources.Ref(API_VERSION, PLURAL, isvc.namespace, isvc.name)


def _model_version_for(
    version: str,
    resolved: ModelVersion | None,
    versions: list[ModelVersion],
    observed: DeploymentState | None,
) -> ModelVersion | None:
    """The ModelVersion a Deployment of ``version`` is built from: the resolved one, else the one the
    running Deployment was made from (None when that is gone: the Deployment is then left as it is)."""
    if resolved is not None and resolved.spec.version == version:
        return resolved
    if observed is not None and observed.modelversion_uid:
        return find_model_version(versions, uid=observed.modelversion_uid)
    return None


async def _act(
    isvc: InferenceService,
    decided: Plan,
    resolved: ModelVersion | None,
    versions: list[ModelVersion],
    deployments: list[DeploymentState],
    service: ServiceState | None,
    memo: Memo,
) -> str | None:
    """Create, update and delete the children the plan asks for; a message when the Service's name
    is taken by an object this InferenceService does not own (nothing is taken over then)."""
    runtime = runtime_of(memo)
    by_version = {d.version: d for d in deployments if not d.deleting}
    applies = []
    for version, replicas in decided.deploy.items():
        observed = by_version.get(version)
        mv = _model_version_for(version, resolved, versions, observed)
        if mv is None:
            continue
        desired = construct_deployment(isvc, mv, replicas, runtime.config)
        digest = desired["metadata"]["annotations"][APPLIED_HASH]
        ident = f"{isvc.namespace}/deployments/{desired['metadata']['name']}"
        outside = observed is not None and observed.applied_hash == digest and observed.replicas != replicas
        if runtime.needs_apply(ident, digest, observed.applied_hash if observed else None) or outside:
            applies.append(_apply(runtime, ident, digest, desired, "deployments", memo))
            if observed is not None and observed.replicas != replicas:
                message = f"version {version}: {observed.replicas} -> {replicas} replicas"
                await _event(isvc, "Normal", "Scaled", message, memo)
    if applies:
        await asyncio.gather(*applies)
        _, problem = pod_annotations_of(isvc.metadata.annotations)
        if problem:
            await _event(isvc, "Warning", "InvalidAnnotation", problem, memo)
    if decided.service_version is not None:
        desired_service = construct_service(isvc, decided.service_version)
        digest = desired_service["metadata"]["annotations"][APPLIED_HASH]
        ident = f"{isvc.namespace}/services/{isvc.name}"
        if service is None and (taken := await _service_taken(isvc, memo)) is not None:
            return taken
        if runtime.needs_apply(ident, digest, service.applied_hash if service else None):
            await _apply(runtime, ident, digest, desired_service, "services", memo)
            if service is not None and service.selects != decided.service_version:
                message = (
                    f"Service {isvc.name} switched from version {service.selects} "
                    f"to {decided.service_version}"
                )
                await _event(isvc, "Normal", "TrafficSwitched", message, memo)
    for name in decided.delete:
        if await resources.delete(memo.kube, resources.Ref("apps/v1", "deployments", isvc.namespace, name)):
            message = f"deleted Deployment {name}: no longer served"
            await _event(isvc, "Normal", "DeploymentDeleted", message, memo)
    return None


async def _service_taken(isvc: InferenceService, memo: Memo) -> str | None:
    """Why the Service named after ``isvc`` cannot be ours, when it exists and someone else owns it
    (a TrainingJob's headless Service of the same name, a user's own): applying would take it over."""
    existing = await resources.get(memo.kube, resources.Ref("v1", "services", isvc.namespace, isvc.name))
    if existing is None:
        return None
    owners = existing["metadata"].get("ownerReferences") or []
    if any(o.get("uid") == isvc.metadata.uid for o in owners):
        return None  # ours, not yet in the index
    holder = next((f"{o['kind']} {o['name']}" for o in owners if o.get("controller")), "no controller")
    return (
        f"Service {isvc.name} exists and is not this InferenceService's (owner: {holder}); "
        "rename the InferenceService or remove that Service"
    )


async def _apply(
    runtime: ServingRuntime, ident: str, digest: str, body: dict[str, Any], plural: str, memo: Memo
) -> None:
    await apply(memo.kube, body, plural)
    runtime.applied[ident] = digest


def _condition(
    conditions: list[Condition], type_: str, value: ConditionValue, generation: int | None, at: str
) -> list[Condition]:
    return set_condition(
        conditions, type_, value.status, value.reason, value.message, observed_generation=generation, at=at
    )


def _status(isvc: InferenceService, decided: Plan, assessment: Assessment, domain: str) -> dict[str, Any]:
    previous = isvc.status
    at = now()
    generation = isvc.metadata.generation
    conditions = list(previous.conditions or []) if previous else []
    conditions = _condition(conditions, InferenceServiceConditionType.READY, assessment.ready, generation, at)
    conditions = _condition(
        conditions, InferenceServiceConditionType.DEGRADED, assessment.degraded, generation, at
    )
    conditions = _condition(
        conditions, InferenceServiceConditionType.ROLLOUT_PROGRESSING, assessment.progressing, generation, at
    )
    version = decided.current_version
    return {
        "phase": assessment.phase.value,
        "url": url_of(isvc, domain),
        "replicas": assessment.replicas,
        "readyReplicas": assessment.ready_replicas,
        "selector": selector_string(isvc.name),
        "currentVersion": version,
        "traffic": [{"version": version, "weight": 100}] if version else None,
        "conditions": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions],
        "observedGeneration": generation,
    }


async def _report(isvc: InferenceService, decided: Plan, assessment: Assessment, memo: Memo) -> None:
    previous = isvc.status
    old_phase = previous.phase if previous else None
    old_version = previous.current_version if previous else None
    if decided.current_version and decided.current_version != old_version:
        message = f"serving version {decided.current_version}" + (
            f" (was {old_version})" if old_version else ""
        )
        await _event(isvc, "Normal", "VersionChanged", message, memo)
    if assessment.phase is old_phase:
        return
    event_type = "Warning" if assessment.phase in WARNING_PHASES else "Normal"
    shown = assessment.ready if not assessment.degraded.status else assessment.degraded
    if assessment.phase is InferenceServicePhase.ROLLING_OUT:
        shown = assessment.progressing
    await _event(isvc, event_type, assessment.phase.value, shown.message, memo)
    log.info(
        "%s/%s: %s -> %s: %s",
        isvc.namespace,
        isvc.name,
        old_phase.value if old_phase else "-",
        assessment.phase.value,
        shown.message,
    )


async def _event(isvc: InferenceService, event_type: str, reason: str, message: str, memo: Memo) -> None:
    involved = {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "name": isvc.name,
        "namespace": isvc.namespace,
        "uid": isvc.metadata.uid,
    }
    await resources.post_event(memo.kube, involved, event_type, reason, message)
