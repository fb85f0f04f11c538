"""Scaffolding of the admission scenario tables with ClusterQueues (test_queues.py,
test_admission_backfill.py): a fake clock, queues, nodes, gangs and one row's pass."""

from __future__ import annotations

from dataclasses import dataclass, field

from lepton.policies.admission import Decision, Demand, Gang, decide
from lepton.policies.placement import Node, Placement
from lepton.policies.queues import QueuePolicy, Quota

NOW = 10_000.0
BOUND = 300.0


def nodes(*free: int, pool: str = "a") -> list[Node]:
    return [Node(f"{pool}-{i}", 8, f, labels={"pool": pool}) for i, f in enumerate(free)]


QUEUES = {
    "": QueuePolicy("", reservation_after=BOUND),
    "team": QueuePolicy("team", nominal_gpus=16, reservation_after=BOUND),
    "strict": QueuePolicy("strict", strict=True, reservation_after=None),
    "strictly": QueuePolicy("strictly", strict=True, reservation_after=BOUND),
    "other": QueuePolicy("other", reservation_after=BOUND),
}
POOL_B = Placement.of({"pool": "b"})


@dataclass(frozen=True)
class Case:
    scenario: str
    nodes: list[Node]
    gangs: list[Gang]
    admitted: tuple[str, ...]
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (reason, message)
    demand: list[Demand] = field(default_factory=list)
    quotas: list[Quota] = field(default_factory=list)
    reserved: tuple[str, ...] = ()


def g(key: str, pods: int, gpus: int = 8, *, queue: str = "", created: float = 0.0, **kw: object) -> Gang:
    return Gang(key, pods, gpus, created=created, queue=queue, **kw)  # type: ignore[arg-type]


WAITED = NOW - BOUND  # queued exactly one bound ago: reserved now
NEVER = "; the quota can never hold it"
EXCLUDED = " (the nodes held for ns/big excluded)"
RESERVES = "; holds a reservation: nothing admitted after it may take what it waits for"


def run(case: Case) -> Decision:
    return decide(case.nodes, case.demand, case.gangs, queues=QUEUES, quotas=case.quotas, now=NOW)


def outcome(decision: Decision) -> dict[str, tuple[str, str]]:
    """Each waiting gang's (reason, message)."""
    return {k: (decision.reasons[k], decision.waiting[k]) for k in decision.waiting}
