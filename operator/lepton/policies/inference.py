"""What an InferenceService's children should be and what its status says: which versions get a
Deployment, which one the Service selects, what to delete, and the conditions.

`plan` serves the Recreate strategy: the Service switches to the new version at once and the old
Deployment is deleted at once (given any other strategy, `plan` rolls over without downtime: the
Service switches once the new version is available). The Canary strategy (the default) is the
metric-gated rollout of policies/rollout.py, whose decision policies/canary_plan.py turns into the
same Plan; `assess` and `status_of` serve both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lepton.api.common import Condition, set_condition
from lepton.api.inferenceservice import (
    InferenceService,
    InferenceServiceConditionType,
    InferenceServicePhase,
    InferenceServiceReason,
)
from lepton.api.rollout import RolloutStrategy
from lepton.builders.inference import selector_string, url_of
from lepton.policies.autoscaling_status import Metrics
from lepton.policies.models import Resolution, Unresolved
from lepton.policies.pod_start import Finding


@dataclass(frozen=True)
class DeploymentState:
    """A model-server Deployment of the service, as observed."""

    name: str
    version: str
    modelversion_uid: str = ""
    replicas: int = 0
    """spec.replicas"""
    current: int = 0
    """status.replicas"""
    ready: int = 0
    available: int = 0
    updated: int = 0
    generation: int = 0
    observed_generation: int = 0
    applied_hash: str = ""
    deleting: bool = False
    activator: bool = False
    """The service's activator (policies.activation), not a model-server version."""

    def available_for(self, replicas: int) -> bool:
        """All ``replicas`` replicas of the current template are up (the rollover gate)."""
        settled = self.observed_generation >= self.generation and self.updated >= replicas
        return settled and self.available >= replicas and self.replicas == replicas


@dataclass(frozen=True)
class Plan:
    deploy: dict[str, int] = field(default_factory=dict)
    """Versions that must have a Deployment, with their replicas."""
    service_version: str | None = None
    """Version the Service selects; None: no Service yet."""
    delete: tuple[str, ...] = ()
    """Deployment names to delete."""
    current_version: str | None = None
    rolling_to: str | None = None
    """The version being rolled out next to current_version."""
    shared_service: bool = False
    """The Service selects the model servers of every version (a canary without Gateway API: the
    Ready replicas split the traffic) rather than those of service_version."""
    sources: dict[str, str] = field(default_factory=dict)
    """Version -> uid of the ModelVersion its Deployment is built from: the resolved one for the
    target, the one the running Deployment was made from otherwise. A version without a source (its
    ModelVersion is gone) keeps its Deployment as it is."""


def plan(
    *,
    replicas: int,
    strategy: RolloutStrategy,
    resolution: Resolution,
    recorded_version: str | None,
    deployments: Sequence[DeploymentState],
    service_selects: str | None,
) -> Plan:
    """Decide from the resolved target, the version the status records as serving, the Deployments
    and the version the Service is observed to select."""
    live = {d.version: d for d in deployments if not d.deleting}
    current = recorded_version if recorded_version in live else None
    if current is None and service_selects in live:
        current = service_selects  # the status was lost; the Service still says what serves
    target = resolution.version.version if resolution.version is not None else None

    deploy: dict[str, int] = {}
    rolling_to: str | None = None
    if target is None:
        if current is not None:
            deploy[current] = replicas  # keep serving what works while the reference is broken
        serving = current
    elif current is None or current == target:
        deploy[target] = replicas
        serving = target
    else:
        deploy[target] = replicas
        deploy[current] = replicas
        new = live.get(target)
        ready = new is not None and new.available_for(replicas)
        if strategy is RolloutStrategy.RECREATE or ready:
            serving = target
            del deploy[current]  # kept below while the Service is still seen selecting it
        else:
            serving, rolling_to = current, target

    # A Deployment goes once nothing wants it and the Service is not observed to select it.
    # Recreate accepts the gap; otherwise the old one stays until the Service is seen to have moved.
    keep = set(deploy)
    if service_selects and strategy is not RolloutStrategy.RECREATE:
        keep.add(service_selects)
    delete = tuple(sorted(d.name for v, d in live.items() if v not in keep))
    sources = {v: d.modelversion_uid for v, d in live.items() if v in deploy and d.modelversion_uid}
    if resolution.version is not None and resolution.version.uid and target in deploy:
        sources[target] = resolution.version.uid
    return Plan(
        deploy=deploy,
        service_version=serving,
        delete=delete,
        current_version=serving,
        rolling_to=rolling_to,
        sources=sources,
    )


