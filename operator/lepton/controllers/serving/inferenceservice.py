"""One reconcile of one InferenceService: observe (indices, the HTTPRoute), decide (policies.models,
then policies.rollout for a canary or policies.inference for Recreate), act (apply Deployments, the
Service, the per-version Services and the HTTPRoute; delete what is no longer used), report (one
status write, then events, then when to look again). Every handler of the service funnels into it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lepton.api.common import find_condition
from lepton.api.inferenceservice import (
    PLURAL,
    InferenceService,
    InferenceServiceConditionType,
    InferenceServicePhase,
    InferenceServiceReason,
)
from lepton.api.rollout import RolloutStrategy
from lepton.api.times import now
from lepton.builders.activator import construct_activated_service
from lepton.builders.inference import APPLIED_HASH, construct_deployment, construct_service
from lepton.builders.serving_config import pod_annotations_of
from lepton.builders.traffic import MirrorMode, construct_shared_service
from lepton.controllers.kit.events import Events, events_about
from lepton.controllers.kit.objects import ref_of
from lepton.controllers.kit.owners import foreign_holder
from lepton.controllers.serving.context import Serving, object_key
from lepton.controllers.serving.indices import Indices
from lepton.controllers.serving.netpol import act_network_policy
from lepton.controllers.serving.observe import ServiceState, version_info
from lepton.controllers.serving.rollout import (
    CanaryRound,
    TrafficActed,
    act_traffic,
    decide_canary,
    observe_traffic,
    version_services_of,
    wanted_versions,
)
from lepton.controllers.serving.scaling_events import report_ignored_replicas, report_scaling
from lepton.controllers.serving.series import service_snapshot
from lepton.controllers.serving.zero import act as zero_act
from lepton.controllers.serving.zero import apply_refusable
from lepton.kube import resources
from lepton.policies.activation import activation, assessed
from lepton.policies.autoscaling import Readings
from lepton.policies.autoscaling_status import autoscaler_status, metrics_condition, replicas_of, scale
from lepton.policies.canary_plan import rollout_status, with_rollout
from lepton.policies.inference import (
    Assessment,
    ConditionValue,
    DeploymentState,
    Plan,
    assess,
    needs_apply,
    plan,
    scaled_by_hand,
    status_of,
    with_start_problem,
)
from lepton.policies.models import resolve
from lepton.policies.pod_start import Finding
from lepton.policies.rollout_state import canary_status

log = logging.getLogger("lepton.inferenceservice")

ROUTE_READBACK_SECONDS = 1.0

WARNING_PHASES = frozenset({InferenceServicePhase.FAILED, InferenceServicePhase.DEGRADED})
WAS_READY_PHASES = frozenset(
    {InferenceServicePhase.READY, InferenceServicePhase.DEGRADED, InferenceServicePhase.ROLLING_OUT}
)


def inferenceservice_key(meta: Mapping[str, Any]) -> str:
    return object_key(PLURAL, meta)


async def reconcile_inference_service(
    body: Mapping[str, Any], serving: Serving, indices: Indices, readings: Readings | None = None
) -> None:
    """Converge one service; ``readings`` (an autoscaling round's metrics) let the autoscaler decide
    its replicas, otherwise they stay as the last round decided."""
    key = inferenceservice_key(body["metadata"])
    await serving.objects.locked(
        key,
        body,
        lambda fresh: _reconcile(
            InferenceService.model_validate(dict(fresh)), key, fresh, serving, indices, readings
        ),
    )


async def _reconcile(
    isvc: InferenceService,
    key: str,
    body: Mapping[str, Any],
    serving: Serving,
    indices: Indices,
    readings: Readings | None,
) -> None:
    spec, ns = isvc.spec, isvc.namespace
    versions = indices.versions_of(ns, spec.model.name)
    resolution = resolve(spec.model.name, spec.model.version, [version_info(v) for v in versions])
    deployments, activator, service = indices.children(ns, isvc.name)
    status = isvc.status
    replicas = current = replicas_of(spec, status)
    decision = None
    if readings is not None:
        ready = sum(d.ready for d in deployments if not d.deleting)
        decision = scale(spec, status, readings, ready, serving.clock())
        replicas = decision.desired_replicas if decision is not None else replicas
    traffic = await observe_traffic(isvc, serving)
    canary: CanaryRound | None = None
    if spec.rollout.strategy is RolloutStrategy.CANARY:
        canary = await decide_canary(
            isvc,
            serving,
            replicas=replicas,
            resolution=resolution,
            versions=versions,
            deployments=deployments,
            service=service,
            traffic=traffic,
        )
        decided = canary.plan
    else:
        decided = plan(
            replicas=replicas,
            strategy=spec.rollout.strategy,
            resolution=resolution,
            recorded_version=status.current_version if status else None,
            deployments=deployments,
            service_selects=service.selects if service else None,
        )
    serving_now = next(
        (d for d in deployments if d.version == decided.current_version and not d.deleting), None
    )
    zero = activation(
        scale_to_zero=bool(spec.autoscaling and spec.autoscaling.scale_to_zero),
        replicas=replicas,
        version=decided.current_version,
        ready=serving_now.ready if serving_now else 0,
        routed_to_activator=service is not None and service.to_activator,
        activator_ready=activator is not None and activator.ready > 0,
    )
    if zero.hold and serving_now is not None and serving_now.replicas > 0:
        # Make before break: the servers stay as they are until the activator answers.
        decided = replace(decided, deploy={**decided.deploy, serving_now.version: serving_now.replicas})
    events = events_about(isvc)
    autoscaler, metrics = None, None
    if decision is not None and readings is not None:
        autoscaler = autoscaler_status(spec, decision, status.autoscaler if status else None)
        metrics = metrics_condition(decision, readings)
        report_scaling(isvc, decision, metrics, current, events)
    report_ignored_replicas(isvc, replicas, events)
    if canary is not None:
        for event in canary.decision.events:
            (events.warning if event.warning else events.normal)(event.reason, event.message)
            log.info("%s/%s: %s: %s", ns, isvc.name, event.reason.value, event.message)
    blocked = await act_network_policy(isvc, serving, indices.network_policy(ns, isvc.name))
    if blocked is None:
        blocked = await _act(isvc, decided, zero.to_activator, indices, deployments, service, serving, events)
    acted = TrafficActed()
    if blocked is None:
        await zero_act(isvc, zero, activator, serving, events)
        weights, wanted = wanted_versions(canary.decision if canary else None, decided)
        acted = await act_traffic(
            isvc,
            serving,
            traffic,
            version_services_of(indices.services_of(ns, isvc.name), isvc.name),
            weights,
            wanted,
            canary.decision.mirror if canary else None,
            events,
            zero.to_activator,
            canary.mirror.mode if canary else MirrorMode.FILTER,
        )

    # Once it has had all its replicas, a shortfall is a degradation rather than a deployment.
    was_ready = status is not None and status.phase in WAS_READY_PHASES
    assessment = assess(
        the_plan=decided,
        # During a canary without Gateway API the stable version runs its share of the replicas.
        replicas=decided.deploy.get(decided.current_version or "", replicas) if canary else replicas,
        resolution=resolution,
        deployments=deployments,
        was_ready=was_ready,
    )
    assessment = assessed(assessment, zero)
    if canary is not None:
        assessment = with_rollout(assessment, canary.decision)
    assessment = _noted(isvc, assessment, traffic.note(isvc), canary.invalid if canary else (), events)
    tokens = [(t.name, t.key) for t in spec.auth.token_secrets] if spec.auth else []
    start = await serving.pod_starts.check(
        serving.kube, key, ns, indices.server_pods(ns, isvc.name), serving.clock(), token_secrets=tokens
    )
    assessment = with_start_problem(assessment, start.finding)
    if blocked is not None:
        assessment = replace(
            assessment, phase=InferenceServicePhase.FAILED, ready=ConditionValue(False, *blocked)
        )
    desired = status_of(
        isvc,
        decided,
        assessment,
        serving.config.cluster_domain,
        now(),
        autoscaler=autoscaler,
        metrics=metrics,
    )
    desired.update(rollout_status(canary.decision, body.get("status")) if canary else {"canary": None})
    written = await serving.objects.write_status(serving.kube, ref_of(isvc), key, body.get("status"), desired)
    written_canary = canary_status(canary.decision.state) if canary else None
    series = service_snapshot(
        desired, written_canary, desired=replicas, decided=decided, deployments=deployments
    )
    serving.metrics.inference_service(ns, isvc.name, series if written else None)
    if written:
        _report(isvc, decided, assessment, events)
        _report_start(isvc, start.finding, events)
        await events.send(serving.kube)
        due_at = start.due  # a model-server pod waiting to start is due a look
        if canary is not None:
            # A promotion completes once the route is read back carrying it: look again soon.
            due = canary.decision.requeue_after
            due = min(due or ROUTE_READBACK_SECONDS, ROUTE_READBACK_SECONDS) if acted.route_changed else due
            if due is not None:
                at = serving.clock() + due
                due_at = at if due_at is None else min(due_at, at)
        serving.requeues.set(key, due_at)
    if acted.wait is not None:
        serving.requeues.earliest(key, serving.clock() + acted.wait)


async def _act(
    isvc: InferenceService,
    decided: Plan,
    to_activator: bool,
    indices: Indices,
    deployments: list[DeploymentState],
    service: ServiceState | None,
    serving: Serving,
    events: Events,
) -> tuple[InferenceServiceReason, str] | None:
    """Create, update and delete the children the plan asks for. Why the service is blocked, if it
    is: the Service's name is taken by an object this InferenceService does not own (nothing is
    taken over then), or the API server refused a child for good (ConfigError, its message)."""
    by_version = {d.version: d for d in deployments if not d.deleting}
    applies = []
    for version, replicas in decided.deploy.items():
        source = decided.sources.get(version)
        mv = indices.model_version(isvc.namespace, isvc.spec.model.name, uid=source) if source else None
        if mv is None:
            continue  # its ModelVersion is gone: the Deployment is left as it is
        observed = by_version.get(version)
        desired = construct_deployment(isvc, mv, replicas, serving.config)
        digest = desired["metadata"]["annotations"][APPLIED_HASH]
        ident = f"{isvc.namespace}/deployments/{desired['metadata']['name']}"
        observed_hash = observed.applied_hash if observed else None
        by_hand = scaled_by_hand(observed, digest, replicas)
        if needs_apply(digest, observed_hash, serving.applied.get(ident)) or by_hand:
            applies.append(apply_refusable(serving, ident, digest, desired, "deployments"))
            if observed is not None and observed.replicas != replicas and not _decided_here(isvc, events):
                message = f"version {version}: {observed.replicas} -> {replicas} replicas"
                if by_hand and isvc.spec.autoscaling is not None:
                    message += " (the autoscaler owns replicas: a manual scale is undone)"
                events.normal(InferenceServiceReason.SCALED, message)
    if applies:
        refused = [message for message in await asyncio.gather(*applies) if message]
        if refused:
            return InferenceServiceReason.CONFIG_ERROR, refused[0]
        _, problem = pod_annotations_of(isvc.metadata.annotations)
        if problem:
            events.warning(InferenceServiceReason.INVALID_ANNOTATION, problem)
    if decided.service_version is not None:
        if to_activator:
            desired_service = construct_activated_service(isvc)
        elif decided.shared_service:
            desired_service = construct_shared_service(isvc)
        else:
            desired_service = construct_service(isvc, decided.service_version)
        digest = desired_service["metadata"]["annotations"][APPLIED_HASH]
        ident = f"{isvc.namespace}/services/{isvc.name}"
        if service is None:
            ref = resources.Ref("v1", "services", isvc.namespace, isvc.name)
            holder = foreign_holder(await resources.get(serving.kube, ref), isvc.metadata.uid)
            if holder is not None:
                return InferenceServiceReason.SERVICE_CONFLICT, (
                    f"Service {isvc.name} exists and is not this InferenceService's (owner: {holder}); "
                    "rename the InferenceService or remove that Service"
                )
        if needs_apply(digest, service.applied_hash if service else None, serving.applied.get(ident)):
            if refused_message := await apply_refusable(serving, ident, digest, desired_service, "services"):
                return InferenceServiceReason.CONFIG_ERROR, refused_message
            if to_activator and service is not None and not service.to_activator:
                message = f"Service {isvc.name} routed to the activator: no replica is ready"
                events.normal(InferenceServiceReason.ACTIVATOR_ROUTED, message)
            elif decided.shared_service and service is not None and service.selects is not None:
                message = (
                    f"Service {isvc.name} selects every version's replicas: their Ready replicas split "
                    f"the traffic while {decided.rolling_to} rolls out"
                )
                events.normal(InferenceServiceReason.TRAFFIC_SWITCHED, message)
            elif not to_activator and service is not None and service.selects != decided.service_version:
                was = f"version {service.selects}" if service.selects else "every version"
                message = f"Service {isvc.name} switched from {was} to version {decided.service_version}"
                events.normal(InferenceServiceReason.TRAFFIC_SWITCHED, message)
    for name in decided.delete:
        ref = resources.Ref("apps/v1", "deployments", isvc.namespace, name)
        if await resources.delete(serving.kube, ref):
            events.normal(
                InferenceServiceReason.DEPLOYMENT_DELETED, f"deleted Deployment {name}: no longer served"
            )
    return None


def _report(isvc: InferenceService, decided: Plan, assessment: Assessment, events: Events) -> None:
    previous = isvc.status
    old_phase = previous.phase if previous else None
    old_version = previous.current_version if previous else None
    if decided.current_version and decided.current_version != old_version:
        message = f"serving version {decided.current_version}" + (
            f" (was {old_version})" if old_version else ""
        )
        events.normal(InferenceServiceReason.VERSION_CHANGED, message)
    if assessment.phase is old_phase:
        return
    shown = assessment.ready if not assessment.degraded.status else assessment.degraded
    if assessment.phase is InferenceServicePhase.ROLLING_OUT:
        shown = assessment.progressing
    # The event of a phase change carries the new phase as its reason.
    reason = InferenceServiceReason(assessment.phase.value)
    (events.warning if assessment.phase in WARNING_PHASES else events.normal)(reason, shown.message)
    log.info(
        "%s/%s: %s -> %s: %s",
        isvc.namespace,
        isvc.name,
        old_phase.value if old_phase else "-",
        assessment.phase.value,
        shown.message,
    )


def _report_start(isvc: InferenceService, found: Finding | None, events: Events) -> None:
    """A Warning when a pod's start problem is new to the status (the condition says it anyway)."""
    before = isvc.status.conditions if isvc.status else None
    if found is not None and not any(c.message == found.message for c in before or []):
        events.warning(InferenceServiceReason(found.reason.value), found.message)
        log.info("%s/%s: %s: %s", isvc.namespace, isvc.name, found.reason.value, found.message)


def _noted(
    isvc: InferenceService, assessment: Assessment, note: str, invalid: tuple[str, ...], events: Events
) -> Assessment:
    """RolloutProgressing also says what is not acted on: spec.traffic without Gateway API, and a
    malformed rollout annotation (with a warning event when it is new)."""
    notes = [n for n in (note, *invalid) if n]
    if not notes:
        return assessment
    before = find_condition(
        isvc.status.conditions if isvc.status else None, InferenceServiceConditionType.ROLLOUT_PROGRESSING
    )
    for problem in invalid:
        if before is None or problem not in (before.message or ""):
            events.warning(InferenceServiceReason.INVALID_ANNOTATION, problem)
    progressing = assessment.progressing
    message = "; ".join([progressing.message, *notes])
    return replace(assessment, progressing=replace(progressing, message=message))


def _decided_here(isvc: InferenceService, events: Events) -> bool:
    """Whether this round's autoscaling decision already announced the scale (one event per scale)."""
    scales = (
        InferenceServiceReason.SCALED_UP,
        InferenceServiceReason.SCALED_DOWN,
        InferenceServiceReason.SCALED_TO_ZERO,
    )
    return isvc.spec.autoscaling is not None and any(reason in scales for _, reason, _ in events.pending)
