"""The TrainingJob state machine, keyed by scenario: one observed state in, one plan out."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from lifecycle_kit import applied

from lepton.api.trainingjob import TrainingJobReason
from lepton.policies.lifecycle import Admission, JobState, Timing, needs_admission, plan
from lepton.policies.restart import Backoff, RestartPolicy
from lepton.policies.status import Phase, PodState, conditions_for

TIMING = Timing(backoff=Backoff(10, 60), success_grace_seconds=30, poll_seconds=5)
NOW = 1000.0


def pod(i: int, phase: str = "Running", attempt: int = 0, **kw: object) -> PodState:
    return PodState(
        name=f"j-worker-{i}", index=i, attempt=attempt, phase=phase, node=f"gpu-{i}", ready=True, **kw
    )  # type: ignore[arg-type]


def running(n: int = 4, attempt: int = 0) -> list[PodState]:
    return [pod(i, attempt=attempt) for i in range(n)]


JOB = JobState(replicas=4, phase=Phase.RUNNING, start_time=900.0, reason="AllWorkersRunning")


@dataclass
class Case:
    scenario: str
    job: JobState
    pods: list[PodState]
    phase: Phase
    reason: str | None = None
    create: tuple[int, ...] = ()
    delete: tuple[str, ...] = ()
    force_delete: tuple[str, ...] = ()
    unpin: tuple[str, ...] = ()
    delete_job: bool = False
    restart_count: int = 0
    admission: Admission | None = None
    lost_nodes: frozenset[str] = field(default_factory=frozenset)
    now: float = NOW
    result_pod: str | None = None


CASES = [
    Case(
        "new job admitted creates all workers",
        JobState(replicas=4),
        [],
        Phase.ADMITTED,
        "Admitted",
        create=(0, 1, 2, 3),
        admission=Admission(True),
    ),
    Case(
        "new job that does not fit is queued with the reason",
        JobState(replicas=4),
        [],
        Phase.QUEUED,
        "WaitingForGPUs",
        admission=Admission(False, "needs 4 pods x 8 GPUs; 2 fit now"),
    ),
    Case(
        "admitted job creates only missing workers",
        replace(JOB, phase=Phase.ADMITTED),
        running(2),
        Phase.ADMITTED,
        create=(2, 3),
    ),
    Case(
        "a worker pinned to a node that cannot take it is deleted, to be made again unpinned",
        replace(JOB, phase=Phase.ADMITTED),
        [*running(3), replace(pod(3, "Pending"), node=None, ready=False, pinned="gpu-3", unschedulable=True)],
        Phase.ADMITTED,
        unpin=("j-worker-3",),
    ),
    Case(
        "once it is gone it is made again (unpinned: no node to place it on), no restart",
        replace(JOB, phase=Phase.ADMITTED),
        running(3),
        Phase.ADMITTED,
        create=(3,),
    ),
    Case(
        "an unschedulable worker the operator did not pin is left to the scheduler",
        replace(JOB, phase=Phase.ADMITTED),
        [*running(3), replace(pod(3, "Pending"), node=None, ready=False, unschedulable=True)],
        Phase.ADMITTED,
    ),
    Case(
        "a pinned worker being deleted is not deleted again",
        replace(JOB, phase=Phase.ADMITTED),
        [
            *running(3),
            replace(pod(3, "Pending"), node=None, pinned="gpu-3", unschedulable=True, deleting=True),
        ],
        Phase.ADMITTED,
    ),
    Case(
        "all workers running",
        replace(JOB, phase=Phase.ADMITTED),
        running(),
        Phase.RUNNING,
        "AllWorkersRunning",
    ),
    Case("steady running changes nothing", JOB, running(), Phase.RUNNING, "AllWorkersRunning"),
    Case(
        "retryable failure restarts the group",
        JOB,
        [*running(3), pod(3, "Failed", exit_code=137)],
        Phase.RESTARTING,
        "WorkerFailed",
        delete=tuple(f"j-worker-{i}" for i in range(4)),
        restart_count=1,
    ),
    Case(
        "permanent failure fails and stops the others",
        replace(JOB, restart_policy=RestartPolicy.EXIT_CODE),
        [*running(3), pod(3, "Failed", exit_code=1)],
        Phase.FAILED,
        "WorkerFailed",
        delete=("j-worker-0", "j-worker-1", "j-worker-2"),
    ),
    Case(
        "backoff limit reached fails",
        replace(JOB, backoff_limit=1, counted_restarts=1, restart_count=1),
        [*running(3, attempt=1), pod(3, "Failed", attempt=1, exit_code=1)],
        Phase.FAILED,
        "BackoffLimitExceeded",
        delete=("j-worker-0", "j-worker-1", "j-worker-2"),
        restart_count=1,
    ),
    Case(
        "node NotReady restarts with force delete on the lost node",
        JOB,
        running(),
        Phase.RESTARTING,
        "NodeLost",
        delete=("j-worker-0", "j-worker-1", "j-worker-3"),
        force_delete=("j-worker-2",),
        restart_count=1,
        lost_nodes=frozenset({"gpu-2"}),
    ),
    Case(
        "a worker deleted while running is pod loss",
        JOB,
        running(3),
        Phase.RESTARTING,
        "WorkerFailed",
        delete=("j-worker-0", "j-worker-1", "j-worker-2"),
        restart_count=1,
    ),
    Case(
        "restarting waits for old pods to go",
        replace(JOB, phase=Phase.RESTARTING, restart_count=1, counted_restarts=1, phase_since=NOW - 100),
        [pod(0, attempt=0, deleting=True), pod(1, attempt=0)],
        Phase.RESTARTING,
        delete=("j-worker-1",),
        restart_count=1,
    ),
    Case(
        "restarting waits out the backoff",
        replace(JOB, phase=Phase.RESTARTING, restart_count=1, counted_restarts=1, phase_since=NOW - 5),
        [],
        Phase.RESTARTING,
        restart_count=1,
        admission=Admission(True),
    ),
    Case(
        "restart after backoff creates the next attempt",
        replace(JOB, phase=Phase.RESTARTING, restart_count=1, counted_restarts=1, phase_since=NOW - 10),
        [],
        Phase.ADMITTED,
        create=(0, 1, 2, 3),
        restart_count=1,
        admission=Admission(True),
    ),
    Case(
        "rank 0 done, others within grace: still running",
        JOB,
        [pod(0, "Succeeded", exit_code=0, finished_at=NOW - 10), *running(4)[1:]],
        Phase.RUNNING,
    ),
    Case(
        "rank 0 done, grace over: others stopped, not yet Succeeded",
        JOB,
        [pod(0, "Succeeded", exit_code=0, finished_at=NOW - 40), *running(4)[1:]],
        Phase.RUNNING,
        "StoppingWorkers",
        delete=("j-worker-1", "j-worker-2", "j-worker-3"),
    ),
    Case(
        "all succeeded",
        JOB,
        [pod(i, "Succeeded", exit_code=0) for i in range(4)],
        Phase.SUCCEEDED,
        "Succeeded",
        result_pod="j-worker-0",
    ),
    Case(
        "deadline exceeded fails and stops workers",
        replace(JOB, active_deadline_seconds=60),
        running(2),
        Phase.FAILED,
        "DeadlineExceeded",
        delete=("j-worker-0", "j-worker-1"),
    ),
    Case(
        "suspend deletes workers",
        replace(JOB, suspend=True),
        running(2),
        Phase.SUSPENDED,
        "Suspended",
        delete=("j-worker-0", "j-worker-1"),
    ),
    Case(
        "unsuspend waits until old workers are gone",
        replace(JOB, phase=Phase.SUSPENDED),
        [pod(0, deleting=True)],
        Phase.SUSPENDED,
        admission=Admission(True),
    ),
    Case(
        "unsuspend re-admits",
        replace(JOB, phase=Phase.SUSPENDED, start_time=None),
        [],
        Phase.ADMITTED,
        create=(0, 1, 2, 3),
        admission=Admission(True),
    ),
    Case(
        "reserved env name fails the job",
        replace(JOB, phase=None, invalid="env MASTER_ADDR is reserved"),
        [],
        Phase.FAILED,
        "InvalidSpec",
    ),
    Case(
        "a worker the API server refused fails the job ConfigError, its other workers deleted",
        replace(
            JOB,
            phase=Phase.ADMITTED,
            invalid='pods "j-worker-1" is forbidden: no PriorityClass with name nope was found',
            invalid_reason=TrainingJobReason.CONFIG_ERROR,
        ),
        [pod(0, phase="Pending")],
        Phase.FAILED,
        "ConfigError",
        delete=("j-worker-0",),
    ),
    Case(
        "TTL not reached keeps the job",
        replace(JOB, phase=Phase.SUCCEEDED, completion_time=NOW - 5, ttl_seconds_after_finished=10),
        [],
        Phase.SUCCEEDED,
    ),
    Case(
        "TTL reached deletes the job",
        replace(JOB, phase=Phase.SUCCEEDED, completion_time=NOW - 10, ttl_seconds_after_finished=10),
        [],
        Phase.SUCCEEDED,
        delete_job=True,
    ),
    Case(
        "cleanPodPolicy All removes finished pods",
        replace(JOB, phase=Phase.FAILED, clean_pod_policy="All"),
        [pod(0, "Failed", exit_code=1)],
        Phase.FAILED,
        delete=("j-worker-0",),
    ),
    Case(
        "cleanPodPolicy None keeps pods",
        replace(JOB, phase=Phase.FAILED, clean_pod_policy="None"),
        [pod(0)],
        Phase.FAILED,
    ),
    Case(
        "elastic: a lost worker is replaced without a restart",
        replace(JOB, elastic_min_replicas=2),
        [*running(3), pod(3, "Failed", exit_code=None, reason="Evicted")],
        Phase.RUNNING,
        "WorkerReplaced",
        force_delete=("j-worker-3",),
    ),
    Case(
        "elastic: a deleted worker is recreated",
        replace(JOB, elastic_min_replicas=2),
        running(3),
        Phase.RUNNING,
        "WorkerReplaced",
        create=(3,),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_plan(case: Case) -> None:
    result = plan(
        case.job, case.pods, now=case.now, lost_nodes=case.lost_nodes, admission=case.admission, timing=TIMING
    )
    assert result.phase is case.phase
    if case.reason is not None:
        assert result.reason == case.reason, result.message
    assert result.create == case.create
    assert sorted(result.delete) == sorted(case.delete)
    assert result.force_delete == case.force_delete
    assert result.unpin == case.unpin
    assert result.delete_job is case.delete_job
    assert result.restart_count == case.restart_count
    assert result.result_pod == case.result_pod


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_plan_is_idempotent_once_applied(case: Case) -> None:
    """Applying a plan's status and replanning on the same pods gives the same phase and no restart."""
    first = plan(
        case.job, case.pods, now=case.now, lost_nodes=case.lost_nodes, admission=case.admission, timing=TIMING
    )
    second = plan(
        applied(case.job, first, case.now),
        case.pods,
        now=case.now,
        lost_nodes=case.lost_nodes,
        admission=case.admission,
        timing=TIMING,
    )
    assert second.phase is first.phase or first.phase is Phase.ADMITTED
    assert second.restart_count == first.restart_count


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_every_reason_written_is_one_the_api_documents(case: Case) -> None:
    result = plan(
        case.job, case.pods, now=case.now, lost_nodes=case.lost_nodes, admission=case.admission, timing=TIMING
    )
    conditions = conditions_for(result.phase, result.reason, result.message, [], generation=1, at="t")
    written = {result.reason, *(c.reason for c in conditions)}
    assert written <= set(TrainingJobReason), (
        f"reasons missing from TrainingJobReason: {written - set(TrainingJobReason)}"
    )


