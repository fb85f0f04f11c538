"""Gang admission decisions, keyed by scenario."""

from __future__ import annotations

import pytest

from lepton.policies.admission import Demand, Gang, decide
from lepton.policies.placement import Node, Placement, Taint, Toleration

GPU_TAINT = Taint("kwok.x-k8s.io/node", "fake", "NoSchedule")
TOLERATE = Placement.of(None, [Toleration("kwok.x-k8s.io/node", "Exists", "", "NoSchedule")])


def nodes(*free: int, allocatable: int = 8) -> list[Node]:
    return [Node(f"gpu-{i}", allocatable, f) for i, f in enumerate(free)]


CASES = [
    # (scenario, nodes, admitted demand, queue, expected admitted, expected waiting messages)
    (
        "whole gang fits on four idle nodes",
        nodes(8, 8, 8, 8),
        [],
        [Gang("a", 4, 8)],
        ("a",),
        {},
    ),
    (
        "fragmentation: 4+4 free on two nodes does not hold one 8-GPU pod",
        nodes(4, 4),
        [],
        [Gang("a", 1, 8)],
        (),
        {"a": "needs 1 pod x 8 GPUs; 0 fit now"},
    ),
    (
        "fragmentation: the same 8 free GPUs hold two 4-GPU pods",
        nodes(4, 4),
        [],
        [Gang("a", 2, 4)],
        ("a",),
        {},
    ),
    (
        "partial fit admits nothing and says what is missing",
        nodes(8, 8, 0, 0),
        [],
        [Gang("a", 4, 8)],
        (),
        {"a": "needs 4 pods x 8 GPUs; 2 fit now"},
    ),
    (
        "second of two 3-node jobs waits: no partial allocation",
        nodes(8, 8, 8, 8),
        [],
        [Gang("first", 3, 8, created=1), Gang("second", 3, 8, created=2)],
        ("first",),
        {"second": "needs 3 pods x 8 GPUs; 1 fit now"},
    ),
    (
        "FIFO: the older job wins when only one fits",
        nodes(8, 8),
        [],
        [Gang("young", 2, 8, created=20), Gang("old", 2, 8, created=10)],
        ("old",),
        {"young": "needs 2 pods x 8 GPUs; 0 fit now"},
    ),
    (
        "priority beats FIFO",
        nodes(8, 8),
        [],
        [Gang("old-low", 2, 8, priority=0, created=1), Gang("new-high", 2, 8, priority=100, created=50)],
        ("new-high",),
        {"old-low": "needs 2 pods x 8 GPUs; 0 fit now"},
    ),
    (
        "a gang of one",
        nodes(0, 2),
        [],
        [Gang("solo", 1, 2)],
        ("solo",),
        {},
    ),
    (
        "pending pods of an admitted job keep their GPUs",
        nodes(8, 8),
        [Demand(2, 8)],
        [Gang("late", 1, 8)],
        (),
        {"late": "needs 1 pod x 8 GPUs; 0 fit now"},
    ),
    (
        "a gang larger than the cluster says it can never fit",
        nodes(8, 8),
        [],
        [Gang("huge", 3, 8)],
        (),
        {"huge": "needs 3 pods x 8 GPUs; 2 fit now; at most 2 fit on the matching nodes even when idle"},
    ),
    (
        "best effort: a small job behind a blocked large one is admitted",
        nodes(8, 4),
        [],
        [Gang("large", 2, 8, created=1), Gang("small", 1, 4, created=2)],
        ("small",),
        {"large": "needs 2 pods x 8 GPUs; 1 fit now"},
    ),
    (
        "best fit keeps whole nodes free for big pods",
        nodes(8, 4),
        [],
        [Gang("small", 1, 4, created=1), Gang("big", 1, 8, created=2)],
        ("small", "big"),
        {},
    ),
    (
        "unschedulable nodes do not count",
        [Node("gpu-0", 8, 8, schedulable=False), Node("gpu-1", 8, 8)],
        [],
        [Gang("a", 2, 8)],
        (),
        {"a": "needs 2 pods x 8 GPUs; 1 fit now; at most 1 fit on the matching nodes even when idle"},
    ),
    (
        "CPU-only jobs need no GPUs",
        nodes(),
        [],
        [Gang("cpu", 4, 0)],
        ("cpu",),
        {},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_decide(case):
    scenario, cluster, demand, queue, admitted, waiting = case
    decision = decide(cluster, demand, queue)
    assert decision.admitted == admitted, scenario
    assert dict(decision.waiting) == waiting, scenario


PLACEMENT_CASES = [
    ("taint not tolerated", Placement(), [Node("n", 8, 8, taints=(GPU_TAINT,))], False),
    ("taint tolerated with Exists", TOLERATE, [Node("n", 8, 8, taints=(GPU_TAINT,))], True),
    (
        "taint tolerated with Equal value",
        Placement.of(None, [Toleration("kwok.x-k8s.io/node", "Equal", "fake")]),
        [Node("n", 8, 8, taints=(GPU_TAINT,))],
        True,
    ),
    (
        "wrong toleration value",
        Placement.of(None, [Toleration("kwok.x-k8s.io/node", "Equal", "real")]),
        [Node("n", 8, 8, taints=(GPU_TAINT,))],
        False,
    ),
    (
        "PreferNoSchedule does not block",
        Placement(),
        [Node("n", 8, 8, taints=(Taint("k", "", "PreferNoSchedule"),))],
        True,
    ),
    (
        "nodeSelector matches",
        Placement.of({"nvidia.com/gpu.product": "H100"}),
        [Node("n", 8, 8, labels={"nvidia.com/gpu.product": "H100"})],
        True,
    ),
    (
        "nodeSelector does not match",
        Placement.of({"nvidia.com/gpu.product": "H100"}),
        [Node("n", 8, 8, labels={"nvidia.com/gpu.product": "A100"})],
        False,
    ),
]


@pytest.mark.parametrize(
    ("scenario", "placement", "cluster", "fits"), PLACEMENT_CASES, ids=[c[0] for c in PLACEMENT_CASES]
)
def test_placement(scenario, placement, cluster, fits):
    decision = decide(cluster, [], [Gang("a", 1, 8, placement=placement)])
    assert (decision.admitted == ("a",)) is fits, scenario


def test_waiting_positions_follow_queue_order():
    decision = decide(
        nodes(), [], [Gang("b", 1, 8, created=2), Gang("a", 1, 8, created=1), Gang("c", 1, 8, priority=5)]
    )
    assert dict(decision.positions) == {"c": 1, "a": 2, "b": 3}


def test_scales_to_a_thousand_nodes_and_two_hundred_jobs():
    cluster = nodes(*([8] * 1000))
    queue = [Gang(f"job-{i}", 4, 8, created=i) for i in range(300)]
    decision = decide(cluster, [Demand(4, 8)] * 10, queue)
    assert len(decision.admitted) == 240
    assert decision.admitted[0] == "job-0"
    assert "job-299" in decision.waiting
