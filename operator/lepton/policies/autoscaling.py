"""The autoscaler's decision: from spec.autoscaling, the observed replicas, the classified metric
results, the previous state and the clock to a replica count, a new state and a reason.

Semantics are HPA v2's (kubernetes.io "Horizontal Pod Autoscaling", algorithm details and
configurable scaling behavior), applied to one service-level metric:

- AverageValue (rps, concurrency, queueDepth, custom by default): the query gives the service's
  total and desired = ceil(total / target), as HPA does for External/Object AverageValue metrics.
  A total does not depend on which pods are ready, so not-ready pods need no correction.
- Value (latencyP95, gpuUtilization, custom Value): desired = ceil(value / target x ready), as HPA
  does for Object/External Value metrics. Not-ready (starting) pods are treated as HPA treats pods
  without metrics: as using nothing when scaling up (only ready pods count) and as exactly at target
  when scaling down (each keeps its place), and the result never goes against the metric's
  direction. No ready pod: hold.
- No scaling while |value/target - 1| <= tolerance (HPA's ratio for AverageValue is
  total / (target x current)).
- Stabilisation: the recommendation is the current replicas moved no further than the lowest
  recommendation of the scaleUp window and the highest of the scaleDown window (HPA's
  stabilizeRecommendationWithBehaviors); Pods/Percent policies limit the change per period counted
  from the replicas at the period's start, selectPolicy Max/Min/Disabled choosing among them.

Beyond HPA:

- Burst mode (Knative's panic mode): when the burst-window value (6 s) asks for at least twice the
  current replicas, follow the larger of the burst and stable recommendations and never scale down,
  until the stable window (60 s) has passed without a new trigger. The scaleUp window does not
  delay a burst; the scaleUp policies still limit it.
- No-data safety: Empty, NotFinite or Error never lowers replicas (only min/maxReplicas, which are
  spec, move them). After failureThreshold such results in a row, hold max(current,
  fallbackReplicas), at zero replicas too. At zero replicas an Empty result is expected (no pod, no
  series) and is not a failure.
- Scale to zero only on evidence: the request count over scaleToZero.idleSeconds is exactly
  Value(0), not Empty nor Error, no requests are still in flight by an AverageValue metric, and
  idleSeconds have passed since the last scale. It bypasses stabilisation and policies: idleSeconds
  of silence is the stabilisation.

The state assumes the desired replicas get applied: a controller that fails to write them keeps the
previous state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from lepton.api.autoscaling import (
    MAX_REPLICAS,
    Autoscaling,
    ScalingPolicyType,
    ScalingRules,
    SelectPolicy,
    TargetType,
)
from lepton.policies.autoscaling_state import AutoscalerState
from lepton.policies.metric_result import Empty, Error, MetricResult, NotFinite, Value, describe

BURST_WINDOW_SECONDS = 6.0
STABLE_WINDOW_SECONDS = 60.0
BURST_THRESHOLD = 2


@dataclass(frozen=True)
class Observation:
    """What the controller saw this round."""

    current_replicas: int
    ready_replicas: int
    metric: MetricResult
    """The metric over the stable window."""
    burst: MetricResult | None = None
    """The metric over the burst window (None: not queried)."""
    idle_requests: MetricResult | None = None
    """Requests answered over scaleToZero.idleSeconds (None: not queried)."""


@dataclass(frozen=True)
class Readings:
    """What the controller read from Prometheus this round; the replicas come from the cluster."""

    metric: MetricResult
    burst: MetricResult | None = None
    idle_requests: MetricResult | None = None
    query: str = ""
    """The metric's PromQL, for the message when it fails."""

    def observe(self, current_replicas: int, ready_replicas: int) -> Observation:
        return Observation(current_replicas, ready_replicas, self.metric, self.burst, self.idle_requests)


@dataclass(frozen=True)
class Decision:
    desired_replicas: int
    reason: str
    """ScaledUp, ScaledDown, ScaledToZero, Steady, MetricsUnavailable or FallbackReplicas."""
    message: str
    metrics_available: bool
    """Status of a MetricsAvailable condition."""
    metrics_reason: str
    """ValidMetricFound, NoSeries, NotFinite, QueryFailed or ScaledToZero."""
    metrics_message: str
    metric_value: float | None
    """Per replica for AverageValue metrics, the level for Value metrics (status.autoscaler)."""
    burst: bool
    state: AutoscalerState


def decide(spec: Autoscaling, observed: Observation, state: AutoscalerState, *, now: float) -> Decision:
    """The replicas to run now and why. Pure: same inputs, same decision."""
    up, down = spec.rules()
    state = _pruned(state, now, up, down)
    current = observed.current_replicas
    available = _availability(observed.metric, current)
    if _idle(spec, observed, state, now):
        idle_for = spec.scale_to_zero.idle_seconds if spec.scale_to_zero else 0
        message = f"no requests in {idle_for}s: {current} -> 0"
        new = replace(state, failures=0, burst_since=None, burst_max=0)
        return _decision(new, current, 0, "ScaledToZero", message, available, None, False, now)
    if not isinstance(observed.metric, Value):
        return _no_data(spec, observed, state, available, now)
    return _on_value(spec, observed, observed.metric.value, state, (up, down), available, now)


