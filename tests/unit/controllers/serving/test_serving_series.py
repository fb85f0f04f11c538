"""The InferenceService gauges: what a reconcile writes into the status becomes series, and a series
the next reconcile no longer sets (a version deleted, a rollout finished, the service gone) is
removed, not left at its last value. Driven as a table of reconciles of one service."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from lepton.api.rollout import RolloutPhase
from lepton.controllers.serving.series import canary_snapshot, service_snapshot
from lepton.metrics import Metrics
from lepton.policies.inference import DeploymentState, Plan
from lepton.policies.metric_result import Empty, Value
from lepton.policies.rollout_analysis import Check, MetricOutcome, Verdict, judge
from lepton.policies.rollout_state import Measurement, RolloutState, canary_status

NS, NAME = "team", "iris"
P = "lepton_operator_"


def canary(weight: int, phase: RolloutPhase = RolloutPhase.PROGRESSING, **state: Any) -> dict[str, Any]:
    """status.canary of v2's rollout as the reconcile writes it."""
    rollout = RolloutState("v2", phase, start_time=100.0, last_progress_time=100.0, weight=weight, **state)
    written = canary_status(rollout)
    assert written is not None
    return written


def checked(weight: int) -> dict[str, Any]:
    """A rollout whose last check passed the error rate and found no latency series."""
    outcomes: tuple[MetricOutcome, ...] = (
        judge(Check("errorRate", Value(0.01), max=0.05)),
        judge(Check("latencyP95Ms", Empty(), max=250.0)),
    )
    verdict = Verdict(outcomes[1].result, 42.0, outcomes, "")
    return canary(weight, analysis=Measurement(110.0, verdict), passed=2, inconclusive=1)


def reconcile(
    metrics: Metrics,
    phase: str,
    deploy: dict[str, int],
    ready: dict[str, int],
    written_canary: dict[str, Any] | None = None,
    desired: int = 4,
) -> None:
    deployments = [DeploymentState(name=f"{NAME}-{v}", version=v, ready=n) for v, n in ready.items()]
    snapshot = service_snapshot(
        {"phase": phase},
        written_canary,
        desired=desired,
        decided=Plan(deploy=deploy),
        deployments=deployments,
    )
    metrics.inference_service(NS, NAME, snapshot)


