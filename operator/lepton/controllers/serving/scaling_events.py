"""The events an autoscaling round of the InferenceService reconcile adds: a scale, metrics lost or
recovered, and spec.replicas changed while the autoscaler owns replicas."""

from __future__ import annotations

from lepton.api.common import find_condition
from lepton.api.inferenceservice import (
    InferenceService,
    InferenceServiceConditionType,
    InferenceServiceReason,
)
from lepton.controllers.kit.events import Events
from lepton.policies.autoscaling import Decision
from lepton.policies.autoscaling_status import Metrics, scale_event


def report_scaling(
    isvc: InferenceService, decision: Decision, metrics: Metrics, current: int, events: Events
) -> None:
    if (scaled := scale_event(decision, current)) is not None:
        reason, message = scaled
        (events.warning if reason is InferenceServiceReason.FALLBACK_REPLICAS else events.normal)(
            reason, message
        )
    before = find_condition(
        isvc.status.conditions if isvc.status else None, InferenceServiceConditionType.METRICS_AVAILABLE
    )
    was_available = before is None or before.status == "True"
    if was_available and not metrics.status:
        events.warning(InferenceServiceReason.METRICS_UNAVAILABLE, metrics.message)
    elif not was_available and metrics.status:
        events.normal(InferenceServiceReason.METRICS_RECOVERED, metrics.message)


def report_ignored_replicas(isvc: InferenceService, replicas: int, events: Events) -> None:
    """spec.replicas changed (`kubectl scale`, a manifest) while the autoscaler owns replicas."""
    spec, status = isvc.spec, isvc.status
    changed = status is None or status.observed_generation != isvc.metadata.generation
    if spec.autoscaling is not None and changed and status is not None and spec.replicas != replicas:
        message = (
            f"spec.replicas={spec.replicas} is not used while autoscaling is on: {replicas} replicas run"
        )
        events.normal(InferenceServiceReason.AUTOSCALER_OWNS_REPLICAS, message)
