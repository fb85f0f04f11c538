"""GPU faults, keyed by scenario: which nodes are faulty, and how a worker loss is classified (who is
blamed, whether the restart is charged) once the restart policy has seen it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lepton.api.trainingjob import RestartCause, TrainingJobReason
from lepton.policies.gpu_health import (
    DEFAULT_FAULT_CONDITIONS,
    Faults,
    NodeFault,
    NodeHealth,
    faulty_nodes,
    node_fault,
)
from lepton.policies.restart import Action, Backoff, RestartPolicy, WorkerFailure, cause_of, decide
from lepton.policies.status import PodState

NODE_CASES = [
    # (scenario, node, fault conditions, expected fault or None)
    ("healthy 8-GPU node", NodeHealth("n", 8, 8), DEFAULT_FAULT_CONDITIONS, None),
    ("CPU node", NodeHealth("n", 0, 0), DEFAULT_FAULT_CONDITIONS, None),
    (
        "agent condition True",
        NodeHealth("n", 8, 8, {"GpuUnhealthy": "XidError79"}),
        DEFAULT_FAULT_CONDITIONS,
        NodeFault("GpuUnhealthy=True (XidError79)", unhealthy=True),
    ),
    (
        "GCM's ECC check under node-problem-detector",
        NodeHealth("n", 8, 8, {"GcmSmiEccProblem": ""}),
        DEFAULT_FAULT_CONDITIONS,
        NodeFault("GcmSmiEccProblem=True", unhealthy=True),
    ),
    (
        "a condition type not configured is ignored",
        NodeHealth("n", 8, 8, {"KernelDeadlock": "Hung"}),
        DEFAULT_FAULT_CONDITIONS,
        None,
    ),
    (
        "configured types replace the defaults",
        NodeHealth("n", 8, 8, {"GpuUnhealthy": ""}),
        ("NVLinkDown",),
        None,
    ),
    (
        "no types configured: conditions are not read",
        NodeHealth("n", 8, 8, {"GpuUnhealthy": ""}),
        (),
        None,
    ),
    (
        "device plugin took a GPU out of allocatable: degraded, not unhealthy",
        NodeHealth("n", 8, 7),
        DEFAULT_FAULT_CONDITIONS,
        NodeFault("allocatable nvidia.com/gpu 7 < capacity 8", unhealthy=False),
    ),
    (
        "allocatable gone altogether",
        NodeHealth("n", 8, 0),
        DEFAULT_FAULT_CONDITIONS,
        NodeFault("allocatable nvidia.com/gpu 0 < capacity 8", unhealthy=False),
    ),
    (
        "a condition wins over fewer GPUs",
        NodeHealth("n", 8, 6, {"GpuUnhealthy": "Ecc"}),
        DEFAULT_FAULT_CONDITIONS,
        NodeFault("GpuUnhealthy=True (Ecc)", unhealthy=True),
    ),
]


@pytest.mark.parametrize(
    ("scenario", "node", "kinds", "expected"), NODE_CASES, ids=[c[0] for c in NODE_CASES]
)
def test_node_fault(
    scenario: str, node: NodeHealth, kinds: tuple[str, ...], expected: NodeFault | None
) -> None:
    assert node_fault(node, kinds) == expected


def test_faulty_nodes_keeps_only_faulty_ones() -> None:
    nodes = [NodeHealth("a", 8, 8), NodeHealth("b", 8, 7), NodeHealth("c", 8, 8, {"GpuUnhealthy": ""})]
    assert set(faulty_nodes(nodes, DEFAULT_FAULT_CONDITIONS)) == {"b", "c"}


UNHEALTHY = NodeFault("GpuUnhealthy=True", unhealthy=True)
DEGRADED = NodeFault("allocatable nvidia.com/gpu 7 < capacity 8", unhealthy=False)
FAULTS = Faults(nodes={"bad": UNHEALTHY, "degraded": DEGRADED}, exit_codes=frozenset({74}))


def worker(**kw: object) -> PodState:
    base: dict[str, object] = {"name": "j-worker-1", "index": 1, "attempt": 0, "node": "good"}
    return PodState(**{**base, **kw})  # type: ignore[arg-type]


@dataclass
class Loss:
    scenario: str
    pod: PodState
    lost: str | None  # Faults.lost: a worker not finished, lost with its node's GPUs
    fault: str | None  # Faults.of: a failure blamed on the hardware
    faults: Faults = field(default_factory=lambda: FAULTS)


LOSS_CASES = [
    Loss("running on a healthy node", worker(phase="Running"), None, None),
    Loss(
        "running on an unhealthy node",
        worker(phase="Running", node="bad"),
        "node bad GPU unhealthy: GpuUnhealthy=True",
        "node bad: GpuUnhealthy=True",
    ),
    Loss(
        "running on a degraded node is left alone",
        worker(phase="Running", node="degraded"),
        None,
        "node degraded: allocatable nvidia.com/gpu 7 < capacity 8",
    ),
    Loss(
        "a finished worker is not lost",
        worker(phase="Failed", node="bad", exit_code=1),
        None,
        "node bad: GpuUnhealthy=True",
    ),
    Loss(
        "a configured hardware exit code",
        worker(phase="Failed", exit_code=74),
        None,
        "exit code 74 is a hardware fault",
    ),
    Loss("another exit code is the program's", worker(phase="Failed", exit_code=1), None, None),
    Loss(
        "no exit codes configured",
        worker(phase="Failed", exit_code=74),
        None,
        None,
        Faults(),
    ),
    Loss(
        "DisruptionTarget (taint manager)",
        worker(phase="Running", deleting=True, disruption="DeletionByTaintManager"),
        None,
        "DisruptionTarget: DeletionByTaintManager",
    ),
]


@pytest.mark.parametrize("case", LOSS_CASES, ids=[c.scenario for c in LOSS_CASES])
def test_fault_of_a_worker(case: Loss) -> None:
    assert case.faults.lost(case.pod) == case.lost
    assert case.faults.of(case.pod) == case.fault


def test_avoid_is_sorted_and_includes_degraded_nodes() -> None:
    assert FAULTS.avoid() == ("bad", "degraded")


def test_a_waiting_job_is_told_which_nodes_are_left_out() -> None:
    assert FAULTS.left_out() == (
        "2 nodes with faulty GPUs left out "
        "(bad: GpuUnhealthy=True; degraded: allocatable nvidia.com/gpu 7 < capacity 8)"
    )
    many = Faults({f"n{i}": UNHEALTHY for i in range(5)})
    assert many.left_out(shown=2) == (
        "5 nodes with faulty GPUs left out (n0: GpuUnhealthy=True; n1: GpuUnhealthy=True; 3 more)"
    )


@dataclass
class Verdict:
    scenario: str
    policy: RestartPolicy
    failures: list[WorkerFailure]
    action: Action
    counts: bool
    reason: str
    causes: list[RestartCause]
    backoff_limit: int = 0


HW = "node bad GPU unhealthy: GpuUnhealthy=True"
VERDICT_CASES = [
    Verdict(
        "worker on an unhealthy node: whole gang restarts, uncharged even at backoffLimit 0",
        RestartPolicy.ON_FAILURE,
        [WorkerFailure(1, None, "node bad GPU unhealthy", fault=HW)],
        Action.RESTART,
        False,
        TrainingJobReason.HARDWARE_FAULT,
        [RestartCause.HARDWARE_FAULT],
    ),
    Verdict(
        "hardware exit code under ExitCode, though 1-127 is otherwise permanent",
        RestartPolicy.EXIT_CODE,
        [WorkerFailure(0, 74, "Error", finished_at=10.0, fault="exit code 74 is a hardware fault")],
        Action.RESTART,
        False,
        TrainingJobReason.HARDWARE_FAULT,
        [RestartCause.HARDWARE_FAULT],
    ),
    Verdict(
        "the same exit code, not configured: the program's error, permanent",
        RestartPolicy.EXIT_CODE,
        [WorkerFailure(0, 74, "Error", finished_at=10.0)],
        Action.FAIL,
        False,
        TrainingJobReason.WORKER_FAILED,
        [RestartCause.USER_ERROR],
    ),
    Verdict(
        "preempted by the scheduler (DisruptionTarget): uncharged, blamed on preemption",
        RestartPolicy.ON_FAILURE,
        [WorkerFailure(2, None, "PreemptionByScheduler", fault="DisruptionTarget: PreemptionByScheduler")],
        Action.RESTART,
        False,
        TrainingJobReason.HARDWARE_FAULT,
        [RestartCause.PREEMPTION],
    ),
    Verdict(
        "evicted without a DisruptionTarget condition: charged as before",
        RestartPolicy.ON_FAILURE,
        [WorkerFailure(2, None, "Evicted")],
        Action.FAIL,
        False,
        TrainingJobReason.BACKOFF_LIMIT_EXCEEDED,
        [RestartCause.PREEMPTION],
    ),
    Verdict(
        "a fault beside a program error at the same moment: charged",
        RestartPolicy.ON_FAILURE,
        [
            WorkerFailure(0, 1, "Error", finished_at=10.0),
            WorkerFailure(1, None, "node bad GPU unhealthy", fault=HW),
        ],
        Action.RESTART,
        True,
        TrainingJobReason.WORKER_FAILED,
        [RestartCause.USER_ERROR, RestartCause.HARDWARE_FAULT],
        backoff_limit=3,
    ),
    Verdict(
        "a node lost and a GPU fault together: HardwareFault, uncharged",
        RestartPolicy.ON_FAILURE,
        [
            WorkerFailure(0, None, "node gpu-0 NotReady", True),
            WorkerFailure(1, None, "node bad GPU unhealthy", fault=HW),
        ],
        Action.RESTART,
        False,
        TrainingJobReason.HARDWARE_FAULT,
        [RestartCause.NODE_LOSS, RestartCause.HARDWARE_FAULT],
    ),
    Verdict(
        "restartPolicy Never still means never, as with a lost node",
        RestartPolicy.NEVER,
        [WorkerFailure(1, None, "node bad GPU unhealthy", fault=HW)],
        Action.FAIL,
        False,
        TrainingJobReason.WORKER_FAILED,
        [RestartCause.HARDWARE_FAULT],
    ),
]


@pytest.mark.parametrize("case", VERDICT_CASES, ids=[c.scenario for c in VERDICT_CASES])
def test_fault_classification(case: Verdict) -> None:
    verdict = decide(
        policy=case.policy,
        failures=case.failures,
        backoff_limit=case.backoff_limit,
        counted_restarts=0,
        backoff=Backoff(10, 60),
        max_restarts_per_worker=None,
    )
    assert verdict is not None
    assert (verdict.action, verdict.counts, verdict.reason) == (case.action, case.counts, case.reason)
    assert [cause_of(case.policy, f) for f in case.failures] == case.causes
    uncharged = {f.index for f in case.failures if f.fault is not None or f.node_lost}
    assert not uncharged & set(verdict.charged), "a hardware fault is never charged to its worker"
