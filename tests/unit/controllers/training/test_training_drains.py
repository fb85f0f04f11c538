"""What an admission pass is told of run times: when each node is bound to drain (its admitted jobs'
start + activeDeadlineSeconds), each waiting gang's deadline, and the pending pods' bound; and what
a job admitted beside a reservation is told of the held nodes."""

from __future__ import annotations

import asyncio

from lepton.controllers.training.observe import NodeInfo
from lepton.controllers.training.pass_inputs import JobSummary, Observed, inputs
from lepton.controllers.training.queue import Queue
from lepton.policies.placement import Placement
from lepton.policies.queues import QueuePolicy
from lepton.policies.status import Phase, PodState

NOW = 1000.0
NODES = [NodeInfo(f"gpu-{i}", 8, True) for i in range(4)]


def job(
    key: str, replicas: int, gpus: int, phase: Phase | None, created: float = 0.0, **kw: object
) -> JobSummary:
    return JobSummary(key, key, created, replicas, gpus, Placement(), None, phase, False, True, **kw)  # type: ignore[arg-type]


def pod(name: str, node: str | None, phase: str = "Running") -> PodState:
    return PodState(name, 0, 0, phase=phase, node=node)


def test_each_node_drains_by_the_latest_bound_of_the_jobs_on_it_and_unknown_where_one_has_none():
    jobs = [
        job("ns/a", 1, 4, Phase.RUNNING, deadline=60.0, started=NOW - 10),  # by NOW + 50
        job("ns/b", 1, 4, Phase.RUNNING, deadline=100.0, started=NOW - 20),  # by NOW + 80
        job("ns/c", 1, 4, Phase.RUNNING),  # no deadline
        job("ns/d", 1, 4, Phase.ADMITTED, deadline=30.0),  # startTime not in the index yet
        job("ns/e", 2, 2, Phase.RUNNING, deadline=10.0, started=NOW - 5),  # one pod bound, one not
        job("ns/waits", 1, 8, Phase.QUEUED, deadline=45.0),
    ]
    pods = {
        "ns/a": [pod("a-0", "gpu-0")],
        "ns/b": [pod("b-0", "gpu-0")],
        "ns/c": [pod("c-0", "gpu-1")],
        "ns/d": [pod("d-0", "gpu-2")],
        "ns/e": [pod("e-0", "gpu-3"), pod("e-1", None, phase="Pending")],
    }
    # gpu-3 also runs 4 GPUs of a pod of no admitted job (another workload): nothing bounds it.
    gpus = {"gpu-0": [4, 4], "gpu-1": [4], "gpu-2": [4], "gpu-3": [2, 4]}
    seen = inputs(Observed(jobs, pods, NODES, gpus, {}, now=NOW), {})
    assert {n.name: n.busy_until for n in seen.nodes} == {
        "gpu-0": NOW + 80,
        "gpu-1": None,
        "gpu-2": NOW + 30,  # admitted by now: its start, written with the admission, is no later
        "gpu-3": None,
    }
    assert [(d.pods, d.until) for d in seen.demand if d.namespace == "ns" and d.pods] == [(1, NOW + 5)]
    assert [(g.key, g.deadline) for g in seen.gangs] == [("ns/waits", 45.0)]


def test_a_finished_pod_holds_nothing_and_bounds_nothing():
    jobs = [job("ns/a", 2, 4, Phase.RUNNING, deadline=60.0, started=NOW)]
    pods = {"ns/a": [pod("a-0", "gpu-0"), pod("a-1", "gpu-1", phase="Succeeded")]}
    seen = inputs(Observed(jobs, pods, NODES, {"gpu-0": [4]}, {}, now=NOW), {})
    assert {n.name: n.busy_until for n in seen.nodes if n.name in ("gpu-0", "gpu-1")} == {
        "gpu-0": NOW + 60,
        "gpu-1": None,  # idle: policies.placement reads no bound for an idle node
    }


def test_a_job_admitted_beside_a_reservation_learns_the_held_nodes_to_avoid_whichever_pass_admitted_it():
    """gpu-0 is full, gpu-1 and gpu-3 half: the 2 x 8 head holds gpu-2 (idle) and gpu-1. The pass
    that admits ns/small admits ns/other too; each learns to avoid them, and the node its pass placed
    it on (gpu-3, the only other free one)."""
    queue = Queue(window_s=0.0)
    reserved = QueuePolicy("q", reservation_after=0.0)
    jobs = [
        job("ns/full", 1, 8, Phase.RUNNING),
        job("ns/half", 2, 4, Phase.RUNNING),
        job("ns/head", 2, 8, Phase.QUEUED, created=1.0, queue="q", queued_since=0.0),
        job("ns/small", 1, 2, None, created=2.0, queue="q"),
        job("ns/other", 1, 2, None, created=3.0, queue="q"),
    ]
    pods = {"ns/full": [pod("f-0", "gpu-0")], "ns/half": [pod("h-0", "gpu-1"), pod("h-1", "gpu-3")]}
    gpus = {"gpu-0": [8], "gpu-1": [4], "gpu-3": [4]}
    observed = Observed(jobs, pods, NODES, gpus, {}, queues={"q": reserved}, now=NOW)
    small, others = asyncio.run(queue.admit("ns/small", "ns/small", observed))
    assert (small.admitted, small.avoid, others) == (True, ("gpu-1", "gpu-2"), ("ns/other",))
    assert small.nodes == ("gpu-3",)
    other, _ = asyncio.run(queue.admit("ns/other", "ns/other", observed))
    assert (other.admitted, other.avoid, other.nodes) == (True, ("gpu-1", "gpu-2"), ("gpu-3",))
