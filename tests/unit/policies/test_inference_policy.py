"""The InferenceService plan (Deployments, Service selector, deletions) and its status assessment."""

from __future__ import annotations

import pytest

from lepton.api import (
    InferenceServicePhase,
    InferenceServiceReason,
    InferenceServiceSpec,
    InferenceServiceStatus,
    ModelVersionPhase,
    RolloutStrategy,
)
from lepton.policies.autoscaling_status import replicas_of
from lepton.policies.inference import (
    DeploymentState,
    Plan,
    assess,
    plan,
)
from lepton.policies.models import Resolution, Unresolved, VersionInfo

CANARY, RECREATE = RolloutStrategy.CANARY, RolloutStrategy.RECREATE


def to(version: str) -> Resolution:
    return Resolution(VersionInfo(f"iris-{version}", "iris", version, ModelVersionPhase.READY))


MISSING = Resolution(None, Unresolved.NOT_FOUND, "no ModelVersion of model 'iris' has version 'v9'")
FAILED = Resolution(None, Unresolved.FAILED, "ModelVersion iris-v1 is Failed: digest mismatch")


def dep(version: str, replicas: int = 2, ready: int | None = None, **kw) -> DeploymentState:
    ready = replicas if ready is None else ready
    return DeploymentState(
        name=f"iris-{version}",
        version=version,
        replicas=replicas,
        current=replicas,
        ready=ready,
        available=ready,
        updated=replicas,
        generation=1,
        observed_generation=1,
        **kw,
    )


@pytest.mark.parametrize(
    ("resolution", "recorded", "deployments", "selects", "strategy", "expected"),
    [
        (to("v1"), None, [], None, CANARY, Plan({"v1": 2}, "v1", (), "v1")),
        (to("v1"), "v1", [dep("v1")], "v1", CANARY, Plan({"v1": 2}, "v1", (), "v1")),
        (to("v2"), "v1", [dep("v1")], "v1", CANARY, Plan({"v2": 2, "v1": 2}, "v1", (), "v1", "v2")),
        (
            to("v2"),
            "v1",
            [dep("v1"), dep("v2", ready=1)],
            "v1",
            CANARY,
            Plan({"v2": 2, "v1": 2}, "v1", (), "v1", "v2"),
        ),
        (to("v2"), "v1", [dep("v1"), dep("v2")], "v1", CANARY, Plan({"v2": 2}, "v2", (), "v2")),
        (to("v2"), "v2", [dep("v1"), dep("v2")], "v1", CANARY, Plan({"v2": 2}, "v2", (), "v2")),
        (to("v2"), "v2", [dep("v1"), dep("v2")], "v2", CANARY, Plan({"v2": 2}, "v2", ("iris-v1",), "v2")),
        (to("v2"), "v1", [dep("v1")], "v1", RECREATE, Plan({"v2": 2}, "v2", ("iris-v1",), "v2")),
        (
            to("v3"),
            "v1",
            [dep("v1"), dep("v2", ready=0)],
            "v1",
            CANARY,
            Plan({"v3": 2, "v1": 2}, "v1", ("iris-v2",), "v1", "v3"),
        ),
        (
            to("v1"),
            "v1",
            [dep("v1"), dep("v2", ready=0)],
            "v1",
            CANARY,
            Plan({"v1": 2}, "v1", ("iris-v2",), "v1"),
        ),
        (MISSING, "v1", [dep("v1")], "v1", CANARY, Plan({"v1": 2}, "v1", (), "v1")),
        (MISSING, None, [], None, CANARY, Plan({}, None, (), None)),
        (FAILED, None, [dep("v0")], None, CANARY, Plan({}, None, ("iris-v0",), None)),
        (to("v2"), None, [dep("v1")], "v1", CANARY, Plan({"v2": 2, "v1": 2}, "v1", (), "v1", "v2")),
        (
            to("v1"),
            "v1",
            [dep("v1"), dep("v2", deleting=True)],
            "v1",
            CANARY,
            Plan({"v1": 2}, "v1", (), "v1"),
        ),
    ],
    ids=[
        "first-deployment",
        "steady",
        "rollover-starts",
        "rollover-waits-for-all-replicas",
        "rollover-switches-when-available",
        "switched-old-kept-until-service-moves",
        "old-deleted-after-switch-observed",
        "recreate-switches-and-deletes-at-once",
        "target-changes-mid-rollover",
        "rollover-abandoned",
        "broken-reference-keeps-current",
        "nothing-to-serve",
        "orphan-deleted",
        "status-lost-service-remembers",
        "deleting-deployment-ignored",
    ],
)
def test_plan(resolution, recorded, deployments, selects, strategy, expected):
    decided = plan(
        replicas=2,
        strategy=strategy,
        resolution=resolution,
        recorded_version=recorded,
        deployments=deployments,
        service_selects=selects,
    )
    assert decided == expected


