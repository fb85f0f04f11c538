"""From a rollout decision to the Plan, the per-version Services and the status: make before break
(nothing goes while traffic is observed on it), and a status.canary that the merge patch replaces."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lepton.api.inferenceservice import InferenceServicePhase as P
from lepton.api.inferenceservice import InferenceServiceReason as R
from lepton.api.rollout import RolloutPhase
from lepton.policies.canary_plan import (
    canary_plan,
    replacing,
    rollout_status,
    routed,
    version_services,
    with_rollout,
)
from lepton.policies.inference import Assessment, ConditionValue, DeploymentState
from lepton.policies.rollout_state import FailedRecord, RolloutState
from lepton.policies.rollout_traffic import Decision

STATE = RolloutState("v2", RolloutPhase.PROGRESSING, 0.0, 0.0, step=0, weight=25)
QUIET = ConditionValue(False, R.NO_ROLLOUT, "no rollout in progress")


def decision(
    state: RolloutState | None = STATE,
    weights: dict[str, int] | None = None,
    replicas: dict[str, int] | None = None,
    stable: str = "v1",
    mirror: tuple[str, int] | None = None,
    degraded: ConditionValue | None = None,
) -> Decision:
    return Decision(
        state=state,
        failed=(),
        stable=stable,
        weights={"v1": 75, "v2": 25} if weights is None else weights,
        replicas={"v1": 3, "v2": 1} if replicas is None else replicas,
        mirror=mirror,
        events=(),
        progressing=ConditionValue(True, R.CANARY_STEP, "version v2: step 1/2"),
        degraded=degraded,
        analyze_at=None,
        requeue_after=None,
    )


def live(*versions: str) -> list[DeploymentState]:
    return [DeploymentState(name=f"iris-{v}", version=v, modelversion_uid=f"uid-{v}") for v in versions]


@pytest.mark.parametrize(
    ("case", "made", "selects", "route", "gateway", "deploy", "delete", "shared", "rolling"),
    [
        # A step without Gateway API: both versions behind the stable Service.
        ("ratio step", decision(), "v1", None, False, {"v1": 3, "v2": 1}, (), True, "v2"),
        # With Gateway API the stable Service keeps selecting the stable version.
        ("gateway step", decision(), "v1", {"v1": 75, "v2": 25}, True, {"v1": 3, "v2": 1}, (), False, "v2"),
        # Promoted without Gateway API: the shared Service selected both, v1 may go with the switch.
        ("promoted, ratio", decision(None, {"v2": 100}, {"v2": 4}, "v2"), None, None, False,
         {"v2": 4}, ("iris-v1",), False, None),
        # Promoted with Gateway API: the stable Service still selects v1: v1 stays until it moved.
        ("promoted, Service not moved", decision(None, {"v2": 100}, {"v2": 4}, "v2"), "v1",
         {"v2": 100}, True, {"v2": 4}, (), False, None),
        # ... and while the observed route still sends to it.
        ("promoted, route not moved", decision(None, {"v2": 100}, {"v2": 4}, "v2"), "v2",
         {"v1": 50, "v2": 50}, True, {"v2": 4}, (), False, None),
        ("promoted, all moved", decision(None, {"v2": 100}, {"v2": 4}, "v2"), "v2", {"v2": 100}, True,
         {"v2": 4}, ("iris-v1",), False, None),
        # Rolled back: the new version is scaled to 0, kept (not deleted), no shared Service.
        ("rolled back", decision(replace(STATE, phase=RolloutPhase.ROLLED_BACK), {"v1": 100},
         {"v2": 0, "v1": 4}), "v1", None, False, {"v2": 0, "v1": 4}, (), False, None),
        # A version at 0 that has no Deployment is not created at 0.
        ("retired, never made", decision(None, {"v1": 100}, {"v3": 0, "v1": 4}), "v1", None, False,
         {"v1": 4}, (), False, None),
    ],
)  # fmt: skip
def test_canary_plan(case, made, selects, route, gateway, deploy, delete, shared, rolling):
    versions = ("v1", "v2") if case != "retired, never made" else ("v1",)
    plan = canary_plan(
        made,
        deployments=live(*versions),
        service_selects=selects,
        route_weights=route,
        sources={"v1": "uid-v1", "v2": "uid-v2"},
        gateway=gateway,
    )
    assert (plan.deploy, plan.delete, plan.shared_service, plan.rolling_to) == (
        deploy,
        delete,
        shared,
        rolling,
    )
    assert plan.service_version == plan.current_version == made.stable
    assert set(plan.sources) == set(deploy)


def test_version_services_stay_while_the_route_sends_to_them():
    wanted = routed(decision(None, {"v2": 100}, {"v2": 4}, "v2"))
    assert wanted == {"v2"}
    held = version_services(wanted, ["v1", "v2"], {"v1": 50, "v2": 50})
    assert (held.apply, held.delete) == (("v2",), ())
    gone = version_services(wanted, ["v1", "v2"], {"v2": 100})
    assert (gone.apply, gone.delete) == (("v2",), ("v1",))
    # The mirror's version needs its Service even at weight 0 (a shadow step).
    assert routed(decision(weights={"v1": 100, "v2": 0}, replicas={"v1": 4}, mirror=("v2", 10))) == {
        "v1",
        "v2",
    }


def test_a_rolled_back_rollout_makes_the_service_degraded():
    ready = ConditionValue(True, R.REPLICAS_READY, "4/4")
    base = Assessment(P.READY, ready, ConditionValue(False, R.REPLICAS_READY, "4/4"), QUIET, 4, 4)
    back = ConditionValue(True, R.ROLLED_BACK, "version v2 RolledBack")
    assessed = with_rollout(base, decision(degraded=back))
    assert (assessed.phase, assessed.degraded, assessed.progressing.reason) == (
        P.DEGRADED,
        back,
        R.CANARY_STEP,
    )
    assert with_rollout(base, decision()).phase is P.READY


def test_status_canary_is_replaced_not_merged():
    previous = {
        "canary": {"version": "v2", "stepStartTime": "2026-01-01T00:00:00Z", "analysis": {"requests": 3}}
    }
    state = replace(STATE, analysis=None, step_start_time=None)
    status = rollout_status(
        replace(decision(state), failed=(FailedRecord("v0", "AnalysisFailed", 0.0),)), previous
    )
    assert status["canary"]["stepStartTime"] is None  # deleted by the merge patch
    assert status["canary"]["analysis"] is None
    assert status["canary"]["version"] == "v2"
    assert status["traffic"] == [{"version": "v1", "weight": 75}, {"version": "v2", "weight": 25}]
    assert [f["version"] for f in status["failedVersions"]] == ["v0"]
    assert rollout_status(decision(None, {}, {}), previous)["canary"] is None


@pytest.mark.parametrize(
    ("current", "desired", "patch"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, {"a": 1, "b": None}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}}, {"a": {"x": 1, "y": None}}),
        ({"a": [1, 2]}, {"a": [1]}, {"a": [1]}),  # lists are replaced whole by a merge patch
        (None, {"a": 1}, {"a": 1}),
        ({"a": 1}, None, None),
    ],
)
def test_replacing(current, desired, patch):
    assert replacing(current, desired) == patch
