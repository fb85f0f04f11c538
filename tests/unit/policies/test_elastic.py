"""Elastic sizing, keyed by scenario: the size an admission pass gives, growth that must not starve
the queue, and what the state machine does with a size (admit, grow, shrink on node loss)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from lifecycle_kit import applied

from lepton.api.trainingjob import TrainingJobReason as R
from lepton.policies import elastic
from lepton.policies.admission import Demand, Gang, Grower, decide
from lepton.policies.lifecycle import Admission, JobState, Timing, plan
from lepton.policies.placement import Node, Placement
from lepton.policies.queues import QueuePolicy, Quota
from lepton.policies.restart import Backoff
from lepton.policies.status import Phase, PodState

B = elastic.Bounds(2, 4)
POOL_A = Placement.of({"pool": "a"})


def nodes(*free: int) -> list[Node]:
    return [Node(f"gpu-{i}", 8, f, labels={"pool": "a" if i < 2 else "b"}) for i, f in enumerate(free)]


@dataclass
class Pass:
    scenario: str
    nodes: list[Node]
    queue: list[Gang]
    admitted: dict[str, int | None]  # key -> size (None: admitted whole, not elastic)
    grown: dict[str, int] = field(default_factory=dict)
    growers: list[Grower] = field(default_factory=list)
    demand: list[Demand] = field(default_factory=list)
    queues: dict[str, QueuePolicy] | None = None
    quotas: list[Quota] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)  # key -> a part of its message


def elastic_gang(key: str, least: int = 2, most: int = 4, **kw: object) -> Gang:
    return Gang(key, most, 8, min_pods=least, **kw)  # type: ignore[arg-type]


def grower(key: str, size: int, bounds: elastic.Bounds = B, **kw: object) -> Grower:
    return Grower(key, size, bounds, 8, **kw)  # type: ignore[arg-type]


PASSES = [
    Pass("maxReplicas fits: admitted at maxReplicas", nodes(8, 8, 8, 8), [elastic_gang("e")], {"e": 4}),
    Pass("only minReplicas fits: admitted at minReplicas", nodes(8, 8, 0, 0), [elastic_gang("e")], {"e": 2}),
    Pass("three fit: admitted at three, not two", nodes(8, 8, 8, 0), [elastic_gang("e")], {"e": 3}),
    Pass(
        "not even minReplicas fits: waits, saying what it needs at the least",
        nodes(8, 0, 0, 0),
        [elastic_gang("e")],
        {},
        waiting={"e": "needs 2 pods x 8 GPUs; 1 fit now"},
    ),
    Pass(
        "the queue's quota bounds the size: 24 GPUs of nominalQuota hold three",
        nodes(8, 8, 8, 8),
        [elastic_gang("e", queue="q")],
        {"e": 3},
        queues={"q": QueuePolicy("q", nominal_gpus=24)},
    ),
    Pass(
        "an elastic job admitted small leaves the rest to the next gang",
        nodes(8, 8, 8, 0),
        [elastic_gang("e", least=1, most=4, created=1), Gang("fixed", 2, 8, created=2)],
        {"e": 3},
        waiting={"fixed": "needs 2 pods x 8 GPUs; 0 fit now"},
    ),
    Pass(
        "a running job below maxReplicas grows into free GPUs",
        nodes(8, 8, 0, 0),
        [],
        {},
        grown={"e": 4},
        growers=[grower("e", 2)],
    ),
    Pass(
        "growth stops at maxReplicas",
        nodes(8, 8, 8, 8),
        [],
        {},
        grown={"e": 4},
        growers=[grower("e", 3)],
    ),
    Pass(
        "a waiting gang of equal priority that does not fit still keeps growth off its GPUs",
        nodes(8, 8, 8, 0),
        [Gang("big", 4, 8)],
        {},
        waiting={"big": "needs 4 pods x 8 GPUs; 3 fit now"},
        growers=[grower("e", 2)],
    ),
    Pass(
        "a waiting gang of higher priority keeps growth off its GPUs",
        nodes(8, 8, 8, 0),
        [Gang("big", 4, 8, priority=10)],
        {},
        waiting={"big": "3 fit now"},
        growers=[grower("e", 2)],
    ),
    Pass(
        "a waiting gang of lower priority does not: the grower would go before it anyway",
        nodes(8, 8, 8, 0),
        [Gang("big", 4, 8, priority=-1)],
        {},
        grown={"e": 4},
        waiting={"big": "3 fit now"},
        growers=[grower("e", 2)],
    ),
    Pass(
        "a higher-priority gang for other nodes leaves growth the GPUs it cannot use",
        nodes(8, 8, 0, 0),
        [Gang("pinned", 1, 8, priority=10, placement=Placement.of({"pool": "b"}))],
        {},
        grown={"e": 4},
        waiting={"pinned": "0 fit now"},
        growers=[grower("e", 2)],
    ),
    Pass(
        "admission goes first: a waiting gang that fits is admitted, growth gets what is left",
        nodes(8, 8, 8, 0),
        [Gang("next", 2, 8)],
        {"next": None},
        grown={"e": 3},
        growers=[grower("e", 2)],
    ),
    Pass(
        "pending workers of admitted jobs keep their GPUs from growth",
        nodes(8, 8, 0, 0),
        [],
        {},
        demand=[Demand(2, 8)],
        growers=[grower("e", 2)],
    ),
    Pass(
        "the queue's quota bounds growth",
        nodes(8, 8, 8, 8),
        [],
        {},
        grown={"e": 3},
        demand=[Demand(0, 8, queue="q", total_pods=2)],
        queues={"q": QueuePolicy("q", nominal_gpus=24)},
        growers=[grower("e", 2, queue="q")],
    ),
    Pass(
        "growth keeps to the job's placement",
        nodes(0, 8, 8, 8),
        [],
        {},
        grown={"e": 3},
        growers=[grower("e", 2, placement=POOL_A)],
    ),
]


@pytest.mark.parametrize("case", PASSES, ids=lambda c: c.scenario)
def test_elastic_admission_pass(case: Pass) -> None:
    decision = decide(
        case.nodes, case.demand, case.queue, queues=case.queues, quotas=case.quotas, growers=case.growers
    )
    assert set(decision.admitted) == set(case.admitted)
    assert dict(decision.sizes) == {k: v for k, v in case.admitted.items() if v is not None}
    assert dict(decision.grown) == case.grown
    assert set(decision.waiting) == set(case.waiting)
    for key, part in case.waiting.items():
        assert part in decision.waiting[key]


# --- the state machine with a size --------------------------------------------------------------

TIMING = Timing(backoff=Backoff(10, 60), success_grace_seconds=30, poll_seconds=5)
NOW = 1000.0


def pod(i: int, phase: str = "Running", node: str | None = None) -> PodState:
    return PodState(f"j-worker-{i}", i, 0, phase, node or f"gpu-{i}", ready=phase == "Running")


RUNNING = JobState(
    replicas=3,
    elastic_min_replicas=2,
    bounds=B,
    phase=Phase.RUNNING,
    reason=R.ALL_WORKERS_RUNNING,
    start_time=900.0,
    sizing=elastic.Sizing(3, R.ADMITTED_BELOW_MAXIMUM),
)


@dataclass
class Step:
    scenario: str
    job: JobState
    pods: list[PodState]
    phase: Phase
    reason: str
    size: int | None
    size_reason: str | None = None
    create: tuple[int, ...] = ()
    force_delete: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    admission: Admission | None = None
    grow_to: int | None = None
    lost: frozenset[str] = frozenset()
    restart_count: int = 0


STEPS = [
    Step(
        "admitted at minReplicas: creates that many workers and says why",
        JobState(replicas=3, elastic_min_replicas=2, bounds=B),
        [],
        Phase.ADMITTED,
        R.ADMITTED,
        2,
        R.ADMITTED_AT_MINIMUM,
        create=(0, 1),
        admission=Admission(True, size=2),
    ),
    Step(
        "admitted at maxReplicas",
        JobState(replicas=3, elastic_min_replicas=2, bounds=B),
        [],
        Phase.ADMITTED,
        R.ADMITTED,
        4,
        R.ADMITTED_AT_MAXIMUM,
        create=(0, 1, 2, 3),
        admission=Admission(True, size=4),
    ),
    Step(
        "granted growth: new workers only, none deleted, no restart",
        RUNNING,
        [pod(0), pod(1), pod(2)],
        Phase.RUNNING,
        R.GREW,
        4,
        R.GREW,
        create=(3,),
        grow_to=4,
    ),
    Step(
        "right after growth the new workers may not be seen yet: not taken for deleted ones",
        replace(RUNNING, replicas=4, reason=R.GREW, sizing=elastic.Sizing(4, R.GREW)),
        [pod(0), pod(1), pod(2)],
        Phase.RUNNING,
        R.GREW,
        4,
        R.GREW,
        create=(3,),
    ),
    Step(
        "node loss with minReplicas left: shrinks to the survivors, nothing recreated, no restart",
        RUNNING,
        [pod(0), pod(1), pod(2)],
        Phase.RUNNING,
        R.SHRANK_ON_NODE_LOSS,
        2,
        R.SHRANK_ON_NODE_LOSS,
        force_delete=("j-worker-1",),
        lost=frozenset({"gpu-1"}),
    ),
    Step(
        "worker 0 lost with its node is replaced, not left out: it hosts the c10d rendezvous",
        RUNNING,
        [pod(0), pod(1), pod(2)],
        Phase.RUNNING,
        R.WORKER_REPLACED,
        3,
        R.ADMITTED_BELOW_MAXIMUM,
        force_delete=("j-worker-0",),
        lost=frozenset({"gpu-0"}),
    ),
    Step(
        "after shrinking, the survivors' gap is no missing worker",
        replace(
            RUNNING, replicas=2, reason=R.SHRANK_ON_NODE_LOSS, sizing=elastic.Sizing(2, R.SHRANK_ON_NODE_LOSS)
        ),
        [pod(0), pod(2)],
        Phase.RUNNING,
        R.ALL_WORKERS_RUNNING,
        2,
        R.SHRANK_ON_NODE_LOSS,
    ),
    Step(
        "growing back fills the gap first",
        replace(RUNNING, replicas=2, sizing=elastic.Sizing(2, R.SHRANK_ON_NODE_LOSS)),
        [pod(0), pod(2)],
        Phase.RUNNING,
        R.GREW,
        4,
        R.GREW,
        create=(1, 3),
        grow_to=4,
    ),
    Step(
        "node loss below minReplicas: the group restarts, uncharged, as before",
        replace(RUNNING, replicas=2, sizing=elastic.Sizing(2, R.SHRANK_ON_NODE_LOSS)),
        [pod(0), pod(1, node="gpu-0")],
        Phase.RESTARTING,
        R.NODE_LOST,
        2,
        R.SHRANK_ON_NODE_LOSS,
        delete=(),
        force_delete=("j-worker-0", "j-worker-1"),
        lost=frozenset({"gpu-0"}),
        restart_count=1,
    ),
    Step(
        "a deleted worker (not a lost node) is still replaced, the size kept",
        RUNNING,
        [pod(0), pod(1), replace(pod(2), deleting=True)],
        Phase.RUNNING,
        R.WORKER_REPLACED,
        3,
        R.ADMITTED_BELOW_MAXIMUM,
        create=(),  # once its pod is gone (the replacement's usual course)
    ),
]


@pytest.mark.parametrize("case", STEPS, ids=lambda c: c.scenario)
def test_elastic_state_machine(case: Step) -> None:
    result = plan(
        case.job,
        case.pods,
        now=NOW,
        lost_nodes=case.lost,
        admission=case.admission,
        timing=TIMING,
        grow_to=case.grow_to,
    )
    assert (result.phase, result.reason) == (case.phase, case.reason), result.message
    assert (result.sizing.size if result.sizing else None) == case.size
    assert (result.sizing.reason if result.sizing else None) == case.size_reason
    assert result.create == case.create
    assert result.force_delete == case.force_delete
    assert result.delete == case.delete
    assert result.restart_count == case.restart_count


def test_shrink_then_next_reconcile_is_stable() -> None:
    """The plan a shrink leaves, read back, asks for nothing more (no replacement, no restart)."""
    first = plan(RUNNING, [pod(0), pod(1), pod(2)], now=NOW, lost_nodes=frozenset({"gpu-1"}), timing=TIMING)
    assert first.sizing is not None
    job = replace(applied(RUNNING, first, NOW), replicas=first.sizing.size, sizing=first.sizing)
    # The watch may still show the lost pod once: nothing new is recorded for it.
    again = plan(job, [pod(0), pod(1), pod(2)], now=NOW + 1, lost_nodes=frozenset({"gpu-1"}), timing=TIMING)
    assert (again.reason, again.sizing, again.history) == (first.reason, first.sizing, ())
    assert (again.create, again.restart_count) == ((), 0)
    second = plan(job, [pod(0), pod(2)], now=NOW + 2, lost_nodes=frozenset({"gpu-1"}), timing=TIMING)
    assert (second.create, second.force_delete, second.restart_count) == ((), (), 0)
    assert second.reason == R.ALL_WORKERS_RUNNING


@pytest.mark.parametrize(
    ("present", "size", "wanted"),
    [
        ((), 3, (0, 1, 2)),
        ((0, 2), 2, (0, 2)),
        ((0, 2), 3, (0, 1, 2)),
        ((0, 2), 4, (0, 1, 2, 3)),
        ((0, 1, 2, 3), 2, (0, 1)),
        ((1, 3), 3, (0, 1, 3)),
    ],
)
def test_worker_indices(present: tuple[int, ...], size: int, wanted: tuple[int, ...]) -> None:
    assert elastic.worker_indices(present, size) == wanted


@pytest.mark.parametrize(
    ("fit", "quota_holds", "size"),
    [(8, 99, 4), (4, 99, 4), (3, 99, 3), (2, 99, 2), (1, 99, None), (8, 3, 3), (8, 1, None)],
)
def test_admission_size(fit: int, quota_holds: int, size: int | None) -> None:
    assert elastic.admission_size(B, fit, lambda n: n <= quota_holds) == size