def test_admitted_workers_avoid_the_nodes_held_for_reservations_and_are_placed_on_admissions():
    admission = Admission(True, avoid=("a", "b"), nodes=("c", "d"))
    admitted = plan(JobState(replicas=2), [], now=NOW, admission=admission, timing=TIMING)
    assert (admitted.create, admitted.avoid, admitted.place_on) == ((0, 1), ("a", "b"), ("c", "d"))
    running_on = plan(JOB, running(), now=NOW, timing=TIMING)
    assert (running_on.avoid, running_on.place_on) == ((), ()), "only the admitting plan carries its pass's"


def test_deadline_counts_from_admission():
    job = JobState(replicas=1, active_deadline_seconds=30)
    admitted = plan(job, [], now=NOW, admission=Admission(True), timing=TIMING)
    assert admitted.start_time == NOW
    assert admitted.requeue_after == 30, "it looks again when the deadline ends, not at a resync"
    later = replace(job, phase=Phase.RUNNING, start_time=NOW, replicas=1)
    assert plan(later, running(1), now=NOW + 27.5, timing=TIMING).requeue_after == 2.5
    stopped = plan(later, running(1), now=NOW + 30, timing=TIMING)
    assert (stopped.phase, stopped.requeue_after) == (Phase.FAILED, None)


@pytest.mark.parametrize(
    ("scenario", "job", "pods", "expected"),
    [
        ("new job", JobState(replicas=2), [], True),
        ("running job", JOB, running(), False),
        ("finished job", replace(JOB, phase=Phase.SUCCEEDED), [], False),
        ("suspended job", replace(JOB, suspend=True, phase=Phase.SUSPENDED), [], False),
        (
            "restarting within backoff",
            replace(JOB, phase=Phase.RESTARTING, counted_restarts=1, phase_since=NOW),
            [],
            False,
        ),
        (
            "restarting after backoff",
            replace(JOB, phase=Phase.RESTARTING, counted_restarts=1, phase_since=NOW - 10),
            [],
            True,
        ),
        ("old pods still terminating", replace(JOB, phase=Phase.QUEUED), [pod(0, deleting=True)], False),
        ("workers exist without status", JobState(replicas=2), [pod(0)], False),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_needs_admission(scenario, job, pods, expected):
    assert needs_admission(job, pods, NOW, TIMING) is expected, scenario
