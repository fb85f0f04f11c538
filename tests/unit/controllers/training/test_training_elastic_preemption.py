"""Elastic sizing and gang preemption in the same admission pass: growth never takes the GPUs held
for a preemptor, an elastic preemptor stops only what its minReplicas need, and a running elastic
job counts at its size (not spec.replicas) as a candidate victim."""

from __future__ import annotations

import asyncio

from lepton.controllers.training.observe import NodeInfo
from lepton.controllers.training.pass_inputs import JobSummary, Observed
from lepton.controllers.training.queue import Queue
from lepton.policies.elastic import Bounds
from lepton.policies.placement import Placement
from lepton.policies.status import Phase, PodState

PRIORITIES = {"top": 200, "high": 100, "low": 10}


def nodes(n: int) -> list[NodeInfo]:
    return [NodeInfo(f"gpu-{i}", 8, True) for i in range(n)]


def job(key: str, replicas: int, phase: Phase | None, klass: str, created: float, **kw: object) -> JobSummary:
    return JobSummary(key, key, created, replicas, 8, Placement(), klass, phase, False, True, **kw)  # type: ignore[arg-type]


def workers(name: str, on: dict[int, str], *, deleting: bool = False) -> list[PodState]:
    return [
        PodState(f"{name}-worker-{i}", i, 0, "Running", node=node, gpus=8, deleting=deleting)
        for i, node in on.items()
    ]


def used(pods: dict[str, list[PodState]]) -> dict[str, list[int]]:
    gpus: dict[str, list[int]] = {}
    for pod in (p for ps in pods.values() for p in ps):
        gpus.setdefault(pod.node or "", []).append(pod.gpus)
    return gpus


def test_growth_does_not_take_gpus_held_for_a_preemptor() -> None:
    grower = job("ns/el", 2, Phase.RUNNING, "top", 0, elastic=Bounds(1, 2), size=1)
    low = job("ns/low", 2, Phase.RUNNING, "low", 1, preemptible=True)
    high = job("ns/high", 2, Phase.QUEUED, "high", 5)
    pods = {"ns/el": workers("el", {0: "gpu-2"}), "ns/low": workers("low", {0: "gpu-0", 1: "gpu-1"})}

    def seen(pods: dict[str, list[PodState]], *jobs: JobSummary) -> Observed:
        return Observed(jobs, pods, nodes(3), used(pods), PRIORITIES, now=100.0)

    queue = Queue()
    waits, _ = asyncio.run(queue.admit("ns/high", "ns/high", seen(pods, grower, low, high)))
    assert (waits.reason, waits.preempting) == ("Preempting", ("ns/low",))

    # The victim's worker on gpu-0 is gone, the other one still stops.
    queue.release("ns/low", "ns/low")
    queue.preemptions.evicted("ns/low")
    stopping = job("ns/low", 2, Phase.QUEUED, "low", 1, preemptible=True)
    pods = {"ns/el": pods["ns/el"], "ns/low": workers("low", {1: "gpu-1"}, deleting=True)}
    grown, _ = asyncio.run(queue.grow("ns/el", "ns/el", seen(pods, grower, stopping, high)))
    assert grown is None, "gpu-0 is held for ns/high while its victim stops"

    # The same cluster with no preemption under way: the higher-priority grower takes gpu-0.
    grown, _ = asyncio.run(Queue().grow("ns/el", "ns/el", seen(pods, grower, stopping, high)))
    assert grown == 2


def test_an_elastic_preemptor_stops_only_what_its_minimum_needs() -> None:
    a = job("ns/a", 1, Phase.RUNNING, "low", 1, preemptible=True)
    b = job("ns/b", 1, Phase.RUNNING, "low", 2, preemptible=True)
    el = job("ns/el", 2, Phase.QUEUED, "high", 5, elastic=Bounds(1, 2))
    pods = {"ns/a": workers("a", {0: "gpu-0"}), "ns/b": workers("b", {0: "gpu-1"})}
    queue = Queue()
    observed = Observed([a, b, el], pods, nodes(2), used(pods), PRIORITIES, now=100.0)
    waits, _ = asyncio.run(queue.admit("ns/el", "ns/el", observed))
    assert waits.preempting == ("ns/b",), "one 8-GPU worker is its minimum; ns/b is the newer victim"

    # ns/b stopped: admitted at its minimum on gpu-1, to grow later without preempting ns/a.
    queue.release("ns/b", "ns/b")
    pods = {"ns/a": pods["ns/a"]}
    b = job("ns/b", 1, Phase.QUEUED, "low", 2, preemptible=True)
    observed = Observed([a, b, el], pods, nodes(2), used(pods), PRIORITIES, now=105.0)
    admitted, _ = asyncio.run(queue.admit("ns/el", "ns/el", observed))
    assert (admitted.admitted, admitted.size) == (True, 1)
    assert queue.preemptions.pending("ns/el") is None


def test_a_shrunk_elastic_job_is_a_candidate_victim_at_its_size() -> None:
    # spec.replicas 2, shrunk to 1 on node loss: its one bound worker is the whole gang now.
    shrunk = job("ns/el", 2, Phase.RUNNING, "low", 1, preemptible=True, elastic=Bounds(1, 2), size=1)
    fixed = job("ns/fixed", 1, Phase.RUNNING, "low", 2)
    high = job("ns/high", 1, Phase.QUEUED, "high", 5)
    pods = {"ns/el": workers("el", {1: "gpu-0"}), "ns/fixed": workers("fixed", {0: "gpu-1"})}
    observed = Observed([shrunk, fixed, high], pods, nodes(2), used(pods), PRIORITIES, now=100.0)
    waits, _ = asyncio.run(Queue().admit("ns/high", "ns/high", observed))
    assert (waits.reason, waits.preempting) == ("Preempting", ("ns/el",))
