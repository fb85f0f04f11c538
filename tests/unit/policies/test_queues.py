"""Admission with ClusterQueues (nominal quota, StrictFIFO / BestEffortFIFO, the head's reservation)
and namespaces' ResourceQuotas, keyed by scenario, on a fake clock (``now``)."""

from __future__ import annotations

import pytest
from queues_kit import EXCLUDED, NEVER, NOW, POOL_B, QUEUES, RESERVES, WAITED, Case, g, nodes, outcome, run

from lepton.policies.admission import Demand, decide
from lepton.policies.placement import Node, Placement
from lepton.policies.queues import Quota

CASES = [
    Case(
        "nominal quota: the second 16-GPU job of a 16-GPU queue waits, naming the queue",
        nodes(8, 8, 8, 8),
        [g("ns/one", 2, queue="team", created=1), g("ns/two", 2, queue="team", created=2)],
        ("ns/one",),
        {
            "ns/two": (
                "WaitingForQuota",
                "ClusterQueue team: needs 16 GPUs, 16 of its nominalQuota of 16 in use",
            )
        },
    ),
    Case(
        "nominal quota counts what admitted jobs of the queue hold, bound or not",
        nodes(8, 8, 8, 8),
        [g("ns/two", 1, queue="team")],
        (),
        {
            "ns/two": (
                "WaitingForQuota",
                "ClusterQueue team: needs 8 GPUs, 16 of its nominalQuota of 16 in use",
            )
        },
        demand=[Demand(0, 8, queue="team", total_pods=2)],
    ),
    Case(
        "a gang larger than its queue's quota says that it can never fit",
        nodes(8, 8, 8, 8),
        [g("ns/big", 3, queue="team")],
        (),
        {
            "ns/big": (
                "WaitingForQuota",
                "ClusterQueue team: needs 24 GPUs, 0 of its nominalQuota of 16 in use" + NEVER,
            )
        },
    ),
    Case(
        "quota of one queue is not another's: the default queue has none",
        nodes(8, 8, 8, 8),
        [g("ns/one", 2, queue="team", created=1), g("ns/two", 2, created=2)],
        ("ns/one", "ns/two"),
    ),
    Case(
        "a queue that does not exist: the job waits, and takes nothing from the others",
        nodes(8),
        [g("ns/lost", 1, queue="nope", created=1), g("ns/found", 1, created=2)],
        ("ns/found",),
        {"ns/lost": ("QueueNotFound", "ClusterQueue nope does not exist")},
    ),
    Case(
        "BestEffortFIFO: a head that does not fit is passed over by a smaller job (backfill)",
        nodes(8, 8),
        [g("ns/big", 3, created=1, waiting_since=NOW - 10), g("ns/small", 1, created=2)],
        ("ns/small",),
        {
            "ns/big": (
                "WaitingForGPUs",
                "needs 3 pods x 8 GPUs; 2 fit now; at most 2 fit on the matching nodes even when idle",
            )
        },
    ),
    Case(
        "StrictFIFO: the head blocks its queue, not the others",
        nodes(8, 8),
        [
            g("ns/big", 3, queue="strict", created=1),
            g("ns/small", 1, queue="strict", created=2),
            g("ns/elsewhere", 1, queue="other", created=3),
        ],
        ("ns/elsewhere",),
        {
            "ns/big": (
                "WaitingForGPUs",
                "needs 3 pods x 8 GPUs; 2 fit now; at most 2 fit on the matching nodes even when idle",
            ),
            "ns/small": ("WaitingInQueue", "behind ns/big, the head of a StrictFIFO queue"),
        },
    ),
    Case(
        "StrictFIFO: the head admitted, the next one waits for GPUs and blocks the third",
        nodes(8, 8, 8),
        [
            g("ns/a", 2, queue="strict", created=1),
            g("ns/b", 2, queue="strict", created=2),
            g("ns/c", 1, queue="strict", created=3),
        ],
        ("ns/a",),
        {
            "ns/b": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now"),
            "ns/c": ("WaitingInQueue", "behind ns/b, the head of a StrictFIFO queue"),
        },
    ),
    Case(
        "reservation not due yet: backfill goes on",
        nodes(8, 8, 0),
        [g("ns/big", 3, created=1, waiting_since=WAITED + 1), g("ns/small", 1, created=2)],
        ("ns/small",),
        {"ns/big": ("WaitingForGPUs", "needs 3 pods x 8 GPUs; 2 fit now")},
    ),
    Case(
        "reservation due: the head keeps the free GPUs of its nodes from every queue's backfill, its own too",
        nodes(8, 8, 0),
        [
            g("ns/big", 3, created=1, waiting_since=WAITED),
            g("ns/small", 1, created=2),
            g("ns/other", 1, queue="other", created=3),
        ],
        (),
        {
            "ns/big": ("WaitingForGPUs", "needs 3 pods x 8 GPUs; 2 fit now" + RESERVES),
            "ns/small": ("WaitingForGPUs", "needs 1 pod x 8 GPUs; 0 fit now" + EXCLUDED),
            "ns/other": ("WaitingForGPUs", "needs 1 pod x 8 GPUs; 0 fit now" + EXCLUDED),
        },
        reserved=("ns/big",),
    ),
    Case(
        "reservation: backfill on nodes the reserved gang cannot use goes on",
        nodes(8, 8, 0) + nodes(8, pool="b"),
        [
            g("ns/big", 3, created=1, waiting_since=WAITED, placement=Placement.of({"pool": "a"})),
            g("ns/elsewhere", 1, queue="other", created=2, placement=POOL_B),
        ],
        ("ns/elsewhere",),
        {"ns/big": ("WaitingForGPUs", "needs 3 pods x 8 GPUs; 2 fit now" + RESERVES)},
        reserved=("ns/big",),
    ),
    Case(
        "reservation: nodes too small for one of its pods stay open to backfill",
        [*nodes(8, 8, 0), Node("small-0", 4, 4)],
        [
            g("ns/big", 3, created=1, waiting_since=WAITED),
            g("ns/other", 1, 4, queue="other", created=2),
        ],
        ("ns/other",),
        {"ns/big": ("WaitingForGPUs", "needs 3 pods x 8 GPUs; 2 fit now" + RESERVES)},
        reserved=("ns/big",),
    ),
    Case(
        "reservation: only the nodes the head needs are held, those with the most free GPUs first; the "
        "rest backfill, its own queue's jobs too",
        nodes(4, 8, 0, 6),
        [
            g("ns/big", 2, created=1, waiting_since=WAITED),
            g("ns/small", 1, 2, created=2),
            g("ns/other", 1, 2, queue="other", created=3),
            g("ns/too-big", 1, 8, queue="other", created=4),
        ],
        ("ns/small", "ns/other"),
        {
            "ns/big": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now" + RESERVES),
            "ns/too-big": ("WaitingForGPUs", "needs 1 pod x 8 GPUs; 0 fit now" + EXCLUDED),
        },
        reserved=("ns/big",),
    ),
    Case(
        "reservation: a node holding several of its pods counts for each (2 x 4 GPUs fit on one node)",
        nodes(2, 6, 8),
        [
            g("ns/big", 4, 4, created=1, waiting_since=WAITED),
            g("ns/other", 1, 2, queue="other", created=2),
            g("ns/other-2", 1, 2, queue="other", created=3),
        ],
        ("ns/other",),
        {
            "ns/big": ("WaitingForGPUs", "needs 4 pods x 4 GPUs; 3 fit now" + RESERVES),
            "ns/other-2": ("WaitingForGPUs", "needs 1 pod x 2 GPUs; 0 fit now" + EXCLUDED),
        },
        reserved=("ns/big",),
    ),
    Case(
        "reservation of an elastic head: the nodes its minReplicas need",
        nodes(4, 8, 0, 6),
        [
            g("ns/elastic", 4, created=1, waiting_since=WAITED, min_pods=2),
            g("ns/other", 1, 4, queue="other", created=2),
        ],
        ("ns/other",),
        {
            "ns/elastic": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now" + RESERVES),
        },
        reserved=("ns/elastic",),
    ),
    Case(
        "only the head of a queue is reserved for, however long the others waited",
        nodes(8, 0),
        [
            g("ns/head", 2, created=1, waiting_since=NOW - 10),
            g("ns/second", 2, created=2, waiting_since=NOW - 5000),
            g("ns/small", 1, created=3),
        ],
        ("ns/small",),
        {
            "ns/head": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now"),
            "ns/second": ("WaitingForGPUs", "needs 2 pods x 8 GPUs; 1 fit now"),
        },
    ),
    Case(
        "the issue's case: a 16-GPU ResourceQuota and a 3 x 8 gang: it waits naming the quota, no pod",
        nodes(8, 8, 8, 8),
        [g("ns/big", 3)],
        (),
        {
            "ns/big": (
                "WaitingForQuota",
                "ResourceQuota gpus: needs 24 requests.nvidia.com/gpu, 0 of 16 used" + NEVER,
            )
        },
        quotas=[Quota("ns", "gpus", gpus_hard=16)],
    ),
    Case(
        "ResourceQuota: pods admitted but not created yet count beside the quota's used",
        nodes(8, 8, 8, 8),
        [g("ns/next", 1)],
        (),
        {
            "ns/next": (
                "WaitingForQuota",
                "ResourceQuota gpus: needs 8 requests.nvidia.com/gpu, 16 of 16 used",
            )
        },
        demand=[Demand(1, 8, namespace="ns", total_pods=2, uncreated=1)],
        quotas=[Quota("ns", "gpus", gpus_hard=16, gpus_used=8, pods_used=1)],
    ),
    Case(
        "ResourceQuota on pods: a 3-pod gang with room for 2",
        nodes(8, 8, 8, 8),
        [g("ns/cpu", 3, 0)],
        (),
        {"ns/cpu": ("WaitingForQuota", "ResourceQuota pods: needs 3 pods, 8 of 10 used")},
        quotas=[Quota("ns", "pods", pods_hard=10, pods_used=8)],
    ),
    Case(
        "two gangs of one pass never share the same quota",
        nodes(8, 8, 8, 8),
        [g("ns/a", 2, created=1), g("ns/b", 1, created=2), g("other/c", 2, created=3)],
        ("ns/a", "other/c"),
        {"ns/b": ("WaitingForQuota", "ResourceQuota gpus: needs 8 requests.nvidia.com/gpu, 16 of 16 used")},
        quotas=[Quota("ns", "gpus", gpus_hard=16)],
    ),
    Case(
        "a reserved head short of its namespace's quota blocks that namespace only",
        nodes(8, 8, 8, 8),
        [
            g("ns/big", 2, created=1, waiting_since=WAITED),
            g("ns/small", 1, queue="other", created=2),
            g("elsewhere/small", 1, queue="other", created=3),
        ],
        ("elsewhere/small",),
        {
            "ns/big": (
                "WaitingForQuota",
                "ResourceQuota gpus: needs 16 requests.nvidia.com/gpu, 8 of 16 used" + RESERVES,
            ),
            "ns/small": ("WaitingInQueue", "behind ns/big, which holds a reservation"),
        },
        quotas=[Quota("ns", "gpus", gpus_hard=16, gpus_used=8)],
        reserved=("ns/big",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_queues(case: Case) -> None:
    decision = run(case)
    assert decision.admitted == case.admitted
    assert outcome(decision) == case.waiting
    assert decision.reserved == case.reserved


def test_positions_count_within_each_queue():
    decision = decide(
        nodes(0),
        [],
        [g("ns/a", 1, created=1), g("ns/b", 1, queue="team", created=2), g("ns/c", 1, created=3)],
        queues=QUEUES,
        now=NOW,
    )
    assert decision.positions == {"ns/a": 1, "ns/b": 1, "ns/c": 2}


def test_the_reserved_job_is_admitted_first_once_its_gpus_are_free():
    """Starvation, step by step: small jobs come and go; once the big job is reserved, what they free
    stays free until the big one fits."""
    big = g("ns/big", 2, created=1, waiting_since=NOW - 1000)
    small = [g(f"ns/small-{i}", 1, created=10 + i) for i in range(3)]
    # One small job runs on node 1; node 0 is free: without the reservation small-0 would take it.
    decision = decide(nodes(8, 0), [], [big, *small], queues=QUEUES, now=NOW)
    assert decision.admitted == ()
    # The running small job ends: both nodes are free and the big job goes first.
    decision = decide(nodes(8, 8), [], [big, *small], queues=QUEUES, now=NOW + 60)
    assert decision.admitted == ("ns/big",)


def test_backfill_runs_beside_a_reservation_that_holds_only_the_nodes_it_needs():
    """A 2 x 8 head holds the two nodes with the most free GPUs; a small job of another queue runs on
    the third meanwhile, and the head is admitted once its held nodes are free, however busy the
    third stays. Holding every node, the small job would have waited and a-2's GPUs stayed idle."""
    big = g("ns/big", 2, created=1, waiting_since=NOW - 1000)
    small = g("ns/small", 1, 4, queue="other", created=10)
    decision = decide(nodes(8, 4, 4), [], [big, small], queues=QUEUES, now=NOW)
    # a-0 and a-1 held (equal free counts go by name); a-2's 4 free GPUs backfill.
    assert (decision.admitted, decision.reserved) == (("ns/small",), ("ns/big",))
    decision = decide(nodes(8, 8, 0), [], [big], queues=QUEUES, now=NOW + 60)
    assert decision.admitted == ("ns/big",)