def series(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every inferenceservice/canary sample: (name, sorted labels without namespace/service) -> value."""
    out = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name.startswith((f"{P}inferenceservice_", f"{P}canary_")):
                assert (s.labels["namespace"], s.labels["service"]) == (NS, NAME), s
                labels = tuple(
                    sorted((k, v) for k, v in s.labels.items() if k not in ("namespace", "service"))
                )
                out[(s.name.removeprefix(P), labels)] = s.value
    return out


def v(version: str) -> tuple[tuple[str, str], ...]:
    return (("version", version),)


STEADY = {
    ("inferenceservice_desired_replicas", ()): 4,
    ("inferenceservice_phase", (("phase", "Ready"),)): 1,
    ("inferenceservice_version_replicas", v("v1")): 4,
    ("inferenceservice_ready_replicas", v("v1")): 4,
}


def test_a_ready_service_has_its_replicas_and_phase_and_no_canary_series() -> None:
    metrics = Metrics(CollectorRegistry())
    reconcile(metrics, "Ready", {"v1": 4}, {"v1": 4})
    assert series(metrics.registry) == STEADY


def test_a_canary_step_shows_the_weight_phase_checks_and_analysis_values_of_the_status() -> None:
    metrics = Metrics(CollectorRegistry())
    written = checked(25)
    reconcile(metrics, "RollingOut", {"v1": 3, "v2": 1}, {"v1": 4, "v2": 1}, written)
    got = series(metrics.registry)
    assert got[("canary_weight", v("v2"))] == written["weight"] == 25
    assert got[("canary_phase", (("phase", "Progressing"), ("version", "v2")))] == 1
    checks = {dict(k[1])["result"]: val for k, val in got.items() if k[0] == "canary_checks"}
    assert checks == {"Pass": 2, "Fail": 0, "Inconclusive": 1, "Error": 0}
    assert got[("canary_analysis_result", (("result", "Inconclusive"), ("version", "v2")))] == 1
    values = {dict(k[1])["metric"]: val for k, val in got.items() if k[0] == "canary_analysis_value"}
    # latencyP95Ms had no data: no value series, never a 0 that reads as a fast canary.
    assert values == {"requests": 42.0, "errorRate": 0.01}
    bounds = {(dict(k[1])["metric"], dict(k[1])["bound"]): val for k, val in got.items()
              if k[0] == "canary_analysis_threshold"}  # fmt: skip
    assert bounds == {("errorRate", "max"): 0.05, ("latencyP95Ms", "max"): 250.0}
    assert got[("inferenceservice_version_replicas", v("v1"))] == 3
    assert got[("inferenceservice_version_replicas", v("v2"))] == 1


# (case, [(phase, deploy, ready, canary) per reconcile], the series left after the last)
SEQUENCES = [
    (
        "promoted: the canary's series and the old version's go",
        [
            ("RollingOut", {"v1": 3, "v2": 1}, {"v1": 3, "v2": 1}, checked(25)),
            ("RollingOut", {"v1": 0, "v2": 4}, {"v1": 3, "v2": 4}, canary(100, RolloutPhase.PROMOTING)),
            ("Ready", {"v2": 4}, {"v2": 4}, None),
        ],
        {
            ("inferenceservice_desired_replicas", ()): 4,
            ("inferenceservice_phase", (("phase", "Ready"),)): 1,
            ("inferenceservice_version_replicas", v("v2")): 4,
            ("inferenceservice_ready_replicas", v("v2")): 4,
        },
    ),
    (
        "rolled back: weight 0 and the new phase, the old phase's series gone",
        [
            ("RollingOut", {"v1": 3, "v2": 1}, {"v1": 3, "v2": 1}, canary(25)),
            ("Degraded", {"v1": 4}, {"v1": 4}, canary(0, RolloutPhase.ROLLED_BACK, failed=2)),
        ],
        {
            **{k: val for k, val in STEADY.items() if k[0] != "inferenceservice_phase"},
            ("inferenceservice_phase", (("phase", "Degraded"),)): 1,
            ("canary_weight", v("v2")): 0,
            ("canary_phase", (("phase", "RolledBack"), ("version", "v2"))): 1,
            **{
                ("canary_checks", (("result", r), ("version", "v2"))): n
                for r, n in {"Pass": 0, "Fail": 2, "Inconclusive": 0, "Error": 0}.items()
            },
        },
    ),
]


@pytest.mark.parametrize(("case", "rounds", "left"), SEQUENCES, ids=[c[0] for c in SEQUENCES])
def test_series_follow_the_last_reconcile(case, rounds, left) -> None:
    metrics = Metrics(CollectorRegistry())
    for phase, deploy, ready, written in rounds:
        reconcile(metrics, phase, deploy, ready, written)
    assert series(metrics.registry) == left, case


def test_a_deleted_service_leaves_no_series_and_others_keep_theirs() -> None:
    metrics = Metrics(CollectorRegistry())
    reconcile(metrics, "RollingOut", {"v1": 3, "v2": 1}, {"v1": 3, "v2": 1}, checked(25))
    metrics.inference_service(NS, "other", service_snapshot(
        {"phase": "Ready"}, None, desired=1, decided=Plan(deploy={"v1": 1}), deployments=[]
    ))  # fmt: skip
    metrics.inference_service(NS, NAME, None)
    left = {
        s.labels["service"]
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name.startswith(f"{P}inferenceservice_") or s.name.startswith(f"{P}canary_")
    }
    assert left == {"other"}


def test_autoscaled_desired_replicas_are_the_decision_not_the_deployments_sum() -> None:
    """With Gateway API the stable version keeps the total and the canary runs its share on top."""
    metrics = Metrics(CollectorRegistry())
    reconcile(metrics, "RollingOut", {"v1": 6, "v2": 2}, {"v1": 6}, canary(25), desired=6)
    got = series(metrics.registry)
    assert got[("inferenceservice_desired_replicas", ())] == 6
    assert sum(val for k, val in got.items() if k[0] == "inferenceservice_version_replicas") == 8


def test_a_status_without_a_rollout_phase_has_no_canary() -> None:
    assert canary_snapshot(None) is None
    assert canary_snapshot({"version": "v2", "weight": 10}) is None
