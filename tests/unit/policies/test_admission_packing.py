"""Where admission places each admitted gang's workers (Decision.nodes, where the pods are
pinned: builders.required): best fit, the first node by name among equals, after the pending demand of jobs
admitted before, never on a node held for a reservation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from lepton.policies.admission import Demand, Gang, decide
from lepton.policies.placement import Node
from lepton.policies.queues import QueuePolicy


def nodes(*free: int) -> list[Node]:
    return [Node(f"gpu-{i}", 8, f) for i, f in enumerate(free)]


@dataclass(frozen=True)
class Row:
    scenario: str
    nodes: Sequence[Node]
    gangs: Sequence[Gang]
    placed: Mapping[str, tuple[str, ...]]
    demand: Sequence[Demand] = ()
    queues: Mapping[str, QueuePolicy] | None = None
    now: float = 0.0
    held: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


RESERVING = {"q": QueuePolicy("q", reservation_after=10)}

ROWS = [
    Row(
        "a 1-GPU job goes to the fullest node that holds it, not the empty one",
        nodes(8, 1, 8),
        [Gang("small", 1, 1)],
        {"small": ("gpu-1",)},
    ),
    Row(
        "a 1-GPU job then an 8-GPU job on two empty nodes: each gets a node of its own",
        nodes(8, 8),
        [Gang("small", 1, 1, created=1), Gang("big", 1, 8, created=2)],
        {"small": ("gpu-0",), "big": ("gpu-1",)},
    ),
    Row(
        "a gang's pods fill one node before the next (worker order)",
        nodes(6, 8, 4),
        [Gang("quad", 4, 2)],
        {"quad": ("gpu-2", "gpu-2", "gpu-0", "gpu-0")},
    ),
    Row(
        "a gang of 8-GPU pods skips the nodes too full for one",
        nodes(8, 3, 8, 8),
        [Gang("pair", 2, 8)],
        {"pair": ("gpu-0", "gpu-2")},
    ),
    Row(
        "the pending pods of a job admitted before are placed first, where its pass put them",
        nodes(8, 8),
        [Gang("next", 1, 8)],
        {"next": ("gpu-1",)},
        demand=[Demand(1, 8)],
    ),
    Row(
        "an elastic gang admitted below maxReplicas: a node per pod it is admitted with",
        nodes(8, 0, 8),
        [Gang("elastic", 4, 8, min_pods=1)],
        {"elastic": ("gpu-0", "gpu-2")},
    ),
    Row(
        "a gang that waits is placed nowhere",
        nodes(4, 4),
        [Gang("big", 1, 8)],
        {},
    ),
    Row(
        "backfill after a reserved head goes off the nodes held for it",
        nodes(2, 6, 0),
        [
            Gang("ns/head", 1, 8, queue="q", created=1, waiting_since=0),
            Gang("ns/fill", 1, 1, queue="q", created=2, waiting_since=50),
        ],
        {"ns/fill": ("gpu-0",)},
        queues=RESERVING,
        now=60,
        held={"ns/head": ("gpu-1",)},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.scenario for r in ROWS])
def test_placement(row: Row) -> None:
    decision = decide(row.nodes, row.demand, row.gangs, queues=row.queues, now=row.now)
    assert decision.nodes == row.placed
    assert decision.held_nodes == row.held
    for key, placed in decision.nodes.items():
        assert not set(placed) & set(decision.avoid.get(key, ())), "a placed node is one it must avoid"
