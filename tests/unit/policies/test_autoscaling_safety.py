"""The autoscaler's decision beyond HPA, keyed by scenario: no-data safety and fallback, scale to
zero only on evidence, and burst mode (Knative's panic mode)."""

from __future__ import annotations

import pytest
from autoscaling_kit import NOW, SPEC, ZERO, Case, decision, seen, spec, state

from lepton.policies.autoscaling import decide
from lepton.policies.metric_result import Empty, Error, NotFinite, Value

CASES = [
    Case(
        "Empty holds and counts a failure",
        SPEC,
        seen(4, Empty()),
        state(),
        decision(
            4,
            "MetricsUnavailable",
            "no data (the query returned no series), 1 in a row (failureThreshold 3): 4 -> 4",
            state(failures=1),
            metrics=(False, "NoSeries", "the query returned no series"),
        ),
    ),
    Case(
        "NaN never lowers replicas, whatever the history",
        SPEC,
        seen(4, NotFinite("NaN")),
        state(recommendations=((NOW - 10, 1),)),
        decision(
            4,
            "MetricsUnavailable",
            "not a finite number (NaN), 1 in a row (failureThreshold 3): 4 -> 4",
            state(recommendations=((NOW - 10, 1),), failures=1),
            metrics=(False, "NotFinite", "not a finite number (NaN)"),
        ),
    ),
    Case(
        "below failureThreshold there is no fallback",
        spec(fallbackReplicas=6),
        seen(4, Error("refused")),
        state(failures=1),
        decision(
            4,
            "MetricsUnavailable",
            "query failed: refused, 2 in a row (failureThreshold 3): 4 -> 4",
            state(failures=2),
            metrics=(False, "QueryFailed", "refused"),
        ),
    ),
    Case(
        "failureThreshold failures in a row hold fallbackReplicas",
        spec(fallbackReplicas=6),
        seen(4, Error("refused")),
        state(failures=2),
        decision(
            6,
            "FallbackReplicas",
            "query failed: refused, 3 in a row (failureThreshold 3), at least fallbackReplicas 6: 4 -> 6",
            state(failures=3, scale_events=((NOW, 2),), last_scale_time=NOW),
            metrics=(False, "QueryFailed", "refused"),
        ),
    ),
    Case(
        "fallback never lowers replicas",
        spec(fallbackReplicas=6),
        seen(8, Error("refused")),
        state(failures=5),
        decision(
            8,
            "FallbackReplicas",
            "query failed: refused, 6 in a row (failureThreshold 3), at least fallbackReplicas 6: 8 -> 8",
            state(failures=6),
            metrics=(False, "QueryFailed", "refused"),
        ),
    ),
    Case(
        "fallback applies at zero replicas too",
        spec(minReplicas=0, scaleToZero={}, fallbackReplicas=2),
        seen(0, Error("HTTP 503")),
        state(failures=2),
        decision(
            2,
            "FallbackReplicas",
            "query failed: HTTP 503, 3 in a row (failureThreshold 3), at least fallbackReplicas 2: 0 -> 2",
            state(failures=3, scale_events=((NOW, 2),), last_scale_time=NOW),
            metrics=(False, "QueryFailed", "HTTP 503"),
        ),
    ),
    Case(
        "replicas above maxReplicas come down without data: the range is spec, not data",
        SPEC,
        seen(25, Error("boom")),
        state(),
        decision(
            20,
            "MetricsUnavailable",
            "query failed: boom, 1 in a row (failureThreshold 3): 25 -> 20",
            state(failures=1, scale_events=((NOW, -5),), last_scale_time=NOW),
            metrics=(False, "QueryFailed", "boom"),
        ),
    ),
    Case(
        "Empty at zero replicas is expected (no pod, no series), not a failure",
        ZERO,
        seen(0, Empty()),
        state(failures=2),
        decision(
            0,
            "Steady",
            "no series while no replica serves: 0 -> 0",
            state(),
            metrics=(True, "ScaledToZero", "the query returned no series, as expected with no replica"),
        ),
    ),
    Case(
        "demand at zero replicas wakes the service",
        ZERO,
        seen(0, Value(3.0)),
        state(),
        decision(
            1,
            "ScaledUp",
            "rps 3 per replica (target 10): 0 -> 1",
            state(recommendations=((NOW, 1),), scale_events=((NOW, 1),), last_scale_time=NOW),
            3.0,
        ),
    ),
    Case(
        "no demand at zero replicas stays at zero",
        ZERO,
        seen(0, Value(0.0)),
        state(),
        decision(
            0, "Steady", "rps 0 per replica (target 10): 0 -> 0", state(recommendations=((NOW, 0),)), 0.0
        ),
    ),
    Case(
        "exactly zero requests over idleSeconds scales to zero",
        ZERO,
        seen(2, Value(0.0), idle_requests=Value(0.0)),
        state(),
        decision(
            0,
            "ScaledToZero",
            "no requests in 300s: 2 -> 0",
            state(scale_events=((NOW, -2),), last_scale_time=NOW),
        ),
    ),
    Case(
        "an empty request count is no evidence: one replica stays",
        ZERO,
        seen(2, Value(0.0), idle_requests=Empty()),
        state(),
        decision(
            1,
            "ScaledDown",
            "rps 0 per replica (target 10): 2 -> 1 (clamped to minReplicas)",
            state(recommendations=((NOW, 0),), scale_events=((NOW, -1),), last_scale_time=NOW),
            0.0,
        ),
    ),
    Case(
        "a failed request count is no evidence",
        ZERO,
        seen(2, Error("timeout"), idle_requests=Error("timeout")),
        state(),
        decision(
            2,
            "MetricsUnavailable",
            "query failed: timeout, 1 in a row (failureThreshold 3): 2 -> 2",
            state(failures=1),
            metrics=(False, "QueryFailed", "timeout"),
        ),
    ),
    Case(
        "no scale to zero within idleSeconds of the last scale",
        ZERO,
        seen(1, Value(0.0), idle_requests=Value(0.0)),
        state(last_scale_time=NOW - 100),
        decision(
            1,
            "Steady",
            "rps 0 per replica (target 10): 1 -> 1 (clamped to minReplicas)",
            state(recommendations=((NOW, 0),), last_scale_time=NOW - 100),
            0.0,
        ),
    ),
    Case(
        "no scale to zero while requests are in flight",
        spec(minReplicas=0, scaleToZero={}, metric="concurrency"),
        seen(1, Value(1.0), idle_requests=Value(0.0)),
        state(),
        decision(
            1,
            "Steady",
            "concurrency 1 per replica (target 10): 1 -> 1",
            state(recommendations=((NOW, 1),)),
            1.0,
        ),
    ),
    Case(
        "burst: the burst window asking for 2x the replicas enters burst mode",
        SPEC,
        seen(4, Value(50.0), burst=Value(100.0)),
        state(),
        decision(
            8,
            "ScaledUp",
            "rps 12.5 per replica (target 10): 4 -> 8 (burst mode, rate-limited from 10)",
            state(
                recommendations=((NOW, 5),),
                scale_events=((NOW, 4),),
                burst_since=NOW,
                burst_max=10,
                last_scale_time=NOW,
            ),
            12.5,
            burst=True,
        ),
    ),
    Case(
        "burst: exactly 2x enters burst mode",
        SPEC,
        seen(4, Value(50.0), burst=Value(80.0)),
        state(),
        decision(
            8,
            "ScaledUp",
            "rps 12.5 per replica (target 10): 4 -> 8 (burst mode)",
            state(
                recommendations=((NOW, 5),),
                scale_events=((NOW, 4),),
                burst_since=NOW,
                burst_max=8,
                last_scale_time=NOW,
            ),
            12.5,
            burst=True,
        ),
    ),
    Case(
        "burst: less than 2x is no burst",
        SPEC,
        seen(4, Value(50.0), burst=Value(70.0)),
        state(),
        decision(
            5,
            "ScaledUp",
            "rps 12.5 per replica (target 10): 4 -> 5",
            state(recommendations=((NOW, 5),), scale_events=((NOW, 1),), last_scale_time=NOW),
            12.5,
        ),
    ),
    Case(
        "burst: an empty burst window is no burst",
        SPEC,
        seen(4, Value(50.0), burst=Empty()),
        state(),
        decision(
            5,
            "ScaledUp",
            "rps 12.5 per replica (target 10): 4 -> 5",
            state(recommendations=((NOW, 5),), scale_events=((NOW, 1),), last_scale_time=NOW),
            12.5,
        ),
    ),
    Case(
        "burst: no scale down while in burst mode",
        spec(behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}),
        seen(8, Value(20.0), burst=Value(20.0)),
        state(burst_since=NOW - 30, burst_max=8),
        decision(
            8,
            "Steady",
            "rps 2.5 per replica (target 10): 8 -> 8 (burst mode)",
            state(recommendations=((NOW, 2),), burst_since=NOW - 30, burst_max=8),
            2.5,
            burst=True,
        ),
    ),
    Case(
        "burst: a new trigger extends burst mode and raises its floor",
        SPEC,
        seen(8, Value(80.0), burst=Value(200.0)),
        state(burst_since=NOW - 50, burst_max=8),
        decision(
            16,
            "ScaledUp",
            "rps 10 per replica (target 10): 8 -> 16 (within tolerance, burst mode, rate-limited from 20)",
            state(
                recommendations=((NOW, 8),),
                scale_events=((NOW, 8),),
                burst_since=NOW,
                burst_max=20,
                last_scale_time=NOW,
            ),
            10.0,
            burst=True,
        ),
    ),
    Case(
        "burst: left after the stable window (60s) without a new trigger",
        spec(behavior={"scaleDown": {"stabilizationWindowSeconds": 0}}),
        seen(8, Value(20.0), burst=Value(20.0)),
        state(burst_since=NOW - 60, burst_max=8),
        decision(
            2,
            "ScaledDown",
            "rps 2.5 per replica (target 10): 8 -> 2",
            state(recommendations=((NOW, 2),), scale_events=((NOW, -6),), last_scale_time=NOW),
            2.5,
        ),
    ),
    Case(
        "burst: no data keeps burst mode and replicas",
        SPEC,
        seen(8, Empty(), burst=Empty()),
        state(burst_since=NOW - 10, burst_max=8),
        decision(
            8,
            "MetricsUnavailable",
            "no data (the query returned no series), 1 in a row (failureThreshold 3): 8 -> 8",
            state(failures=1, burst_since=NOW - 10, burst_max=8),
            metrics=(False, "NoSeries", "the query returned no series"),
            burst=True,
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_decide(case: Case) -> None:
    assert decide(case.spec, case.observed, case.before, now=NOW) == case.expected
