"""Autoscaling of InferenceServices from Prometheus metrics, with HPA/KEDA-like names and semantics."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from lepton.api.common import LeptonModel, cel, validations

MAX_REPLICAS = 1000


class Metric(StrEnum):
    """What the autoscaler keeps at `target` per replica."""

    RPS = "rps"
    CONCURRENCY = "concurrency"
    LATENCY_P95 = "latencyP95"
    CUSTOM = "custom"


class ScalingPolicyType(StrEnum):
    """Unit of a scaling policy's value (as in HPA)."""

    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    """Which policy wins when several apply (as in HPA)."""

    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


class ScalingPolicy(LeptonModel):
    """A limit on how fast replicas change within a period (as in HPA)."""

    type: ScalingPolicyType
    """Pods (an absolute number of replicas) or Percent (of the current replicas)."""
    value: Annotated[int, Field(ge=1)]
    """How many replicas (Pods) or what percentage (Percent) may be added or removed per period."""
    period_seconds: Annotated[int, Field(ge=1, le=1800)]
    """Length of the period in seconds."""


class ScalingRules(LeptonModel):
    """Behaviour of scaling in one direction (HPA-like)."""

    stabilization_window_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    """Recommendations of the last this-many seconds are considered and the most conservative wins."""
    select_policy: SelectPolicy = SelectPolicy.MAX
    """Which policy applies when several do: Max (the largest change), Min, or Disabled (never scale in
    this direction)."""
    policies: Annotated[list[ScalingPolicy], Field(max_length=8)] | None = None
    """Rate limits; unset means no limit."""


class ScaleToZero(LeptonModel):
    """Scaling to zero replicas when idle."""

    idle_seconds: Annotated[int, Field(ge=30, le=86400)] = 300
    """Seconds without requests after which the service scales to zero replicas."""


_AUTOSCALING_RULES = [
    cel(
        "self.minReplicas <= self.maxReplicas",
        "autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas",
        field_path=".minReplicas",
    ),
    cel(
        "(self.metric == 'custom') == has(self.query)",
        "autoscaling.query is required when autoscaling.metric is custom, and only then",
        field_path=".query",
    ),
    cel(
        "(self.minReplicas == 0) == has(self.scaleToZero)",
        "autoscaling.scaleToZero must be set when autoscaling.minReplicas is 0, and only then",
        field_path=".scaleToZero",
    ),
]


class Autoscaling(LeptonModel):
    """Replica autoscaling from Prometheus metrics (HPA/KEDA-like)."""

    model_config = ConfigDict(json_schema_extra=validations(_AUTOSCALING_RULES))

    min_replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] = 1
    """Fewest replicas; 0 requires scaleToZero."""
    max_replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)]
    """Most replicas."""
    metric: Metric = Metric.RPS
    """Metric kept at target per replica: rps (requests per second), concurrency (requests in flight),
    latencyP95 (95th percentile latency in milliseconds, service-wide) or custom (the PromQL query)."""
    target: Annotated[float, Field(gt=0)]
    """Target value of the metric per replica (latencyP95: milliseconds)."""
    query: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    """PromQL query giving the metric's current total value; required for (and only for) metric: custom."""
    prometheus_url: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://.+$")] | None = None
    """Prometheus server to query; unset uses the operator's default."""
    scale_up: ScalingRules = Field(default_factory=lambda: ScalingRules(stabilization_window_seconds=0))
    """Scale-up behaviour (default: no stabilisation window)."""
    scale_down: ScalingRules = Field(default_factory=lambda: ScalingRules(stabilization_window_seconds=300))
    """Scale-down behaviour (default: a 300 s stabilisation window)."""
    scale_to_zero: ScaleToZero | None = None
    """Scale to zero when idle; requires minReplicas: 0."""

    @model_validator(mode="after")
    def _cross_field(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(_AUTOSCALING_RULES[0].message)
        if (self.metric == Metric.CUSTOM) != (self.query is not None):
            raise ValueError(_AUTOSCALING_RULES[1].message)
        if (self.min_replicas == 0) != (self.scale_to_zero is not None):
            raise ValueError(_AUTOSCALING_RULES[2].message)
        return self