def needs_apply(desired: str, observed: str | None, last_applied: str | None) -> bool:
    """Whether a child whose desired content hashes to ``desired`` must be applied: it is missing
    (``observed`` None) or differs, and this process has not just applied exactly that (the watch
    may lag behind our own write)."""
    if observed is None:
        return True
    return desired not in (observed, last_applied)


def scaled_by_hand(observed: DeploymentState | None, desired: str, replicas: int) -> bool:
    """Someone changed the replicas of a Deployment whose template is ours (`kubectl scale`): the
    operator owns replicas and puts them back."""
    return observed is not None and observed.applied_hash == desired and observed.replicas != replicas


@dataclass(frozen=True)
class ConditionValue:
    status: bool
    reason: InferenceServiceReason
    message: str


@dataclass(frozen=True)
class Assessment:
    phase: InferenceServicePhase
    ready: ConditionValue
    degraded: ConditionValue
    progressing: ConditionValue
    replicas: int
    ready_replicas: int


def assess(
    *,
    the_plan: Plan,
    replicas: int,
    resolution: Resolution,
    deployments: Sequence[DeploymentState],
    was_ready: bool,
) -> Assessment:
    """Phase and the Ready, Degraded and RolloutProgressing conditions."""
    live = {d.version: d for d in deployments if not d.deleting}
    total = sum(d.current for d in live.values())
    total_ready = sum(d.ready for d in live.values())
    version = the_plan.current_version
    serving = live.get(version) if version else None
    ready_now = serving.ready if serving else 0

    if the_plan.rolling_to:
        new = live.get(the_plan.rolling_to)
        have = new.available if new else 0
        progressing = ConditionValue(
            True,
            InferenceServiceReason.DEPLOYING,
            f"rolling out version {the_plan.rolling_to}: {have}/{replicas} replicas available; "
            f"version {version} serves until then",
        )
    else:
        progressing = ConditionValue(False, InferenceServiceReason.NO_ROLLOUT, "no rollout in progress")

    unresolved = resolution.version is None
    why = resolution.message
    if version is None:
        # Nothing serves: the reference cannot be resolved yet (or at all).
        reason = resolution.reason or Unresolved.NOT_FOUND
        failed = resolution.reason is Unresolved.FAILED
        phase = InferenceServicePhase.FAILED if failed else InferenceServicePhase.PENDING
        not_ready = ConditionValue(False, reason, why)
        quiet = ConditionValue(False, reason, "nothing is deployed yet")
        return Assessment(phase, not_ready, quiet, progressing, total, total_ready)

    serving_text = f"{ready_now}/{replicas} replicas of version {version} ready"
    if replicas == 0:
        ready = ConditionValue(False, InferenceServiceReason.SCALED_TO_ZERO, "scaled to zero replicas")
        phase = InferenceServicePhase.SCALED_TO_ZERO
    elif ready_now > 0:
        # Able to serve; until the service has once had all its replicas it is still deploying.
        ready = ConditionValue(True, InferenceServiceReason.REPLICAS_READY, serving_text)
        full = ready_now >= replicas
        phase = InferenceServicePhase.READY if full or was_ready else InferenceServicePhase.DEPLOYING
    elif was_ready:
        ready = ConditionValue(False, InferenceServiceReason.REPLICAS_UNAVAILABLE, serving_text)
        phase = InferenceServicePhase.DEGRADED
    else:
        ready = ConditionValue(False, InferenceServiceReason.DEPLOYING, serving_text)
        phase = InferenceServicePhase.DEPLOYING

    if unresolved:
        degraded = ConditionValue(
            True, resolution.reason or Unresolved.NOT_FOUND, f"{why}; still serving version {version}"
        )
    elif was_ready and ready_now < replicas:
        degraded = ConditionValue(True, InferenceServiceReason.REPLICAS_UNAVAILABLE, serving_text)
    else:
        degraded = ConditionValue(False, InferenceServiceReason.REPLICAS_READY, serving_text)
    if phase is InferenceServicePhase.READY and degraded.status:
        phase = InferenceServicePhase.DEGRADED
    if the_plan.rolling_to and phase is InferenceServicePhase.READY:
        phase = InferenceServicePhase.ROLLING_OUT
    return Assessment(phase, ready, degraded, progressing, total, total_ready)


