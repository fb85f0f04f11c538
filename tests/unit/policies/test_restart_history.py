"""Restart history and per-worker budgets, keyed by scenario: observed failures in, the entries the
plan adds and the per-worker counts out; then the history's bound and its round trip through the
status."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from lifecycle_kit import applied

from lepton.api import TrainingJob
from lepton.api.trainingjob import MAX_RESTART_HISTORY, RestartAction, RestartCause
from lepton.policies.job_status import build_status, job_state
from lepton.policies.lifecycle import JobState, Timing, plan
from lepton.policies.restart import Backoff, RestartPolicy
from lepton.policies.restart_history import Entry, merged
from lepton.policies.status import Phase, PodState

TIMING = Timing(backoff=Backoff(10, 60), success_grace_seconds=30, poll_seconds=5)
NOW = 1000.0
UC, INFRA, PRE, NODE = (
    RestartCause.USER_ERROR,
    RestartCause.INFRASTRUCTURE,
    RestartCause.PREEMPTION,
    RestartCause.NODE_LOSS,
)
RESTART, REPLACE, FAIL = RestartAction.RESTART, RestartAction.REPLACE, RestartAction.FAIL


def pod(i: int, phase: str = "Running", **kw: object) -> PodState:
    return PodState(name=f"j-worker-{i}", index=i, attempt=2, phase=phase, node=f"gpu-{i}", ready=True, **kw)  # type: ignore[arg-type]


def failed(i: int, code: int | None, at: float = 990.0, reason: str = "Error") -> PodState:
    return pod(i, "Failed", exit_code=code, finished_at=at, reason=reason)


JOB = JobState(replicas=3, phase=Phase.RUNNING, start_time=900.0, reason="AllWorkersRunning", restart_count=2)


@dataclass
class Case:
    scenario: str
    pods: list[PodState]
    phase: Phase
    # (worker, cause, action, exit code, charged) of each entry the plan adds
    entries: list[tuple[int, RestartCause, RestartAction, int | None, bool]]
    worker_restarts: dict[int, int] = field(default_factory=dict)
    job: JobState = JOB
    lost_nodes: frozenset[str] = frozenset()
    reason: str | None = None


CASES = [
    Case(
        "an application error under OnFailure is the user's, and charged to its worker",
        [failed(1, 1), pod(0), pod(2)],
        Phase.RESTARTING,
        [(1, UC, RESTART, 1, True)],
        {1: 1},
    ),
    Case(
        "peers failing in their collectives a while later are not listed",
        [failed(1, 137, 990.0, "OOMKilled"), failed(0, 1, 995.0), failed(2, 1, 995.0)],
        Phase.RESTARTING,
        [(1, INFRA, RESTART, 137, True)],
        {1: 1},
    ),
    Case(
        "SIGTERM is a preemption",
        [failed(2, 143), pod(0), pod(1)],
        Phase.RESTARTING,
        [(2, PRE, RESTART, 143, True)],
        {2: 1},
    ),
    Case(
        "the agent's own failure is infrastructure",
        [failed(0, 200), pod(1), pod(2)],
        Phase.RESTARTING,
        [(0, INFRA, RESTART, 200, True)],
        {0: 1},
    ),
    Case(
        "an evicted pod is a preemption",
        [pod(0), pod(1, "Failed", reason="Evicted"), pod(2)],
        Phase.RESTARTING,
        [(1, PRE, RESTART, None, True)],
        {1: 1},
    ),
    Case(
        "node loss is listed, never charged",
        [pod(0), pod(1), pod(2)],
        Phase.RESTARTING,
        [(1, NODE, RESTART, None, False)],
        {},
        lost_nodes=frozenset({"gpu-1"}),
    ),
    Case(
        "two workers failing together are both charged",
        [failed(0, 139), failed(2, 139), pod(1)],
        Phase.RESTARTING,
        [(0, INFRA, RESTART, 139, True), (2, INFRA, RESTART, 139, True)],
        {0: 1, 2: 1},
    ),
    Case(
        "earlier charges add up",
        [failed(1, 1), pod(0), pod(2)],
        Phase.RESTARTING,
        [(1, UC, RESTART, 1, True)],
        {1: 2, 0: 1},
        job=replace(JOB, worker_restarts={1: 1, 0: 1}),
    ),
    Case(
        "a worker at maxRestartsPerWorker fails the job, though backoffLimit has room",
        [failed(1, 1), pod(0), pod(2)],
        Phase.FAILED,
        [(1, UC, FAIL, 1, False)],
        {1: 2},
        job=replace(JOB, max_restarts_per_worker=2, worker_restarts={1: 2}, backoff_limit=10),
        reason="WorkerRestartLimitExceeded",
    ),
    Case(
        "another worker's charges do not use up this one's budget",
        [failed(0, 1), pod(1), pod(2)],
        Phase.RESTARTING,
        [(0, UC, RESTART, 1, True)],
        {1: 2, 0: 1},
        job=replace(JOB, max_restarts_per_worker=2, worker_restarts={1: 2}, backoff_limit=10),
    ),
    Case(
        "node loss restarts a worker whose budget is spent",
        [pod(0), pod(1), pod(2)],
        Phase.RESTARTING,
        [(1, NODE, RESTART, None, False)],
        {1: 2},
        job=replace(JOB, max_restarts_per_worker=2, worker_restarts={1: 2}),
        lost_nodes=frozenset({"gpu-1"}),
    ),
    Case(
        "maxRestartsPerWorker 0 fails at the first charged failure",
        [failed(2, 137), pod(0), pod(1)],
        Phase.FAILED,
        [(2, INFRA, FAIL, 137, False)],
        {},
        job=replace(JOB, max_restarts_per_worker=0),
        reason="WorkerRestartLimitExceeded",
    ),
    Case(
        "backoffLimit reached is recorded as the failure's cause",
        [failed(1, 137), pod(0), pod(2)],
        Phase.FAILED,
        [(1, INFRA, FAIL, 137, False)],
        {},
        job=replace(JOB, backoff_limit=2, counted_restarts=2),
        reason="BackoffLimitExceeded",
    ),
    Case(
        "a permanent exit under ExitCode fails the job as the user's error",
        [failed(0, 2), pod(1), pod(2)],
        Phase.FAILED,
        [(0, UC, FAIL, 2, False)],
        {},
        job=replace(JOB, restart_policy=RestartPolicy.EXIT_CODE),
        reason="WorkerFailed",
    ),
    Case(
        "elastic: a lost worker is replaced, listed once, not charged",
        [pod(0), pod(1), pod(2, deleting=True, reason="Deleted")],
        Phase.RUNNING,
        [(2, PRE, REPLACE, None, False)],
        {},
        job=replace(JOB, elastic_min_replicas=2),
    ),
    Case(
        "nothing failed, nothing listed",
        [pod(0), pod(1), pod(2)],
        Phase.RUNNING,
        [],
        {},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_entries_and_per_worker_counts(case: Case) -> None:
    result = plan(case.job, case.pods, now=NOW, lost_nodes=case.lost_nodes, timing=TIMING)
    assert result.phase is case.phase, result.message
    if case.reason is not None:
        assert result.reason == case.reason
    got = [(e.worker, e.cause, e.action, e.exit_code, e.charged) for e in result.history]
    assert got == case.entries
    assert dict(result.worker_restarts) == case.worker_restarts
    for entry in result.history:
        assert (entry.attempt, entry.pod, entry.node) == (
            2,
            f"j-worker-{entry.worker}",
            f"gpu-{entry.worker}",
        )


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_replanning_after_the_plan_adds_no_entry(case: Case) -> None:
    """Once its status is written, the same pods add nothing: a failure is listed once."""
    first = plan(case.job, case.pods, now=NOW, lost_nodes=case.lost_nodes, timing=TIMING)
    again = plan(
        applied(case.job, first, NOW), case.pods, now=NOW + 1, lost_nodes=case.lost_nodes, timing=TIMING
    )
    assert again.history == ()


def entry(worker: int, at: float = NOW) -> Entry:
    return Entry(at, UC, RESTART, worker, 0, f"j-worker-{worker}", "gpu-0", 1, "Error", True)


@pytest.mark.parametrize(
    ("scenario", "previous", "new", "expected_workers"),
    [
        ("empty stays empty", 0, 0, []),
        ("appended oldest first", 2, 1, [0, 1, 100]),
        ("exactly the bound", MAX_RESTART_HISTORY - 1, 1, [*range(MAX_RESTART_HISTORY - 1), 100]),
        (
            "one past the bound drops the oldest",
            MAX_RESTART_HISTORY,
            1,
            [*range(1, MAX_RESTART_HISTORY), 100],
        ),
        ("many new at once keep the latest", 5, 30, list(range(110, 130))),
    ],
)
def test_history_is_bounded(scenario, previous, new, expected_workers):
    old = [entry(i).to_status() for i in range(previous)]
    added = [entry(100 + i) for i in range(new)]
    history = merged(old, added)
    assert [e["worker"] for e in history] == expected_workers
    assert len(history) <= MAX_RESTART_HISTORY


def job(status: dict | None = None, max_per_worker: int | None = None) -> TrainingJob:
    run = {"maxRestartsPerWorker": max_per_worker} if max_per_worker is not None else {}
    body = {
        "metadata": {"name": "j", "namespace": "ns", "uid": "u", "generation": 1},
        "spec": {
            "replicas": 3,
            "runPolicy": run,
            "template": {"spec": {"containers": [{"name": "trainer"}]}},
        },
    }
    if status:
        body["status"] = status
    return TrainingJob.model_validate(body)


def test_history_and_budgets_round_trip_through_the_status():
    """A worker failing three times with maxRestartsPerWorker 2: two restarts listed and charged,
    then the job fails; every status written validates against the API model."""
    status: dict = {
        "phase": "Running",
        "restartCount": 0,
        "startTime": "2026-01-01T00:00:00Z",
        "conditions": [
            {
                "type": "Running",
                "status": "True",
                "reason": "AllWorkersRunning",
                "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
    }
    now = 1_767_225_700.0
    for attempt in range(3):
        current = job(status, max_per_worker=2)
        state = job_state(current)
        assert state.restart_count == attempt
        pods = [PodState(f"j-worker-{i}", i, attempt, "Running", node="n") for i in (0, 2)] + [
            PodState("j-worker-1", 1, attempt, "Failed", node="n", exit_code=1, finished_at=now)
        ]
        result = plan(
            replace(state, phase=Phase.RUNNING, reason="AllWorkersRunning"), pods, now=now, timing=TIMING
        )
        status = build_status(current, result, now=now)
        TrainingJob.model_validate({**current.model_dump(by_alias=True, exclude_none=True), "status": status})
        status["phase"] = "Running" if result.phase is Phase.RESTARTING else result.phase.value
        now += 100
    assert result.phase is Phase.FAILED
    assert result.reason == "WorkerRestartLimitExceeded"
    assert status["workerRestarts"] == {"1": 2}
    assert [(e["attempt"], e["action"], e["charged"], e["cause"]) for e in status["restartHistory"]] == [
        (0, "Restart", True, "UserError"),
        (1, "Restart", True, "UserError"),
        (2, "Fail", False, "UserError"),
    ]
    assert status["restartCount"] == 2
