"""The autoscaler's decision, keyed by scenario: HPA v2's documented behaviours (tolerance,
stabilisation windows, Pods/Percent policies, selectPolicy, not-ready replicas), then fake-clock
timelines and the state's round trip. Burst mode, no-data safety and scale to zero are in
test_autoscaling_safety.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from autoscaling_kit import DOWN_PODS_2, LATENCY, NOW, SPEC, Case, decision, seen, spec, state

from lepton.api.autoscaling import Autoscaling
from lepton.policies.autoscaling import Observation, decide
from lepton.policies.autoscaling_state import AutoscalerState
from lepton.policies.metric_result import Value

CASES = [
    Case(
        "AverageValue: ceil(total / target), limited by the default scaleUp policies (100% or 4 pods / 15s)",
        SPEC,
        seen(4, Value(100.0)),
        state(),
        decision(
            8,
            "ScaledUp",
            "rps 25 per replica (target 10): 4 -> 8 (rate-limited from 10)",
            state(recommendations=((NOW, 10),), scale_events=((NOW, 4),), last_scale_time=NOW),
            25.0,
        ),
    ),
    Case(
        "within tolerance (|ratio - 1| <= 0.1) holds",
        SPEC,
        seen(4, Value(43.0)),
        state(),
        decision(
            4,
            "Steady",
            "rps 10.75 per replica (target 10): 4 -> 4 (within tolerance)",
            state(recommendations=((NOW, 4),)),
            10.75,
        ),
    ),
    Case(
        "just beyond tolerance scales",
        SPEC,
        seen(4, Value(45.0)),
        state(),
        decision(
            5,
            "ScaledUp",
            "rps 11.25 per replica (target 10): 4 -> 5",
            state(recommendations=((NOW, 5),), scale_events=((NOW, 1),), last_scale_time=NOW),
            11.25,
        ),
    ),
    Case(
        "scale down is held by the highest recommendation in the scaleDown window",
        SPEC,
        seen(8, Value(40.0)),
        state(recommendations=((NOW - 100, 8),)),
        decision(
            8,
            "Steady",
            "rps 5 per replica (target 10): 8 -> 8 (stabilized from 4)",
            state(recommendations=((NOW - 100, 8), (NOW, 4))),
            5.0,
        ),
    ),
    Case(
        "scale down goes to the highest recommendation still in the 300s window",
        SPEC,
        seen(8, Value(40.0)),
        state(recommendations=((NOW - 301, 8), (NOW - 200, 6))),
        decision(
            6,
            "ScaledDown",
            "rps 5 per replica (target 10): 8 -> 6 (stabilized from 4)",
            state(recommendations=((NOW - 200, 6), (NOW, 4)), scale_events=((NOW, -2),), last_scale_time=NOW),
            5.0,
        ),
    ),
    Case(
        "a scaleDown Pods policy limits the step",
        DOWN_PODS_2,
        seen(8, Value(20.0)),
        state(),
        decision(
            6,
            "ScaledDown",
            "rps 2.5 per replica (target 10): 8 -> 6 (rate-limited from 2)",
            state(recommendations=((NOW, 2),), scale_events=((NOW, -2),), last_scale_time=NOW),
            2.5,
        ),
    ),
    Case(
        "a policy period counts the changes already made in it",
        DOWN_PODS_2,
        seen(6, Value(15.0)),
        state(scale_events=((NOW - 30, -2),), last_scale_time=NOW - 30),
        decision(
            6,
            "Steady",
            "rps 2.5 per replica (target 10): 6 -> 6 (rate-limited from 2)",
            state(recommendations=((NOW, 2),), scale_events=((NOW - 30, -2),), last_scale_time=NOW - 30),
            2.5,
        ),
    ),
    Case(
        "selectPolicy Max takes the policy allowing the larger change",
        spec(maxReplicas=50),
        seen(10, Value(300.0)),
        state(),
        decision(
            20,
            "ScaledUp",
            "rps 30 per replica (target 10): 10 -> 20 (rate-limited from 30)",
            state(recommendations=((NOW, 30),), scale_events=((NOW, 10),), last_scale_time=NOW),
            30.0,
        ),
    ),
    Case(
        "selectPolicy Min takes the policy allowing the smaller change",
        spec(maxReplicas=50, behavior={"scaleUp": {"selectPolicy": "Min"}}),
        seen(10, Value(300.0)),
        state(),
        decision(
            14,
            "ScaledUp",
            "rps 30 per replica (target 10): 10 -> 14 (rate-limited from 30)",
            state(recommendations=((NOW, 30),), scale_events=((NOW, 4),), last_scale_time=NOW),
            30.0,
        ),
    ),
    Case(
        "selectPolicy Disabled never scales in that direction",
        spec(behavior={"scaleDown": {"selectPolicy": "Disabled"}}),
        seen(8, Value(20.0)),
        state(),
        decision(
            8,
            "Steady",
            "rps 2.5 per replica (target 10): 8 -> 8 (scaleDown disabled)",
            state(recommendations=((NOW, 2),)),
            2.5,
        ),
    ),
    Case(
        "the deprecated top-level scaleUp still applies",
        spec(maxReplicas=50, scaleUp={"selectPolicy": "Disabled"}),
        seen(10, Value(300.0)),
        state(),
        decision(
            10,
            "Steady",
            "rps 30 per replica (target 10): 10 -> 10 (scaleUp disabled)",
            state(recommendations=((NOW, 30),)),
            30.0,
        ),
    ),
    Case(
        "a scaleUp window takes the lowest recommendation in it",
        spec(behavior={"scaleUp": {"stabilizationWindowSeconds": 60}}),
        seen(4, Value(100.0)),
        state(recommendations=((NOW - 30, 5),)),
        decision(
            5,
            "ScaledUp",
            "rps 25 per replica (target 10): 4 -> 5 (stabilized from 10)",
            state(recommendations=((NOW - 30, 5), (NOW, 10)), scale_events=((NOW, 1),), last_scale_time=NOW),
            25.0,
        ),
    ),
    Case(
        "maxReplicas clamps after the policies",
        spec(maxReplicas=5),
        seen(4, Value(100.0)),
        state(),
        decision(
            5,
            "ScaledUp",
            "rps 25 per replica (target 10): 4 -> 5 (rate-limited from 10, clamped to maxReplicas)",
            state(recommendations=((NOW, 10),), scale_events=((NOW, 1),), last_scale_time=NOW),
            25.0,
        ),
    ),
    Case(
        "Value: ceil(value / target x ready)",
        LATENCY,
        seen(4, Value(200.0)),
        state(),
        decision(
            8,
            "ScaledUp",
            "latencyP95 200 (target 100): 4 -> 8",
            state(recommendations=((NOW, 8),), scale_events=((NOW, 4),), last_scale_time=NOW),
            200.0,
        ),
    ),
    Case(
        "Value, scaling up: starting replicas count as zero, and never below current",
        LATENCY,
        seen(6, Value(200.0), ready=2),
        state(),
        decision(
            6, "Steady", "latencyP95 200 (target 100): 6 -> 6", state(recommendations=((NOW, 6),)), 200.0
        ),
    ),
    Case(
        "Value, scaling down: starting replicas count as at target",
        LATENCY,
        seen(6, Value(50.0), ready=4),
        state(),
        decision(
            4,
            "ScaledDown",
            "latencyP95 50 (target 100): 6 -> 4",
            state(recommendations=((NOW, 4),), scale_events=((NOW, -2),), last_scale_time=NOW),
            50.0,
        ),
    ),
    Case(
        "Value without a ready replica holds",
        LATENCY,
        seen(3, Value(500.0), ready=0),
        state(),
        decision(
            3,
            "Steady",
            "latencyP95 500 (target 100): 3 -> 3 (no ready replica to measure)",
            state(recommendations=((NOW, 3),)),
            500.0,
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_decide(case: Case) -> None:
    assert decide(case.spec, case.observed, case.before, now=NOW) == case.expected


def run(spec: Autoscaling, replicas: int, load: dict[float, float], until: float, every: float = 5.0):
    """Feed each decision back as the next round's replicas and state; return (time, replicas) changes.

    `load` maps a start time to the total rps from then on.
    """
    state, changes, t = AutoscalerState(), [], 0.0
    while t <= until:
        rps = load[max(k for k in load if k <= t)]
        result = decide(spec, Observation(replicas, replicas, Value(rps)), state, now=t)
        if result.desired_replicas != replicas:
            changes.append((t, result.desired_replicas))
        replicas, state = result.desired_replicas, result.state
        # Persisting the state in status must not change the next decision.
        assert AutoscalerState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
        t += every
    return changes


def test_scale_up_grows_by_the_larger_of_100_percent_and_4_pods_per_15s():
    changes = run(spec(maxReplicas=100), 1, {0: 1000.0}, until=120)
    assert changes == [(0, 5), (15, 10), (30, 20), (45, 40), (60, 80), (75, 100)]


def test_scale_down_waits_for_the_300s_window_after_the_load_drops():
    changes = run(SPEC, 8, {0: 80.0, 600: 20.0}, until=1200)
    # The last recommendation of 8 was made at 595 and leaves the window at 895.
    assert changes == [(895, 2)]


def test_state_round_trips_through_a_json_dict():
    full = AutoscalerState(
        recommendations=((1.5, 3), (2.5, 4)),
        scale_events=((2.5, 1),),
        failures=2,
        burst_since=2.0,
        burst_max=9,
        last_scale_time=2.5,
    )
    assert AutoscalerState.from_dict(json.loads(json.dumps(full.to_dict()))) == full
    assert AutoscalerState().to_dict() == {}


@pytest.mark.parametrize(
    ("scenario", "stored", "expected"),
    [
        ("nothing stored", None, AutoscalerState()),
        (
            "wrong types are dropped",
            {"recommendations": "x", "failures": "2", "lastScaleTime": "now"},
            AutoscalerState(),
        ),
        (
            "malformed pairs are dropped",
            {"scaleEvents": [[1, 2], ["a", 3], [1], [2, float("nan")]]},
            AutoscalerState(scale_events=((1.0, 2),)),
        ),
        ("burstMax without burstSince is ignored", {"burstMax": 7}, AutoscalerState()),
        ("negative failures read as none", {"failures": -3}, AutoscalerState()),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_state_from_a_malformed_dict(scenario: str, stored: Any, expected: AutoscalerState):
    assert AutoscalerState.from_dict(stored) == expected, scenario