def test_zero_replicas_switch_at_once():
    decided = plan(
        replicas=0,
        strategy=CANARY,
        resolution=to("v2"),
        recorded_version="v1",
        deployments=[dep("v1", 0), dep("v2", 0)],
        service_selects="v1",
    )
    assert decided.service_version == "v2"


def test_rollover_gate_needs_the_observed_spec_to_match():
    stale = DeploymentState("iris-v2", "v2", replicas=1, current=1, ready=1, available=1, updated=1)
    assert not stale.available_for(2)
    unobserved = DeploymentState(
        "iris-v2", "v2", replicas=2, ready=2, available=2, updated=2, generation=2, observed_generation=1
    )
    assert not unobserved.available_for(2)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": 3}, 3),
        ({"replicas": 0}, 0),
        ({"replicas": 1, "autoscaling": {"minReplicas": 2, "maxReplicas": 5, "target": 10}}, 2),
        ({"replicas": 4, "autoscaling": {"minReplicas": 2, "maxReplicas": 5, "target": 10}}, 4),
        ({"replicas": 9, "autoscaling": {"minReplicas": 2, "maxReplicas": 5, "target": 10}}, 5),
    ],
    ids=["plain", "zero", "below-min", "autoscaler-choice", "above-max"],
)
def test_desired_replicas(spec, expected):
    assert (
        replicas_of(InferenceServiceSpec.model_validate({"model": {"name": "iris"}, **spec}), None)
        == expected
    )


AUTOSCALED = {"replicas": 1, "autoscaling": {"minReplicas": 1, "maxReplicas": 5, "target": 10}}


@pytest.mark.parametrize(
    ("spec", "decided", "expected"),
    [
        (AUTOSCALED, 4, 4),
        (AUTOSCALED, 0, 1),  # minReplicas raised since the decision
        ({**AUTOSCALED, "replicas": 3}, 2, 2),  # `kubectl scale` of spec.replicas does not win
        ({"replicas": 3}, 4, 3),  # autoscaling turned off: spec.replicas again
    ],
    ids=["decision", "min-raised", "spec-replicas-ignored", "autoscaling-off"],
)
def test_the_autoscalers_decision_sets_the_replicas(spec, decided, expected):
    status = InferenceServiceStatus.model_validate({"autoscaler": {"desiredReplicas": decided}})
    assert (
        replicas_of(InferenceServiceSpec.model_validate({"model": {"name": "iris"}, **spec}), status)
        == expected
    )


P = InferenceServicePhase


