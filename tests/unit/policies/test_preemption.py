"""Victim choice for gang preemption, as a table: who may be preempted (opt-in, same queue, strictly
lower priority), the fewest whole gangs that make the preemptor fit under its placement, the
tie-breaks, and the victim's plan (requeued, uncharged)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lepton.api.trainingjob import RestartCause, TrainingJobReason
from lepton.policies.admission import Demand, Gang
from lepton.policies.lifecycle import JobState, plan
from lepton.policies.placement import Node, Placement
from lepton.policies.preemption import Running, choose, evict
from lepton.policies.status import Phase, PodState

ZONE_A = Placement.of({"zone": "a"})


def nodes(*free: int, zone_b: tuple[int, ...] = ()) -> list[Node]:
    """8-GPU nodes with ``free`` GPUs free in zone a (and ``zone_b`` in zone b)."""
    a = [Node(f"a{i}", 8, f, labels={"zone": "a"}) for i, f in enumerate(free)]
    return a + [Node(f"b{i}", 8, f, labels={"zone": "b"}) for i, f in enumerate(zone_b)]


def run(
    key: str,
    priority: int = 0,
    *,
    on: dict[str, int],
    created: float = 0.0,
    queue: str = "",
    opt_in: bool = True,
) -> Running:
    return Running(key, priority, queue, opt_in, created, on)


@dataclass(frozen=True)
class Case:
    name: str
    preemptor: Gang
    nodes: list[Node]
    running: list[Running]
    victims: tuple[str, ...]
    demand: list[Demand] = field(default_factory=list)


HIGH = Gang("ns/high", pods=2, gpus_per_pod=8, priority=100)

CASES = [
    Case(
        "the fewest gangs: one 2-node gang rather than two 1-node gangs",
        HIGH,
        nodes(0, 0, 0, 0),
        [
            run("ns/s1", on={"a0": 8}, created=5),
            run("ns/s2", on={"a1": 8}, created=5),
            run("ns/pair", on={"a2": 8, "a3": 8}, created=1),
        ],
        ("ns/pair",),
    ),
    Case(
        "only what is missing: free GPUs count, one victim is enough",
        HIGH,
        nodes(8, 0, 0),
        [run("ns/v1", on={"a1": 8}, created=1), run("ns/v2", on={"a2": 8}, created=2)],
        ("ns/v2",),  # the most recently created: the least work lost
    ),
    Case(
        "lowest priority first",
        HIGH,
        nodes(8, 0, 0),
        [run("ns/mid", 50, on={"a1": 8}, created=2), run("ns/low", 10, on={"a2": 8}, created=1)],
        ("ns/low",),
    ),
    Case(
        "same priority and age: the fewest GPUs",
        Gang("ns/high", pods=1, gpus_per_pod=4, priority=100),
        nodes(0, 0),
        [run("ns/eight", on={"a0": 8}), run("ns/four", on={"a1": 4})],
        ("ns/four",),
    ),
    Case(
        "never a gang that did not opt in",
        HIGH,
        nodes(8, 0),
        [run("ns/keep", on={"a1": 8}, opt_in=False)],
        (),
    ),
    Case(
        "never equal or higher priority",
        HIGH,
        nodes(8, 0, 0),
        [run("ns/equal", 100, on={"a1": 8}), run("ns/higher", 200, on={"a2": 8})],
        (),
    ),
    Case(
        "never another queue (withinClusterQueue: LowerPriority)",
        Gang("ns/high", pods=2, gpus_per_pod=8, priority=100, queue="team-a"),
        nodes(8, 0),
        [run("ns/other", on={"a1": 8}, queue="team-b")],
        (),
    ),
    Case(
        "nothing when even every candidate would not make it fit",
        Gang("ns/high", pods=4, gpus_per_pod=8, priority=100),
        nodes(0, 0, 0),
        [run("ns/v0", on={"a0": 8}), run("ns/v1", on={"a1": 8}), run("ns/v2", on={"a2": 8})],
        (),
    ),
    Case(
        "only gangs on nodes the preemptor's placement allows help",
        Gang("ns/high", pods=2, gpus_per_pod=8, priority=100, placement=ZONE_A),
        nodes(8, 0, zone_b=(0,)),
        [run("ns/in-b", on={"b0": 8}, created=9), run("ns/in-a", on={"a1": 8}, created=1)],
        ("ns/in-a",),
    ),
    Case(
        "a gang spread thin frees no whole node: two pods need two free nodes",
        HIGH,
        nodes(4, 4, 0),
        [run("ns/halves", on={"a0": 4, "a1": 4}, created=1), run("ns/whole", on={"a2": 8}, created=9)],
        ("ns/halves",),  # "whole" is preferred (newer) but alone leaves one pod without a node
    ),
    Case(
        "pending demand of admitted jobs keeps its GPUs",
        HIGH,
        nodes(8, 8, 0),
        [run("ns/v", on={"a2": 8})],
        ("ns/v",),
        demand=[Demand(1, 8)],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_victim_choice(case: Case) -> None:
    assert choose(case.preemptor, case.nodes, case.demand, case.running) == case.victims


def test_greedy_fallback_still_takes_whole_gangs_and_prunes_the_unneeded() -> None:
    # 12 one-node gangs and a preemptor needing 3 nodes: with no exact search budget the greedy
    # pass takes candidates in order and drops those not needed.
    running = [run(f"ns/v{i:02}", on={f"a{i}": 8}, created=i) for i in range(12)]
    gang = Gang("ns/high", pods=3, gpus_per_pod=8, priority=1)
    victims = choose(gang, nodes(*([0] * 12)), [], running, max_fit_checks=1)
    assert victims == ("ns/v11", "ns/v10", "ns/v09")
    assert choose(gang, nodes(*([0] * 12)), [], running) == victims, "the exact search agrees"


def test_victim_is_requeued_with_its_workers_stopped_and_no_budget_spent() -> None:
    job = JobState(
        replicas=2, phase=Phase.RUNNING, restart_count=3, counted_restarts=2, worker_restarts={0: 1}
    )
    pods = [
        PodState("v-worker-0", 0, 3, "Running", node="a0"),
        PodState("v-worker-1", 1, 3, "Running", node="a1"),
    ]
    evicted = evict(job, pods, by="ns/high", now=100.0, poll_seconds=5.0)
    assert (evicted.phase, evicted.reason) == (Phase.QUEUED, TrainingJobReason.PREEMPTED)
    assert "ns/high" in evicted.message
    assert evicted.delete == ("v-worker-0", "v-worker-1"), "deleted with their grace period, not forced"
    assert evicted.force_delete == ()
    assert (evicted.restart_count, evicted.counted_restarts) == (4, 2), "new attempt, budget untouched"
    assert evicted.worker_restarts == {0: 1}
    assert [(e.cause, e.charged, e.worker, e.node) for e in evicted.history] == [
        (RestartCause.PREEMPTION, False, 0, "a0"),
        (RestartCause.PREEMPTION, False, 1, "a1"),
    ]

    # Next pass, as the status write recorded it: the old workers terminate, nothing is admitted
    # or created until they are gone, and the job waits in the queue as Preempted.
    after = JobState(
        replicas=2, phase=Phase.QUEUED, reason=evicted.reason, restart_count=4, counted_restarts=2
    )
    stopping = [PodState(p.name, p.index, 3, "Running", node=p.node, deleting=True) for p in pods]
    waiting = plan(after, stopping, now=101.0)
    assert (waiting.phase, waiting.reason, waiting.create) == (Phase.QUEUED, TrainingJobReason.PREEMPTED, ())
