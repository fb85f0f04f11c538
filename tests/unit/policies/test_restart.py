"""Restart decisions and backoff, keyed by scenario."""

from __future__ import annotations

import pytest

from lepton.policies.restart import Action, Backoff, RestartPolicy, WorkerFailure, decide

ON_FAILURE, NEVER, EXIT_CODE = RestartPolicy.ON_FAILURE, RestartPolicy.NEVER, RestartPolicy.EXIT_CODE
BACKOFF = Backoff(base_seconds=10, cap_seconds=60)

CASES = [
    # (scenario, policy, failures, backoffLimit, counted restarts, expected action, counts, reason)
    (
        "OnFailure retries an application error",
        ON_FAILURE,
        [WorkerFailure(1, 1)],
        3,
        0,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
    (
        "OnFailure stops at backoffLimit",
        ON_FAILURE,
        [WorkerFailure(1, 1)],
        3,
        3,
        Action.FAIL,
        False,
        "BackoffLimitExceeded",
    ),
    (
        "backoffLimit 0 fails at once",
        ON_FAILURE,
        [WorkerFailure(0, 2)],
        0,
        0,
        Action.FAIL,
        False,
        "BackoffLimitExceeded",
    ),
    (
        "Never fails at the first failure",
        NEVER,
        [WorkerFailure(0, 137)],
        3,
        0,
        Action.FAIL,
        False,
        "WorkerFailed",
    ),
    (
        "Never fails even on node loss",
        NEVER,
        [WorkerFailure(0, None, "NodeLost", True)],
        3,
        0,
        Action.FAIL,
        False,
        "WorkerFailed",
    ),
    ("ExitCode: 1 is permanent", EXIT_CODE, [WorkerFailure(2, 1)], 3, 0, Action.FAIL, False, "WorkerFailed"),
    (
        "ExitCode: 127 is permanent",
        EXIT_CODE,
        [WorkerFailure(2, 127)],
        3,
        0,
        Action.FAIL,
        False,
        "WorkerFailed",
    ),
    (
        "ExitCode: 128 is retryable",
        EXIT_CODE,
        [WorkerFailure(2, 128)],
        3,
        0,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
    (
        "ExitCode: 137 (SIGKILL) is retryable",
        EXIT_CODE,
        [WorkerFailure(0, 137)],
        3,
        1,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
    (
        "ExitCode: 255 is retryable",
        EXIT_CODE,
        [WorkerFailure(0, 255)],
        3,
        0,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
    (
        "ExitCode: an evicted pod is retryable",
        EXIT_CODE,
        [WorkerFailure(1, None, "Evicted")],
        3,
        0,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
    (
        "ExitCode: failures of unknown time, a signal among them: retried",
        EXIT_CODE,
        [WorkerFailure(0, 137), WorkerFailure(1, 3)],
        3,
        0,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
    (
        "ExitCode: peers exiting 1 after an OOM kill: the kill decides",
        EXIT_CODE,
        [WorkerFailure(0, 1, finished_at=104.0), WorkerFailure(1, 137, finished_at=100.0)],
        3,
        0,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
    (
        "ExitCode: a crash first, peers killed after: the crash decides",
        EXIT_CODE,
        [WorkerFailure(0, 1, finished_at=100.0), WorkerFailure(1, 143, finished_at=102.0)],
        3,
        0,
        Action.FAIL,
        False,
        "WorkerFailed",
    ),
    (
        "ExitCode: a crash and a kill in the same second: retried",
        EXIT_CODE,
        [WorkerFailure(0, 3, finished_at=100.0), WorkerFailure(1, 137, finished_at=100.9)],
        3,
        0,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
    (
        "ExitCode: every cause permanent fails",
        EXIT_CODE,
        [WorkerFailure(0, 2, finished_at=100.0), WorkerFailure(1, 1, finished_at=100.0)],
        3,
        0,
        Action.FAIL,
        False,
        "WorkerFailed",
    ),
    (
        "ExitCode: a lost pod is a cause whenever it went",
        EXIT_CODE,
        [WorkerFailure(0, 1, finished_at=100.0), WorkerFailure(1, None, "Evicted")],
        3,
        0,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
    (
        "Never: fails even when a signal came first",
        NEVER,
        [WorkerFailure(0, 137, finished_at=100.0), WorkerFailure(1, 1, finished_at=103.0)],
        3,
        0,
        Action.FAIL,
        False,
        "WorkerFailed",
    ),
    (
        "node loss does not count",
        EXIT_CODE,
        [WorkerFailure(1, None, "NodeNotReady", True)],
        3,
        0,
        Action.RESTART,
        False,
        "NodeLost",
    ),
    (
        "node loss restarts even past backoffLimit",
        ON_FAILURE,
        [WorkerFailure(1, None, "NodeNotReady", True)],
        2,
        2,
        Action.RESTART,
        False,
        "NodeLost",
    ),
    (
        "node loss plus a crash counts",
        ON_FAILURE,
        [WorkerFailure(0, None, "NodeNotReady", True), WorkerFailure(1, 1)],
        3,
        0,
        Action.RESTART,
        True,
        "WorkerFailed",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_decide(case):
    scenario, policy, failures, limit, counted, action, counts, reason = case
    verdict = decide(
        policy=policy, failures=failures, backoff_limit=limit, counted_restarts=counted, backoff=BACKOFF
    )
    assert verdict is not None, scenario
    assert (verdict.action, verdict.counts, verdict.reason) == (action, counts, reason), verdict.message


def test_no_failures_no_verdict():
    assert (
        decide(policy=ON_FAILURE, failures=[], backoff_limit=3, counted_restarts=0, backoff=BACKOFF) is None
    )


def test_permanent_failure_message_names_worker_code_and_policy():
    verdict = decide(
        policy=EXIT_CODE, failures=[WorkerFailure(3, 2)], backoff_limit=3, counted_restarts=0, backoff=BACKOFF
    )
    assert verdict is not None
    assert (
        verdict.message == "worker 3 exited with code 2 (Error); not retryable under restartPolicy ExitCode"
    )


@pytest.mark.parametrize(
    ("counted", "delay"),
    [(0, 10), (1, 20), (2, 40), (3, 60), (50, 60)],
    ids=["first", "second", "third", "capped", "huge"],
)
def test_exponential_backoff_with_cap(counted, delay):
    verdict = decide(
        policy=ON_FAILURE,
        failures=[WorkerFailure(0, 1)],
        backoff_limit=100,
        counted_restarts=counted,
        backoff=BACKOFF,
    )
    assert verdict is not None
    assert verdict.delay_seconds == delay


ELASTIC_CASES = [
    ("lost worker replaced while min run", [WorkerFailure(3, None, "Deleted")], 3, Action.REPLACE),
    ("too few left: whole group restarts", [WorkerFailure(3, None, "Deleted")], 1, Action.RESTART),
]


@pytest.mark.parametrize("case", ELASTIC_CASES, ids=[c[0] for c in ELASTIC_CASES])
def test_elastic(case):
    _, failures, running, action = case
    verdict = decide(
        policy=ON_FAILURE,
        failures=failures,
        backoff_limit=3,
        counted_restarts=0,
        backoff=BACKOFF,
        elastic_min_replicas=2,
        running_workers=running,
    )
    assert verdict is not None
    assert verdict.action is action
    if action is Action.REPLACE:
        assert verdict.replace == (3,)