@pytest.mark.parametrize(
    (
        "resolution",
        "the_plan",
        "deployments",
        "replicas",
        "was_ready",
        "phase",
        "ready",
        "degraded",
        "progressing",
    ),
    [
        (MISSING, Plan(), [], 2, False, P.PENDING, ("False", "ModelVersionNotFound"), "False", "False"),
        (FAILED, Plan(), [], 2, False, P.FAILED, ("False", "ModelVersionFailed"), "False", "False"),
        (
            to("v1"),
            Plan({"v1": 2}, "v1", (), "v1"),
            [],
            2,
            False,
            P.DEPLOYING,
            ("False", "Deploying"),
            "False",
            "False",
        ),
        (
            to("v1"),
            Plan({"v1": 2}, "v1", (), "v1"),
            [dep("v1", ready=1)],
            2,
            False,
            P.DEPLOYING,
            ("True", "ReplicasReady"),
            "False",
            "False",
        ),
        (
            to("v1"),
            Plan({"v1": 2}, "v1", (), "v1"),
            [dep("v1")],
            2,
            False,
            P.READY,
            ("True", "ReplicasReady"),
            "False",
            "False",
        ),
        (
            to("v1"),
            Plan({"v1": 2}, "v1", (), "v1"),
            [dep("v1", ready=1)],
            2,
            True,
            P.DEGRADED,
            ("True", "ReplicasReady"),
            "True",
            "False",
        ),
        (
            to("v1"),
            Plan({"v1": 2}, "v1", (), "v1"),
            [dep("v1", ready=0)],
            2,
            True,
            P.DEGRADED,
            ("False", "ReplicasUnavailable"),
            "True",
            "False",
        ),
        (
            to("v1"),
            Plan({"v1": 0}, "v1", (), "v1"),
            [dep("v1", 0)],
            0,
            True,
            P.SCALED_TO_ZERO,
            ("False", "ScaledToZero"),
            "False",
            "False",
        ),
        (
            MISSING,
            Plan({"v1": 2}, "v1", (), "v1"),
            [dep("v1")],
            2,
            True,
            P.DEGRADED,
            ("True", "ReplicasReady"),
            "True",
            "False",
        ),
        (
            to("v2"),
            Plan({"v2": 2, "v1": 2}, "v1", (), "v1", "v2"),
            [dep("v1"), dep("v2", ready=1)],
            2,
            True,
            P.ROLLING_OUT,
            ("True", "ReplicasReady"),
            "False",
            "True",
        ),
    ],
    ids=[
        "unresolved",
        "pinned-failed",
        "deploying",
        "partly-up-first-time",
        "ready",
        "lost-a-replica",
        "lost-all-replicas",
        "scaled-to-zero",
        "broken-reference-while-serving",
        "rolling-out",
    ],
)
def test_assess(resolution, the_plan, deployments, replicas, was_ready, phase, ready, degraded, progressing):
    result = assess(
        the_plan=the_plan,
        replicas=replicas,
        resolution=resolution,
        deployments=deployments,
        was_ready=was_ready,
    )
    assert result.phase is phase
    assert (str(result.ready.status), result.ready.reason) == ready
    written = {result.ready.reason, result.degraded.reason, result.progressing.reason, result.phase.value}
    assert written <= set(InferenceServiceReason), "a reason written must be one the API documents"
    assert str(result.degraded.status) == degraded
    assert str(result.progressing.status) == progressing
    assert result.replicas == sum(d.current for d in deployments)
    assert result.ready_replicas == sum(d.ready for d in deployments)


def test_messages_say_why():
    result = assess(
        the_plan=Plan({"v1": 2}, "v1", (), "v1"),
        replicas=2,
        resolution=MISSING,
        deployments=[dep("v1")],
        was_ready=True,
    )
    assert (
        result.degraded.message
        == "no ModelVersion of model 'iris' has version 'v9'; still serving version v1"
    )
    rolling = assess(
        the_plan=Plan({"v2": 2, "v1": 2}, "v1", (), "v1", "v2"),
        replicas=2,
        resolution=to("v2"),
        deployments=[dep("v1"), dep("v2", ready=1)],
        was_ready=True,
    )
    assert (
        rolling.progressing.message
        == "rolling out version v2: 1/2 replicas available; version v1 serves until then"
    )
