"""Between the autoscaler's decision and an InferenceService: how many replicas its Deployments run,
the decision taken from the readings of one round, and what status.autoscaler and the
MetricsAvailable condition say about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lepton.api.inferenceservice import (
    AutoscalerMemory,
    AutoscalerStatus,
    InferenceServiceReason,
    InferenceServiceSpec,
    InferenceServiceStatus,
)
from lepton.api.times import rfc3339_at
from lepton.policies.autoscaling import Decision, Readings, decide
from lepton.policies.autoscaling_state import AutoscalerState


@dataclass(frozen=True)
class Metrics:
    """The MetricsAvailable condition."""

    status: bool
    reason: InferenceServiceReason
    message: str


def replicas_of(spec: InferenceServiceSpec, status: InferenceServiceStatus | None) -> int:
    """The replicas the Deployments run. Without autoscaling: spec.replicas. With it: the
    autoscaler's last decision, at first spec.replicas kept within minReplicas..maxReplicas (so
    spec.replicas, whoever sets it, is only ever a starting point)."""
    autoscaling = spec.autoscaling
    if autoscaling is None:
        return spec.replicas
    decided = status.autoscaler.desired_replicas if status and status.autoscaler else None
    start = decided if decided is not None else spec.replicas
    return min(max(start, autoscaling.min_replicas), autoscaling.max_replicas)


def scale(
    spec: InferenceServiceSpec,
    status: InferenceServiceStatus | None,
    readings: Readings,
    ready_replicas: int,
    now: float,
) -> Decision | None:
    """The decision of one autoscaling round; None without autoscaling."""
    if spec.autoscaling is None:
        return None
    previous = status.autoscaler if status else None
    memory = (
        previous.memory.model_dump(by_alias=True, exclude_none=True) if previous and previous.memory else {}
    )
    observation = readings.observe(replicas_of(spec, status), ready_replicas)
    return decide(spec.autoscaling, observation, AutoscalerState.from_dict(memory), now=now)


def autoscaler_status(
    spec: InferenceServiceSpec, decision: Decision, previous: AutoscalerStatus | None
) -> dict[str, Any]:
    """status.autoscaler after ``decision`` (spec.autoscaling is set)."""
    autoscaling = spec.autoscaling
    assert autoscaling is not None
    scaled_at = decision.state.last_scale_time
    status = AutoscalerStatus(
        metric=autoscaling.metric.value,
        metric_value=decision.metric_value,
        target=autoscaling.target,
        desired_replicas=decision.desired_replicas,
        last_scale_time=rfc3339_at(scaled_at)
        if scaled_at is not None
        else (previous.last_scale_time if previous else None),
        reason=decision.reason,
        message=decision.message,
        burst=decision.burst,
        memory=AutoscalerMemory.model_validate(memory) if (memory := decision.state.to_dict()) else None,
    )
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def metrics_condition(decision: Decision, readings: Readings) -> Metrics:
    reason = InferenceServiceReason(decision.metrics_reason)
    if decision.metrics_available:
        return Metrics(True, reason, decision.metrics_message or "the metric query gives a value")
    return Metrics(False, reason, f"{decision.metrics_message} (query: {readings.query})")


def scale_event(decision: Decision, current: int) -> tuple[InferenceServiceReason, str] | None:
    """The one event of a scale, with its inputs; None when replicas stay."""
    if decision.desired_replicas == current:
        return None
    return InferenceServiceReason(decision.reason), decision.message