def with_start_problem(assessment: Assessment, found: Finding | None) -> Assessment:
    """A model-server pod that cannot start says why: in Ready while the service is not ready, else
    in Degraded (the servers that run serve; the one that cannot start is missing capacity). The
    replica counts stay in the message of the other condition."""
    if found is None or assessment.phase in (InferenceServicePhase.FAILED, InferenceServicePhase.PENDING):
        return assessment
    reason = InferenceServiceReason(found.reason.value)
    if not assessment.ready.status:
        degraded = assessment.degraded
        if degraded.status and degraded.reason is InferenceServiceReason.REPLICAS_UNAVAILABLE:
            degraded = ConditionValue(True, reason, found.message)
        return replace(assessment, ready=ConditionValue(False, reason, found.message), degraded=degraded)
    if (
        assessment.degraded.status
        and assessment.degraded.reason is not InferenceServiceReason.REPLICAS_UNAVAILABLE
    ):
        return assessment  # a rollback or an unresolved model says more
    phase = assessment.phase
    if phase is InferenceServicePhase.READY:
        phase = InferenceServicePhase.DEGRADED
    return replace(assessment, phase=phase, degraded=ConditionValue(True, reason, found.message))


def _condition(
    conditions: list[Condition], type_: str, value: ConditionValue, generation: int | None, at: str
) -> list[Condition]:
    return set_condition(
        conditions, type_, value.status, value.reason, value.message, observed_generation=generation, at=at
    )


def status_of(
    isvc: InferenceService,
    decided: Plan,
    assessment: Assessment,
    domain: str,
    at: str,
    *,
    autoscaler: Mapping[str, Any] | None = None,
    metrics: Metrics | None = None,
) -> dict[str, Any]:
    """The whole status the controller manages. ``autoscaler`` and ``metrics`` come from an
    autoscaling round; without one, what the last round wrote stays as it is."""
    previous = isvc.status
    generation = isvc.metadata.generation
    conditions = list(previous.conditions or []) if previous else []
    conditions = _condition(conditions, InferenceServiceConditionType.READY, assessment.ready, generation, at)
    conditions = _condition(
        conditions, InferenceServiceConditionType.DEGRADED, assessment.degraded, generation, at
    )
    conditions = _condition(
        conditions, InferenceServiceConditionType.ROLLOUT_PROGRESSING, assessment.progressing, generation, at
    )
    if metrics is not None:
        value = ConditionValue(metrics.status, metrics.reason, metrics.message)
        conditions = _condition(
            conditions, InferenceServiceConditionType.METRICS_AVAILABLE, value, generation, at
        )
    autoscaling = isvc.spec.autoscaling is not None
    if not autoscaling:
        conditions = [c for c in conditions if c.type != InferenceServiceConditionType.METRICS_AVAILABLE]
    version = decided.current_version
    status: dict[str, Any] = {
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
    if autoscaler is not None:
        status["autoscaler"] = dict(autoscaler)
    elif not autoscaling:
        status["autoscaler"] = None
    return status
