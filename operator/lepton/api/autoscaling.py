"""Autoscaling of InferenceServices from Prometheus metrics, with HPA/KEDA-like names and semantics.

Rate limits and stabilisation live under `behavior.scaleUp` / `behavior.scaleDown`, as in HPA v2
(autoscaling/v2 HorizontalPodAutoscalerBehavior). The top-level `scaleUp` / `scaleDown` of earlier
manifests are still read (deprecated); setting both spellings for one direction is rejected.
Unset fields of a direction take HPA v2's defaults (see `DEFAULT_SCALE_UP`, `DEFAULT_SCALE_DOWN`),
applied by `Autoscaling.rules()` rather than written into the object, so that a manifest using the
old spelling is not also given a `behavior` by the API server's defaulting.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from lepton.api.common import DnsLabel, LeptonModel, cel, validations

MAX_REPLICAS = 1000


class Metric(StrEnum):
    """What the autoscaler keeps at `target`."""

    RPS = "rps"
    CONCURRENCY = "concurrency"
    LATENCY_P95 = "latencyP95"
    QUEUE_DEPTH = "queueDepth"
    GPU_UTILIZATION = "gpuUtilization"
    CUSTOM = "custom"


class TargetType(StrEnum):
    """How `target` is compared with the metric (as in HPA v2's MetricTarget)."""

    AVERAGE_VALUE = "AverageValue"
    VALUE = "Value"


# Built-in metrics and how their target reads: totals are kept at `target` per replica
# (AverageValue); latency and GPU utilisation are service-wide levels kept at `target` (Value).
BUILTIN_TARGET_TYPES = {
    Metric.RPS: TargetType.AVERAGE_VALUE,
    Metric.CONCURRENCY: TargetType.AVERAGE_VALUE,
    Metric.QUEUE_DEPTH: TargetType.AVERAGE_VALUE,
    Metric.LATENCY_P95: TargetType.VALUE,
    Metric.GPU_UTILIZATION: TargetType.VALUE,
}


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
    """Pods (an absolute number of replicas) or Percent (of the replicas at the start of the period)."""
    value: Annotated[int, Field(ge=1)]
    """How many replicas (Pods) or what percentage (Percent) may be added or removed per period."""
    period_seconds: Annotated[int, Field(ge=1, le=1800)]
    """Length of the period in seconds."""


class ScalingRules(LeptonModel):
    """Behaviour of scaling in one direction (HPA v2 HPAScalingRules); unset fields take HPA's
    defaults for the direction."""

    stabilization_window_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    """Recommendations of the last this-many seconds are considered and the most conservative wins
    (default: 0 for scaleUp, 300 for scaleDown)."""
    select_policy: SelectPolicy | None = None
    """Which policy applies when several do: Max (the largest change, the default), Min, or Disabled
    (never scale in this direction)."""
    policies: Annotated[list[ScalingPolicy], Field(min_length=1, max_length=8)] | None = None
    """Rate limits (default scaleUp: 100 % or 4 Pods per 15 s, whichever is more; scaleDown: 100 % per
    15 s)."""


class Behavior(LeptonModel):
    """Scaling behaviour per direction, as HPA v2's spec.behavior."""

    scale_up: ScalingRules | None = None
    """Scale-up rules (default: no stabilisation window, at most max(100 %, 4 Pods) more per 15 s)."""
    scale_down: ScalingRules | None = None
    """Scale-down rules (default: a 300 s stabilisation window, at most 100 % fewer per 15 s)."""


DEFAULT_SCALE_UP = ScalingRules(
    stabilization_window_seconds=0,
    select_policy=SelectPolicy.MAX,
    policies=[
        ScalingPolicy(type=ScalingPolicyType.PERCENT, value=100, period_seconds=15),
        ScalingPolicy(type=ScalingPolicyType.PODS, value=4, period_seconds=15),
    ],
)
DEFAULT_SCALE_DOWN = ScalingRules(
    stabilization_window_seconds=300,
    select_policy=SelectPolicy.MAX,
    policies=[ScalingPolicy(type=ScalingPolicyType.PERCENT, value=100, period_seconds=15)],
)


class ScaleToZero(LeptonModel):
    """Scaling to zero replicas when idle."""

    idle_seconds: Annotated[int, Field(ge=30, le=86400)] = 300
    """Seconds in which the service must have answered exactly zero requests (as Prometheus counts
    them) before it scales to zero replicas."""


class KeyRef(LeptonModel):
    """A key of a Secret or ConfigMap in the service's namespace."""

    name: DnsLabel
    """Name of the Secret or ConfigMap."""
    key: Annotated[str, StringConstraints(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    """Key within it."""


_CA_RULES = [
    cel(
        "has(self.configMap) != has(self.secret)",
        "prometheusAuth.ca must set exactly one of configMap and secret",
    ),
]


class CaBundleRef(LeptonModel):
    """Where the PEM CA bundle that verifies Prometheus's TLS certificate is."""

    model_config = ConfigDict(json_schema_extra=validations(_CA_RULES))

    config_map: KeyRef | None = None
    """A ConfigMap key holding the PEM bundle."""
    secret: KeyRef | None = None
    """A Secret key holding the PEM bundle."""

    @model_validator(mode="after")
    def _one(self) -> CaBundleRef:
        if (self.config_map is None) == (self.secret is None):
            raise ValueError(_CA_RULES[0].message)
        return self


class PrometheusAuth(LeptonModel):
    """Credentials for Prometheus (as KEDA's TriggerAuthentication for its prometheus scaler)."""

    bearer_token_secret: KeyRef | None = None
    """A Secret key holding a bearer token sent as `Authorization: Bearer <token>`."""
    ca: CaBundleRef | None = None
    """CA bundle for an https prometheusUrl; unset uses the operator's trust store."""


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
    cel(
        "!has(self.targetType) || self.metric == 'custom'",
        "autoscaling.targetType applies to metric custom only (built-in metrics have a fixed type)",
        field_path=".targetType",
    ),
    cel(
        "!has(self.fallbackReplicas) || "
        "(self.fallbackReplicas >= self.minReplicas && self.fallbackReplicas <= self.maxReplicas)",
        "autoscaling.fallbackReplicas must be within autoscaling.minReplicas..maxReplicas",
        field_path=".fallbackReplicas",
    ),
    cel(
        "!has(self.scaleUp) || !has(self.behavior) || !has(self.behavior.scaleUp)",
        "autoscaling.scaleUp is the deprecated spelling of autoscaling.behavior.scaleUp: set only one",
        field_path=".scaleUp",
    ),
    cel(
        "!has(self.scaleDown) || !has(self.behavior) || !has(self.behavior.scaleDown)",
        "autoscaling.scaleDown is the deprecated spelling of autoscaling.behavior.scaleDown: set only one",
        field_path=".scaleDown",
    ),
    cel(
        "!has(self.prometheusAuth) || !has(self.prometheusAuth.ca) || !has(self.prometheusUrl) || "
        "self.prometheusUrl.startsWith('https://')",
        "autoscaling.prometheusAuth.ca needs an https:// autoscaling.prometheusUrl",
        field_path=".prometheusAuth.ca",
    ),
]


class Autoscaling(LeptonModel):
    """Replica autoscaling from Prometheus metrics (HPA v2 / KEDA-like)."""

    model_config = ConfigDict(json_schema_extra=validations(_AUTOSCALING_RULES))

    min_replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] = 1
    """Fewest replicas; 0 requires scaleToZero."""
    max_replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)]
    """Most replicas."""
    metric: Metric = Metric.RPS
    """Metric kept at target: rps (requests per second per replica), concurrency (requests in flight
    per replica), queueDepth (requests waiting for a batch per replica), latencyP95 (service-wide 95th
    percentile latency in milliseconds), gpuUtilization (mean DCGM GPU utilisation of the service's
    pods, in percent) or custom (the PromQL `query`)."""
    target: Annotated[float, Field(gt=0)]
    """Target value of the metric: per replica for rps, concurrency, queueDepth and custom with
    AverageValue; the level itself for latencyP95 (ms), gpuUtilization (%) and custom with Value."""
    query: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    """PromQL query for metric custom, returning one series or a scalar. {{namespace}}, {{service}} and
    {{version}} are replaced by the service's namespace, name and serving version (escaped for use in
    a double-quoted label value)."""
    target_type: TargetType | None = None
    """For metric custom: AverageValue (the query gives a total, kept at target per replica; the
    default) or Value (the query gives a level kept at target: replicas grow in proportion)."""
    tolerance: Annotated[float, Field(ge=0, le=1)] = 0.1
    """No scaling while the metric is within this fraction of the target (HPA's tolerance)."""
    poll_seconds: Annotated[int, Field(ge=1, le=300)] = 5
    """Seconds between two evaluations."""
    failure_threshold: Annotated[int, Field(ge=1, le=100)] = 3
    """Consecutive evaluations without a usable metric after which fallbackReplicas applies."""
    fallback_replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] | None = None
    """Replicas to hold at least (never fewer than the current ones) once failureThreshold evaluations
    in a row had no usable metric; unset keeps the current replicas."""
    behavior: Behavior | None = None
    """Stabilisation windows and rate limits per direction (HPA v2 behavior)."""
    scale_up: ScalingRules | None = None
    """Deprecated: use behavior.scaleUp."""
    scale_down: ScalingRules | None = None
    """Deprecated: use behavior.scaleDown."""
    scale_to_zero: ScaleToZero | None = None
    """Scale to zero when idle; requires minReplicas: 0."""
    prometheus_url: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://.+$")] | None = None
    """Prometheus server to query; unset uses the operator's default."""
    prometheus_auth: PrometheusAuth | None = None
    """Bearer token and CA bundle for prometheusUrl."""

    @model_validator(mode="after")
    def _cross_field(self) -> Autoscaling:
        failed = [rule.message for rule, ok in zip(_AUTOSCALING_RULES, self._checks(), strict=True) if not ok]
        if failed:
            raise ValueError("; ".join(failed))
        return self

    def _checks(self) -> list[bool]:
        # Mirrors _AUTOSCALING_RULES one for one, so that Python and the API server agree.
        behavior = self.behavior or Behavior()
        auth = self.prometheus_auth
        fallback = self.fallback_replicas
        return [
            self.min_replicas <= self.max_replicas,
            (self.metric == Metric.CUSTOM) == (self.query is not None),
            (self.min_replicas == 0) == (self.scale_to_zero is not None),
            self.target_type is None or self.metric == Metric.CUSTOM,
            fallback is None or self.min_replicas <= fallback <= self.max_replicas,
            self.scale_up is None or behavior.scale_up is None,
            self.scale_down is None or behavior.scale_down is None,
            auth is None
            or auth.ca is None
            or self.prometheus_url is None
            or self.prometheus_url.startswith("https://"),
        ]

    @property
    def effective_target_type(self) -> TargetType:
        """How `target` reads for this metric."""
        if self.metric == Metric.CUSTOM:
            return self.target_type or TargetType.AVERAGE_VALUE
        return BUILTIN_TARGET_TYPES[self.metric]

    def rules(self) -> tuple[ScalingRules, ScalingRules]:
        """(scale-up, scale-down) rules with every field set: behavior, else the deprecated top-level
        spelling, each unset field filled from HPA v2's defaults for its direction."""
        behavior = self.behavior or Behavior()
        up = behavior.scale_up or self.scale_up or ScalingRules()
        down = behavior.scale_down or self.scale_down or ScalingRules()
        return _filled(up, DEFAULT_SCALE_UP), _filled(down, DEFAULT_SCALE_DOWN)


def _filled(rules: ScalingRules, default: ScalingRules) -> ScalingRules:
    return ScalingRules(
        stabilization_window_seconds=(
            rules.stabilization_window_seconds
            if rules.stabilization_window_seconds is not None
            else default.stabilization_window_seconds
        ),
        select_policy=rules.select_policy or default.select_policy,
        policies=rules.policies or default.policies,
    )
