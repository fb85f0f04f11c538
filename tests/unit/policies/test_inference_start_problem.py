"""Where a model-server pod's start problem goes in an InferenceService's status, by scenario: the
assessment without it in, the phase and the Ready and Degraded conditions out."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lepton.api import InferenceServicePhase, InferenceServiceReason
from lepton.policies.inference import Assessment, ConditionValue, with_start_problem
from lepton.policies.pod_start import Finding, StartProblem

P, R = InferenceServicePhase, InferenceServiceReason
FOUND = Finding(StartProblem.TOKEN_SECRET_MISSING, "Secret api-token ... not found", "s-v1-abc")
NO_ROLLOUT = ConditionValue(False, R.NO_ROLLOUT, "no rollout in progress")


def assessment(phase: P, ready: ConditionValue, degraded: ConditionValue) -> Assessment:
    return Assessment(phase, ready, degraded, NO_ROLLOUT, 1, 0)


DEPLOYING = assessment(
    P.DEPLOYING,
    ConditionValue(False, R.DEPLOYING, "0/1 replicas of version v1 ready"),
    ConditionValue(False, R.REPLICAS_READY, "0/1 replicas of version v1 ready"),
)
WAS_READY = assessment(
    P.DEGRADED,
    ConditionValue(False, R.REPLICAS_UNAVAILABLE, "0/1 ready"),
    ConditionValue(True, R.REPLICAS_UNAVAILABLE, "0/1 ready"),
)
SERVING = assessment(
    P.READY,
    ConditionValue(True, R.REPLICAS_READY, "2/2 ready"),
    ConditionValue(False, R.REPLICAS_READY, "2/2 ready"),
)
ROLLED_BACK = assessment(
    P.DEGRADED,
    ConditionValue(True, R.REPLICAS_READY, "2/2 ready"),
    ConditionValue(True, R.ROLLED_BACK, "version v2 rolled back"),
)
FAILED = assessment(
    P.FAILED,
    ConditionValue(False, R.CONFIG_ERROR, "refused"),
    ConditionValue(False, R.REPLICAS_READY, ""),
)


@dataclass
class Case:
    scenario: str
    before: Assessment
    phase: P
    ready: R
    degraded: R | None  # None: Degraded is False


CASES = [
    Case("deploying, nothing ready: Ready says why", DEPLOYING, P.DEPLOYING, R.TOKEN_SECRET_MISSING, None),
    Case(
        "was ready, none ready now: Ready and Degraded say why",
        WAS_READY,
        P.DEGRADED,
        R.TOKEN_SECRET_MISSING,
        R.TOKEN_SECRET_MISSING,
    ),
    Case(
        "serving, one more pod cannot start (a scale-up, a new template): Degraded says why",
        SERVING,
        P.DEGRADED,
        R.REPLICAS_READY,
        R.TOKEN_SECRET_MISSING,
    ),
    Case("a rollback says more: kept", ROLLED_BACK, P.DEGRADED, R.REPLICAS_READY, R.ROLLED_BACK),
    Case("failed for another reason: kept", FAILED, P.FAILED, R.CONFIG_ERROR, None),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.scenario)
def test_where_a_start_problem_is_reported(case: Case) -> None:
    after = with_start_problem(case.before, FOUND)
    assert after.phase is case.phase
    assert after.ready.reason is case.ready
    assert after.degraded.status is (case.degraded is not None)
    if case.degraded is not None:
        assert after.degraded.reason is case.degraded
    if R.TOKEN_SECRET_MISSING in (after.ready.reason, after.degraded.reason):
        assert FOUND.message in (after.ready.message, after.degraded.message)


def test_nothing_found_changes_nothing() -> None:
    assert with_start_problem(DEPLOYING, None) == DEPLOYING
