"""Shared fixtures of the autoscaling decision tests: specs, observations and whole Decisions at a
fixed clock (NOW)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lepton.api.autoscaling import Autoscaling
from lepton.policies.autoscaling import Decision, Observation
from lepton.policies.autoscaling_state import AutoscalerState
from lepton.policies.metric_result import MetricResult

NOW = 10_000.0
OK = (True, "ValidMetricFound", "")


def spec(**fields: Any) -> Autoscaling:
    return Autoscaling.model_validate({"minReplicas": 1, "maxReplicas": 20, "target": 10, **fields})


SPEC = spec()
ZERO = spec(minReplicas=0, scaleToZero={"idleSeconds": 300})
LATENCY = spec(metric="latencyP95", target=100)
DOWN_PODS_2 = spec(
    behavior={
        "scaleDown": {
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}],
        }
    }
)


def seen(current: int, metric: MetricResult, ready: int | None = None, **more: MetricResult) -> Observation:
    return Observation(current, current if ready is None else ready, metric, **more)


def state(**fields: Any) -> AutoscalerState:
    return AutoscalerState(**fields)


def decision(
    desired: int,
    reason: str,
    message: str,
    state: AutoscalerState,
    value: float | None = None,
    metrics: tuple[bool, str, str] = OK,
    burst: bool = False,
) -> Decision:
    return Decision(desired, reason, message, *metrics, value, burst, state)


@dataclass
class Case:
    scenario: str
    spec: Autoscaling
    observed: Observation
    before: AutoscalerState
    expected: Decision
