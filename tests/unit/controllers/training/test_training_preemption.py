"""The shell around preemption: the queue chooses victims for a job that does not fit, marks them for
their own reconciles, holds their GPUs for the preemptor while they stop (no backfill, no second
preemption), and lets go once the preemptor is admitted."""

from __future__ import annotations

import asyncio

from lepton.controllers.training.observe import NodeInfo
from lepton.controllers.training.pass_inputs import JobSummary, Observed
from lepton.controllers.training.queue import Queue
from lepton.policies.placement import Placement
from lepton.policies.status import Phase, PodState

NODES = [NodeInfo(f"gpu-{i}", 8, True) for i in range(2)]
PRIORITIES = {"high": 100, "low": 10}


def job(key: str, replicas: int, phase: Phase | None, klass: str, created: float, **kw: object) -> JobSummary:
    return JobSummary(key, key, created, replicas, 8, Placement(), klass, phase, False, True, **kw)  # type: ignore[arg-type]


def workers(name: str, nodes: list[str], *, deleting: bool = False) -> list[PodState]:
    return [
        PodState(f"{name}-worker-{i}", i, 0, "Running", node=node, gpus=8, deleting=deleting)
        for i, node in enumerate(nodes)
    ]


def admit(queue: Queue, key: str, observed: Observed):  # type: ignore[no-untyped-def]
    return asyncio.run(queue.admit(key, key, observed))


def test_preemption_from_choice_to_admission() -> None:
    queue = Queue()
    low = job("ns/low", 2, Phase.RUNNING, "low", 1, preemptible=True)
    high = job("ns/high", 2, Phase.QUEUED, "high", 5)
    small = job("ns/small", 1, Phase.QUEUED, "low", 6)  # could backfill a freed node
    pods = {"ns/low": workers("low", ["gpu-0", "gpu-1"])}
    used = {"gpu-0": [8], "gpu-1": [8]}

    def seen(pods: dict[str, list[PodState]], used: dict[str, list[int]], *jobs: JobSummary) -> Observed:
        return Observed(jobs, pods, NODES, used, PRIORITIES, now=100.0)

    waits, _ = admit(queue, "ns/high", seen(pods, used, low, high, small))
    assert (waits.admitted, waits.reason, waits.preempting) == (False, "Preempting", ("ns/low",))
    assert queue.preemptions.victim_of("ns/low", "ns/low") == "ns/high"
    assert queue.preemptions.victim_of("ns/small", "ns/small") is None

    # Asked again before the victim stopped: no second choice, no second event.
    again, _ = admit(queue, "ns/high", seen(pods, used, low, high, small))
    assert (again.reason, again.preempting) == ("Preempting", ())
    assert "ns/low" in again.message

    # The victim's reconcile wrote Queued/Preempted; one worker is gone, the other terminates.
    queue.release("ns/low", "ns/low")
    queue.preemptions.evicted("ns/low")
    low = job("ns/low", 2, Phase.QUEUED, "low", 1, preemptible=True)
    pods = {"ns/low": workers("low", ["gpu-1"], deleting=True)}
    used = {"gpu-1": [8]}
    small_waits, _ = admit(queue, "ns/small", seen(pods, used, low, high, small))
    assert not small_waits.admitted, "gpu-0 is held for ns/high, not lent to a later gang"

    # Every worker of the victim is gone: the preemptor is admitted, nothing is held any more.
    admitted, _ = admit(queue, "ns/high", seen({}, {}, low, high, small))
    assert admitted.admitted
    assert queue.preemptions.pending("ns/high") is None


def test_no_preemption_of_jobs_that_did_not_opt_in_or_for_jobs_of_lower_priority() -> None:
    queue = Queue()
    pods = {"ns/run": workers("run", ["gpu-0", "gpu-1"])}
    used = {"gpu-0": [8], "gpu-1": [8]}
    for running, waiting in [
        (job("ns/run", 2, Phase.RUNNING, "low", 1), job("ns/w", 2, Phase.QUEUED, "high", 5)),
        (
            job("ns/run", 2, Phase.RUNNING, "high", 1, preemptible=True),
            job("ns/w", 2, Phase.QUEUED, "low", 5),
        ),
    ]:
        observed = Observed([running, waiting], pods, NODES, used, PRIORITIES, now=100.0)
        waits, _ = admit(queue, "ns/w", observed)
        assert (waits.reason, waits.preempting) == ("WaitingForGPUs", ())