def _on_value(
    spec: Autoscaling,
    observed: Observation,
    value: float,
    state: AutoscalerState,
    rules: tuple[ScalingRules, ScalingRules],
    available: tuple[bool, str, str],
    now: float,
) -> Decision:
    up, down = rules
    current, ready = observed.current_replicas, observed.ready_replicas
    kind = spec.effective_target_type
    raw, why = _recommend(kind, value, spec.target, current, ready, spec.tolerance)
    per_replica = value / current if kind is TargetType.AVERAGE_VALUE and current > 0 else value
    unit = " per replica" if kind is TargetType.AVERAGE_VALUE else ""
    notes = [why] if why else []

    burst_since, burst_max, burst_raw = state.burst_since, state.burst_max, 0
    if isinstance(observed.burst, Value) and current > 0:
        burst_raw, _ = _recommend(kind, observed.burst.value, spec.target, current, ready, 0.0)
        if burst_raw >= BURST_THRESHOLD * current:
            burst_since = now  # entering, or staying: the stable window counts from the last trigger
    if burst_since is not None and now - burst_since >= STABLE_WINDOW_SECONDS:
        burst_since, burst_max = None, 0

    recommendations = (*state.recommendations, (now, raw))
    stabilized = _stabilize(recommendations, current, raw, now, up, down)
    if stabilized != raw:
        notes.append(f"stabilized from {raw}")
    in_burst = burst_since is not None
    if in_burst:
        stabilized = max(stabilized, burst_raw, burst_max, current)
        burst_max = stabilized
        notes.append("burst mode")

    # Going to zero needs evidence (_idle); staying there needs only the absence of demand.
    floor = spec.min_replicas if current == 0 else max(spec.min_replicas, 1)
    limited = _limit(stabilized, current, state.scale_events, up, down, now)
    if limited != stabilized:
        direction, rule = ("scaleUp", up) if stabilized > current else ("scaleDown", down)
        disabled = rule.select_policy is SelectPolicy.DISABLED
        notes.append(f"{direction} disabled" if disabled else f"rate-limited from {stabilized}")
    desired = min(max(limited, floor), spec.max_replicas)
    if desired != limited:
        notes.append("clamped to minReplicas" if desired > limited else "clamped to maxReplicas")

    new = replace(
        state, recommendations=recommendations, failures=0, burst_since=burst_since, burst_max=burst_max
    )
    reason = "Steady" if desired == current else "ScaledUp" if desired > current else "ScaledDown"
    message = f"{spec.metric} {per_replica:g}{unit} (target {spec.target:g}): {current} -> {desired}"
    if notes:
        message += f" ({', '.join(notes)})"
    return _decision(new, current, desired, reason, message, available, per_replica, in_burst, now)


def _recommend(
    kind: TargetType, value: float, target: float, current: int, ready: int, tol: float
) -> tuple[int, str | None]:
    """HPA's raw recommendation for one service-level metric (before windows and policies), and why
    it is the current count when it is."""
    if current == 0:
        # Scaled to zero: any demand wakes the service; a level cannot be scaled from zero pods.
        if value <= 0:
            return 0, None
        return (max(1, math.ceil(value / target)) if kind is TargetType.AVERAGE_VALUE else 1), None
    if kind is TargetType.AVERAGE_VALUE:
        if abs(value / (target * current) - 1) <= tol:
            return current, "within tolerance"
        return math.ceil(value / target), None
    ratio = value / target
    if abs(ratio - 1) <= tol:
        return current, "within tolerance"
    if ready == 0:
        return current, "no ready replica to measure"
    if ratio > 1:
        return max(math.ceil(ratio * ready), current), None
    return min(math.ceil(ratio * ready + (current - ready)), current), None


def _stabilize(
    recommendations: tuple[tuple[float, int], ...],
    current: int,
    raw: int,
    now: float,
    up: ScalingRules,
    down: ScalingRules,
) -> int:
    up_cutoff = now - (up.stabilization_window_seconds or 0)
    down_cutoff = now - (down.stabilization_window_seconds or 0)
    up_rec = min([raw, *(n for t, n in recommendations if t > up_cutoff)])
    down_rec = max([raw, *(n for t, n in recommendations if t > down_cutoff)])
    return min(max(current, up_rec), down_rec)


