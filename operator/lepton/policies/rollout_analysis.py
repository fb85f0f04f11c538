"""The verdict of one canary analysis check: from the classified query results (policies.metric_result)
and the thresholds of spec.rollout.analysis to Pass, Fail, Inconclusive or Error, with the values.

The rules, chosen against the anchors' known failures:
- fewer than minRequests requests is Inconclusive whatever the other metrics say: a handful of
  requests proves nothing either way, and no traffic must never promote (flagger#883);
- no series is no data (Inconclusive), never an Error (argo-rollouts#1466) and never a pass;
- a failed query is an Error, which counts neither way (argo-rollouts#4479: errors must not read
  as success); but a metric that definitely fails makes the check Fail even if another query erred:
  a failure is evidence, an error is its absence;
- NaN is no data; +Inf and -Inf are values (a p95 beyond the last histogram bucket is above any
  finite maximum).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lepton.api.rollout import AnalysisResult
from lepton.policies.metric_result import Error, MetricResult, NotFinite, Value, describe

ERROR_RATE = "errorRate"
LATENCY_P95 = "latencyP95Ms"


@dataclass(frozen=True)
class Check:
    """One metric to judge: its query's result and its passing range (inclusive)."""

    name: str
    result: MetricResult
    max: float | None = None
    min: float | None = None


@dataclass(frozen=True)
class MetricOutcome:
    name: str
    result: AnalysisResult
    value: float | None
    max: float | None
    min: float | None
    message: str


@dataclass(frozen=True)
class Verdict:
    result: AnalysisResult
    requests: float | None
    metrics: tuple[MetricOutcome, ...]
    message: str


def _number(result: MetricResult) -> float | None:
    match result:
        case Value(value):
            return value
        case NotFinite(text) if text in ("+Inf", "-Inf"):
            return math.inf if text == "+Inf" else -math.inf
        case _:
            return None


def judge(check: Check) -> MetricOutcome:
    """Pass or Fail against the range, Inconclusive without data, Error when the query failed."""
    if isinstance(check.result, Error):
        return MetricOutcome(
            check.name, AnalysisResult.ERROR, None, check.max, check.min, describe(check.result)
        )
    number = _number(check.result)
    if number is None:
        return MetricOutcome(
            check.name, AnalysisResult.INCONCLUSIVE, None, check.max, check.min, describe(check.result)
        )
    too_high = check.max is not None and number > check.max
    too_low = check.min is not None and number < check.min
    result = AnalysisResult.FAIL if too_high or too_low else AnalysisResult.PASS
    bounds = []
    if check.min is not None:
        bounds.append(f">= {check.min:g}")
    if check.max is not None:
        bounds.append(f"<= {check.max:g}")
    message = f"{check.name} {number:g} (must be {' and '.join(bounds)})"
    finite = number if math.isfinite(number) else None
    return MetricOutcome(check.name, result, finite, check.max, check.min, message)


def verdict(requests: MetricResult, checks: Sequence[Check], min_requests: int) -> Verdict:
    """The verdict of one interval: `requests` is the new version's request count over it."""
    if isinstance(requests, Error):
        return Verdict(AnalysisResult.ERROR, None, (), f"request count: {describe(requests)}")
    # No series: the new version answered nothing in the interval (its counter is created on the
    # first request).
    count = requests.value if isinstance(requests, Value) else 0.0
    if count < min_requests:
        message = f"{count:g} requests in the interval, fewer than minRequests {min_requests}: inconclusive"
        return Verdict(AnalysisResult.INCONCLUSIVE, count, (), message)
    outcomes = tuple(judge(check) for check in checks)
    results = {o.result for o in outcomes}
    order = (AnalysisResult.FAIL, AnalysisResult.ERROR, AnalysisResult.INCONCLUSIVE)
    result = next((r for r in order if r in results), AnalysisResult.PASS)
    shown = [o.message for o in outcomes if o.result == result] if result != AnalysisResult.PASS else []
    detail = "; ".join(shown or [o.message for o in outcomes])
    return Verdict(result, count, outcomes, f"{result.value}: {count:g} requests; {detail}".rstrip("; "))
