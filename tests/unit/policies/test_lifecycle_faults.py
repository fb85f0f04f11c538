"""The TrainingJob state machine under GPU faults, keyed by scenario: one observed state (pods, faulty
nodes) in, one plan out, then the plans that follow until the gang is re-admitted."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from lifecycle_kit import applied

from lepton.api.trainingjob import RestartCause, TrainingJobReason
from lepton.policies.gpu_health import Faults, NodeFault
from lepton.policies.lifecycle import Admission, JobState, Timing, needs_admission, plan
from lepton.policies.restart import Backoff, RestartPolicy
from lepton.policies.status import Phase, PodState

TIMING = Timing(backoff=Backoff(10, 60), success_grace_seconds=30, poll_seconds=5)
NOW = 1000.0
UNHEALTHY = NodeFault("GpuUnhealthy=True (XidError79)", unhealthy=True)
DEGRADED = NodeFault("allocatable nvidia.com/gpu 7 < capacity 8", unhealthy=False)


def pod(i: int, phase: str = "Running", attempt: int = 0, **kw: object) -> PodState:
    return PodState(
        name=f"j-worker-{i}", index=i, attempt=attempt, phase=phase, node=f"gpu-{i}", ready=True, **kw
    )  # type: ignore[arg-type]


def running(n: int = 4) -> list[PodState]:
    return [pod(i) for i in range(n)]


# backoffLimit 0 and maxRestartsPerWorker 0: any charged restart would fail the job.
JOB = JobState(
    replicas=4,
    phase=Phase.RUNNING,
    start_time=900.0,
    reason="AllWorkersRunning",
    backoff_limit=0,
    max_restarts_per_worker=0,
    restart_policy=RestartPolicy.EXIT_CODE,
)


@dataclass
class Case:
    scenario: str
    pods: list[PodState]
    faults: Faults
    phase: Phase
    reason: str
    delete: tuple[str, ...] = ()
    restart_count: int = 0
    causes: tuple[RestartCause, ...] = ()


CASES = [
    Case(
        "a worker's node turns GPU-unhealthy: the gang restarts, uncharged, pods deleted gracefully",
        running(),
        Faults({"gpu-2": UNHEALTHY}),
        Phase.RESTARTING,
        TrainingJobReason.HARDWARE_FAULT,
        delete=("j-worker-0", "j-worker-1", "j-worker-2", "j-worker-3"),
        restart_count=1,
        causes=(RestartCause.HARDWARE_FAULT,),
    ),
    Case(
        "an unhealthy node without workers of the job changes nothing",
        running(),
        Faults({"gpu-9": UNHEALTHY}),
        Phase.RUNNING,
        "AllWorkersRunning",
    ),
    Case(
        "a degraded node (a GPU out of allocatable) keeps its running workers",
        running(),
        Faults({"gpu-2": DEGRADED}),
        Phase.RUNNING,
        "AllWorkersRunning",
    ),
    Case(
        "a worker exiting 1 on a degraded node is blamed on the hardware",
        [*running(3), pod(3, "Failed", exit_code=1, finished_at=990.0)],
        Faults({"gpu-3": DEGRADED}),
        Phase.RESTARTING,
        TrainingJobReason.HARDWARE_FAULT,
        delete=("j-worker-0", "j-worker-1", "j-worker-2", "j-worker-3"),
        restart_count=1,
        causes=(RestartCause.HARDWARE_FAULT,),
    ),
    Case(
        "a configured hardware exit code",
        [*running(3), pod(3, "Failed", exit_code=74, finished_at=990.0)],
        Faults(exit_codes=frozenset({74})),
        Phase.RESTARTING,
        TrainingJobReason.HARDWARE_FAULT,
        delete=("j-worker-0", "j-worker-1", "j-worker-2", "j-worker-3"),
        restart_count=1,
        causes=(RestartCause.HARDWARE_FAULT,),
    ),
    Case(
        "the same exit code, not configured: the program's error fails the job",
        [*running(3), pod(3, "Failed", exit_code=74, finished_at=990.0)],
        Faults(),
        Phase.FAILED,
        TrainingJobReason.WORKER_FAILED,
        delete=("j-worker-0", "j-worker-1", "j-worker-2"),
        causes=(RestartCause.USER_ERROR,),
    ),
    Case(
        "a pod deleted by the taint manager (DisruptionTarget)",
        [*running(3), pod(3, deleting=True, disruption="DeletionByTaintManager")],
        Faults(),
        Phase.RESTARTING,
        TrainingJobReason.HARDWARE_FAULT,
        delete=("j-worker-0", "j-worker-1", "j-worker-2"),
        restart_count=1,
        causes=(RestartCause.HARDWARE_FAULT,),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_plan_under_faults(case: Case) -> None:
    result = plan(JOB, case.pods, now=NOW, timing=TIMING, faults=case.faults)
    assert (result.phase, result.reason) == (case.phase, case.reason), result.message
    assert sorted(result.delete) == sorted(case.delete)
    assert result.force_delete == (), "a GPU-unhealthy node's kubelet still confirms deletions"
    assert result.restart_count == case.restart_count
    assert result.counted_restarts == 0, "a hardware fault never spends backoffLimit"
    assert dict(result.worker_restarts) == {}, "nor maxRestartsPerWorker"
    assert tuple(e.cause for e in result.history) == case.causes
    assert not any(e.charged for e in result.history if e.cause is not RestartCause.USER_ERROR)


def test_after_a_hardware_fault_the_gang_is_readmitted_at_once_and_whole() -> None:
    """The restart waits only the first backoff step, then asks for admission for all workers."""
    faults = Faults({"gpu-2": UNHEALTHY})
    first = plan(JOB, running(), now=NOW, timing=TIMING, faults=faults)
    restarting = applied(JOB, first, NOW)
    assert plan(restarting, [], now=NOW + 5, timing=TIMING, faults=faults).phase is Phase.RESTARTING
    later = NOW + TIMING.backoff.delay(0)
    assert needs_admission(restarting, [], later, TIMING)
    readmitted = plan(restarting, [], now=later, admission=Admission(True), timing=TIMING, faults=faults)
    assert readmitted.phase is Phase.ADMITTED
    assert readmitted.create == (0, 1, 2, 3)
    assert readmitted.attempt == 1
    assert readmitted.counted_restarts == 0


def test_elastic_job_replaces_only_the_worker_on_the_faulty_node() -> None:
    job = replace(JOB, elastic_min_replicas=2)
    result = plan(job, running(), now=NOW, timing=TIMING, faults=Faults({"gpu-1": UNHEALTHY}))
    assert (result.phase, result.reason) == (Phase.RUNNING, TrainingJobReason.WORKER_REPLACED)
    assert result.force_delete == ("j-worker-1",)
    assert result.counted_restarts == 0