def _limit(
    stabilized: int,
    current: int,
    events: tuple[tuple[float, int], ...],
    up: ScalingRules,
    down: ScalingRules,
    now: float,
) -> int:
    """HPA's normalizeDesiredReplicasWithBehaviors, without the min/max clamp."""
    if stabilized > current:
        return min(stabilized, max(_policy_limit(current, events, up, now, up=True), current))
    if stabilized < current:
        return max(stabilized, min(_policy_limit(current, events, down, now, up=False), current))
    return current


def _policy_limit(
    current: int, events: tuple[tuple[float, int], ...], rules: ScalingRules, now: float, *, up: bool
) -> int:
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    proposals: list[int] = []
    for policy in rules.policies or []:
        added = sum(c for t, c in events if c > 0 and t > now - policy.period_seconds)
        removed = -sum(c for t, c in events if c < 0 and t > now - policy.period_seconds)
        start = current - added + removed
        if policy.type is ScalingPolicyType.PODS:
            proposals.append(start + policy.value if up else start - policy.value)
        elif up:  # rounded up, or a small service could never grow by a percentage
            proposals.append(math.ceil(start * (1 + policy.value / 100)))
        else:
            proposals.append(int(start * (1 - policy.value / 100)))
    if not proposals:
        return MAX_REPLICAS if up else 0
    # "Max" selects the policy allowing the largest change, "Min" the smallest.
    largest_change = rules.select_policy is not SelectPolicy.MIN
    return max(proposals) if largest_change == up else min(proposals)


def _no_data(
    spec: Autoscaling,
    observed: Observation,
    state: AutoscalerState,
    available: tuple[bool, str, str],
    now: float,
) -> Decision:
    current = observed.current_replicas
    in_range = min(max(current, spec.min_replicas), spec.max_replicas)  # the spec's range, not data
    if current == 0 and isinstance(observed.metric, Empty):
        reason = "Steady" if in_range == 0 else "ScaledUp"
        message = f"no series while no replica serves: 0 -> {in_range}"
        return _decision(
            replace(state, failures=0), 0, in_range, reason, message, available, None, False, now
        )
    failures = state.failures + 1
    what = f"{describe(observed.metric)}, {failures} in a row (failureThreshold {spec.failure_threshold})"
    new = replace(state, failures=failures)
    burst = state.burst_since is not None
    fallback = spec.fallback_replicas
    if failures >= spec.failure_threshold and fallback is not None:
        desired = max(in_range, fallback)
        message = f"{what}, at least fallbackReplicas {fallback}: {current} -> {desired}"
        return _decision(new, current, desired, "FallbackReplicas", message, available, None, burst, now)
    message = f"{what}: {current} -> {in_range}"
    return _decision(new, current, in_range, "MetricsUnavailable", message, available, None, burst, now)


def _idle(spec: Autoscaling, observed: Observation, state: AutoscalerState, now: float) -> bool:
    if spec.scale_to_zero is None or spec.min_replicas > 0 or observed.current_replicas == 0:
        return False
    if observed.idle_requests != Value(0.0):
        return False
    since = state.last_scale_time
    if since is not None and now - since < spec.scale_to_zero.idle_seconds:
        return False  # the count may cover time before the replicas existed
    # An AverageValue metric above zero means requests still in flight (not yet counted as answered).
    metric = observed.metric
    if spec.effective_target_type is TargetType.AVERAGE_VALUE and isinstance(metric, Value):
        return metric.value <= 0
    return True


def _availability(result: MetricResult, current: int) -> tuple[bool, str, str]:
    match result:
        case Value():
            return True, "ValidMetricFound", ""
        case Empty(reason) if current == 0:
            return True, "ScaledToZero", f"{reason}, as expected with no replica"
        case Empty(reason):
            return False, "NoSeries", reason
        case NotFinite():
            return False, "NotFinite", describe(result)
        case Error(message):
            return False, "QueryFailed", message
    raise AssertionError(result)


def _decision(
    state: AutoscalerState,
    current: int,
    desired: int,
    reason: str,
    message: str,
    available: tuple[bool, str, str],
    value: float | None,
    burst: bool,
    now: float,
) -> Decision:
    if desired != current:
        state = replace(
            state, scale_events=(*state.scale_events, (now, desired - current)), last_scale_time=now
        )
    ok, metrics_reason, metrics_message = available
    return Decision(desired, reason, message, ok, metrics_reason, metrics_message, value, burst, state)


def _pruned(state: AutoscalerState, now: float, up: ScalingRules, down: ScalingRules) -> AutoscalerState:
    window = max(up.stabilization_window_seconds or 0, down.stabilization_window_seconds or 0)
    period = max((p.period_seconds for p in (*(up.policies or []), *(down.policies or []))), default=0)
    return replace(
        state,
        recommendations=tuple((t, n) for t, n in state.recommendations if t > now - window),
        scale_events=tuple((t, c) for t, c in state.scale_events if t > now - period),
    )
