"""Backfill beside a reserved head (#15 item 1): under BestEffortFIFO a head that holds a reservation
for GPUs no longer blocks its queue; the gangs behind it take free GPUs the reservation does not
hold and quota beyond its least size. Scenario rows on a fake clock, then passes over time: the
reservation chooses its nodes again each pass, so whether backfill can starve it is played out."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from queues_kit import NOW, QUEUES, RESERVES, WAITED, Case, g, nodes, outcome, run

from lepton.policies.admission import Demand, Gang, decide
from lepton.policies.placement import Node, Placement
from lepton.policies.queues import Quota

EXCLUDED = " (the nodes held for ns/big excluded)"
HELD = " ({} of them held for the reservation of ns/big)"
POOL_A, POOL_B = Placement.of({"pool": "a"}), Placement.of({"pool": "b"})

CASES = [
    Case(
        "behind a reserved head in its own queue: admitted onto the free GPUs of a node not held",
        nodes(8, 0, 4, 4),  # a-0 and a-2 held (most free first, then by name)
        [g("ns/big", 2, created=1, waiting_since=WAITED), g("ns/small", 1, 4, created=2)],
        ("ns/small",),
        {"ns/big": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now" + RESERVES)},
        reserved=("ns/big",),
    ),
    Case(
        "behind a reserved head: not onto the held nodes, saying they were left out",
        nodes(8, 4, 0),  # a-0 and a-1 held: no 8 free GPUs outside them
        [
            g("ns/big", 2, created=1, waiting_since=WAITED),
            g("ns/one", 1, 8, created=2),
            g("ns/half", 1, 4, created=3),
        ],
        (),
        {
            "ns/big": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now" + RESERVES),
            "ns/one": ("WaitingForGPUs", "needs 1 pod x 8 GPUs; 0 fit now" + EXCLUDED),
            "ns/half": ("WaitingForGPUs", "needs 1 pod x 4 GPUs; 0 fit now" + EXCLUDED),
        },
        reserved=("ns/big",),
    ),
    Case(
        "behind a reserved head: a gang that could not use the held nodes is not told of them",
        nodes(8, 4) + nodes(0, pool="b"),
        [
            g("ns/big", 2, created=1, waiting_since=WAITED, placement=POOL_A),
            g("ns/b-only", 1, 8, created=2, placement=POOL_B),
        ],
        (),
        {
            "ns/big": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now" + RESERVES),
            "ns/b-only": ("WaitingForGPUs", "needs 1 pod x 8 GPUs; 0 fit now"),
        },
        reserved=("ns/big",),
    ),
    Case(
        "behind a reserved head: its queue's quota beyond the head's least size only",
        nodes(4, 4, 2),  # a 1 x 8 head holds a-0 only; a-1 and a-2 backfill
        [
            g("ns/big", 1, queue="team", created=1, waiting_since=WAITED),
            g("ns/mid", 1, 4, queue="team", created=2),
            g("ns/late", 1, 2, queue="team", created=3),
            g("ns/over", 1, 4, queue="team", created=4),
        ],
        ("ns/mid", "ns/late"),
        {
            "ns/big": ("WaitingForGPUs", "needs 1 pod x 8 GPUs; 0 fit now" + RESERVES),
            "ns/over": (
                "WaitingForQuota",
                "ClusterQueue team: needs 4 GPUs, 14 of its nominalQuota of 16 in use" + HELD.format(8),
            ),
        },
        reserved=("ns/big",),
    ),
    Case(
        "behind a reserved head: its namespace's ResourceQuota beyond the head's least size only",
        nodes(8, 4, 4),
        [
            g("ns/big", 2, created=1, waiting_since=WAITED),
            g("ns/small", 1, 4, queue="other", created=2),
            g("elsewhere/small", 1, 4, queue="other", created=3),
        ],
        ("elsewhere/small",),
        {
            "ns/big": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now" + RESERVES),
            "ns/small": (
                "WaitingForQuota",
                "ResourceQuota gpus: needs 4 requests.nvidia.com/gpu, 16 of 16 used" + HELD.format(16),
            ),
        },
        quotas=[Quota("ns", "gpus", gpus_hard=16)],
        reserved=("ns/big",),
    ),
    Case(
        "StrictFIFO unchanged: a reserved head blocks its queue; another queue backfills",
        nodes(8, 4, 4),
        [
            g("ns/big", 2, queue="strictly", created=1, waiting_since=WAITED),
            g("ns/small", 1, 4, queue="strictly", created=2),
            g("ns/other", 1, 4, queue="other", created=3),
        ],
        ("ns/other",),
        {
            "ns/big": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now" + RESERVES),
            "ns/small": ("WaitingInQueue", "behind ns/big, which holds a reservation"),
        },
        reserved=("ns/big",),
    ),
    Case(
        "a reserved head waiting for its queue's quota still blocks its queue, not the others",
        nodes(8, 8, 8),
        [
            g("ns/big", 2, queue="team", created=1, waiting_since=WAITED),
            g("ns/small", 1, 4, queue="team", created=2),
            g("ns/elsewhere", 1, 4, created=3),
        ],
        ("ns/elsewhere",),
        {
            "ns/big": (
                "WaitingForQuota",
                "ClusterQueue team: needs 16 GPUs, 8 of its nominalQuota of 16 in use" + RESERVES,
            ),
            "ns/small": ("WaitingInQueue", "behind ns/big, which holds a reservation"),
        },
        demand=[Demand(0, 8, queue="team", total_pods=1)],
        reserved=("ns/big",),
    ),
    Case(
        "a reserved head waiting for a ResourceQuota blocks its namespace and keeps its queue's quota",
        nodes(8, 8, 8),
        [
            g("ns/big", 1, queue="team", created=1, waiting_since=WAITED),
            g("other/one", 1, 4, queue="team", created=2),
            g("other/two", 1, 8, queue="team", created=3),
            g("ns/small", 1, 2, queue="other", created=4),
        ],
        ("other/one",),
        {
            "ns/big": (
                "WaitingForQuota",
                "ResourceQuota gpus: needs 8 requests.nvidia.com/gpu, 4 of 8 used" + RESERVES,
            ),
            "other/two": (
                "WaitingForQuota",
                "ClusterQueue team: needs 8 GPUs, 12 of its nominalQuota of 16 in use" + HELD.format(8),
            ),
            "ns/small": ("WaitingInQueue", "behind ns/big, which holds a reservation"),
        },
        quotas=[Quota("ns", "gpus", gpus_hard=8, gpus_used=4)],
        reserved=("ns/big",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_backfill_beside_a_reservation(case: Case) -> None:
    decision = run(case)
    assert decision.admitted == case.admitted
    assert outcome(decision) == case.waiting
    assert decision.reserved == case.reserved


def test_positions_and_held_nodes_beside_a_reservation():
    """Backfill keeps its place in the queue's count, and the pass names the nodes held for the head
    (those a backfilled pod must be kept off)."""
    decision = decide(
        nodes(8, 0, 4, 4),
        [],
        [
            g("ns/big", 2, created=1, waiting_since=WAITED),
            g("ns/a", 1, 4, created=2),
            g("ns/b", 1, 8, created=3),
        ],
        queues=QUEUES,
        now=NOW,
    )
    assert decision.admitted == ("ns/a",)
    assert decision.positions == {"ns/big": 1, "ns/b": 2}
    assert decision.held_nodes == {"ns/big": ("a-0", "a-2")}


@dataclass(frozen=True)
class Drain:
    """Passes over time around a 2 x 8 head holding a reservation from t=0 on four 8-GPU nodes.
    ``running``: (node, GPUs, ends at) at t=0; ``arrivals``: one-pod backfill jobs of the head's
    queue, (arrives at, GPUs, runs for), placed where the pass admits them (best fit off the held
    nodes). A pass runs at every arrival and every end."""

    scenario: str
    running: tuple[tuple[str, int, float], ...]
    arrivals: tuple[tuple[float, int, float], ...]
    admitted_at: float  # when the head is admitted
    backfilled: int  # backfill jobs admitted before it


DRAINS = [
    Drain(
        "its held nodes drain while backfill fills the others: admitted when they are free",
        (("a-0", 8, 40.0), ("a-1", 4, 20.0), ("a-2", 4, 30.0), ("a-3", 6, 90.0)),
        ((1.0, 2, 200.0), (5.0, 1, 200.0), (10.0, 1, 200.0)),
        30.0,  # a-1 and a-2 held (4 free each) are free at 30, whatever runs on a-0 and a-3
        1,  # the 2-GPU job on a-3; the 1-GPU ones find no GPU off the held nodes
    ),
    Drain(
        "a steady stream of small jobs: none lands on a held node, so it never waits longer",
        (("a-0", 6, 60.0), ("a-1", 4, 25.0), ("a-2", 4, 20.0), ("a-3", 6, 70.0)),
        tuple((float(t), 2, 30.0) for t in range(0, 100, 2)),
        25.0,  # a-1 and a-2 held (4 free each): free at 25 whatever the stream does
        2,  # a-0's and a-3's 2 free GPUs; then nothing is free off the held nodes until 25
    ),
    Drain(
        "nothing to backfill: the node that frees first takes a held node's place",
        (("a-1", 4, 30.0), ("a-2", 6, 5.0), ("a-3", 8, 200.0)),
        (),
        5.0,
        0,
    ),
    Drain(
        "the same with backfill: the node that frees first carried backfill, and the head waits for it",
        (("a-1", 4, 30.0), ("a-2", 6, 5.0), ("a-3", 8, 200.0)),
        ((0.0, 2, 100.0), (6.0, 4, 100.0)),
        100.0,  # no run times to plan with: a-2's backfill could not be known to outlast a-1's job
        2,
    ),
]


def drain(case: Drain) -> tuple[float, int, list[int]]:
    """Plays the passes; returns when the head was admitted, how many backfill jobs were, and the
    GPUs still busy on the held nodes at each pass."""
    running = [list(r) for r in case.running]
    waiting: list[tuple[Gang, int, float]] = []
    arrivals = list(case.arrivals)
    head = g("ns/big", 2, created=0, waiting_since=WAITED)
    busy_held: list[int] = []
    backfilled = 0
    times = sorted({0.0, *(r[2] for r in running), *(a[0] for a in arrivals)})
    while times:
        now = times.pop(0)
        running = [r for r in running if r[2] > now]
        while arrivals and arrivals[0][0] <= now:
            at, gpus, runs = arrivals.pop(0)
            waiting.append((g(f"ns/bf-{at:g}", 1, gpus, created=1 + at), gpus, runs))
        free = {f"a-{i}": 8 for i in range(4)}
        for node, gpus, _ in running:
            free[node] -= gpus
        cluster = [Node(name, 8, left, labels={"pool": "a"}) for name, left in free.items()]
        decision = decide(cluster, [], [head, *(w[0] for w in waiting)], queues=QUEUES, now=NOW + now)
        if head.key in decision.admitted:
            return now, backfilled, busy_held
        held = decision.held_nodes[head.key]
        busy_held.append(sum(8 - free[n] for n in held))
        for _, gpus, runs in [w for w in waiting if w[0].key in decision.admitted]:
            # Best fit off the held nodes, as the pass counted it.
            node = min((n for n in free if n not in held and free[n] >= gpus), key=lambda n: (free[n], n))
            free[node] -= gpus
            running.append([node, gpus, now + runs])
            times = sorted({*times, now + runs})
            backfilled += 1
        waiting = [w for w in waiting if w[0].key not in decision.admitted]
    raise AssertionError("the head was never admitted")


@pytest.mark.parametrize("case", DRAINS, ids=[c.scenario for c in DRAINS])
def test_backfill_cannot_starve_the_reservation(case: Drain) -> None:
    """The argument at the reservation in policies.admission.decide, played out: backfill never
    lands on a held node, so the GPUs still busy there never grow from one pass to the next."""
    admitted_at, backfilled, busy_held = drain(case)
    assert (admitted_at, backfilled) == (case.admitted_at, case.backfilled)
    assert busy_held == sorted(busy_held, reverse=True), busy_held
