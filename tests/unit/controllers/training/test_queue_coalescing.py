"""Admission passes coalesced: a job that asks alone is decided at once; jobs that ask within the
window after a pass are decided by one pass when it ends (the window lets the jobs applied together
into the index first), and a job that a pass begun after its request left waiting takes that pass's
answer instead of running its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lepton.controllers.training.observe import NodeInfo
from lepton.controllers.training.pass_inputs import JobSummary, Observed
from lepton.controllers.training.queue import Queue
from lepton.policies.lifecycle import Admission
from lepton.policies.placement import Placement

NODES = [NodeInfo(f"gpu-{i}", 8, True) for i in range(4)]


def job(key: str, replicas: int, created: float) -> JobSummary:
    return JobSummary(key, key, created, replicas, 8, Placement(), None, None, False, True)


class Index:
    """The jobs index as the passes read it, and how many passes read it."""

    def __init__(self) -> None:
        self.jobs: list[JobSummary] = []
        self.reads = 0

    def observe(self) -> Callable[[], Observed]:
        def read() -> Observed:
            self.reads += 1
            return Observed(list(self.jobs), {}, NODES, {}, {}, now=1000.0)

        return read


async def arrive(queue: Queue, index: Index, summary: JobSummary, after: float) -> Admission:
    """A job appears in the index ``after`` seconds from now and its reconcile asks at once."""
    await asyncio.sleep(after)
    index.jobs.append(summary)
    admission, _ = await queue.admit(summary.key, summary.uid, index.observe())
    return admission


def test_jobs_applied_together_are_admitted_by_two_passes():
    index, queue = Index(), Queue(window_s=0.05)
    jobs = [job(f"ns/j{i}", 1, created=i) for i in range(4)]

    async def burst() -> list[Admission]:
        # The first job asks alone and is decided at once; the rest arrive within the window its
        # pass opened, as a burst of applies does, and share the pass at the window's end.
        return list(await asyncio.gather(*(arrive(queue, index, j, 0.005 * i) for i, j in enumerate(jobs))))

    answers = asyncio.run(burst())
    assert [a.admitted for a in answers] == [True] * 4
    assert index.reads == 2, f"one pass for the first job, one for the three after it; saw {index.reads}"


def test_a_job_alone_is_decided_without_waiting_for_the_window():
    index, queue = Index(), Queue(window_s=30.0)
    index.jobs.append(job("ns/alone", 1, created=0))

    async def ask() -> Admission:
        admission, _ = await asyncio.wait_for(queue.admit("ns/alone", "ns/alone", index.observe()), 5)
        return admission

    assert asyncio.run(ask()).admitted, "a lone job waited for a window no pass had opened"
    assert index.reads == 1


def test_a_job_asking_right_after_a_pass_waits_for_the_window_to_end():
    window = 0.2
    index, queue = Index(), Queue(window_s=window)
    index.jobs.extend([job("ns/first", 1, created=0), job("ns/next", 1, created=1)])

    async def two() -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        await queue.admit("ns/first", "ns/first", index.observe())
        await queue.admit("ns/next", "ns/next", index.observe())
        return loop.time() - began

    # "first"'s pass admitted "next" too (both were in the index): "next" takes that answer once the
    # window ends, with no pass of its own.
    elapsed = asyncio.run(two())
    assert elapsed >= window, f"the second job's answer came {elapsed:.3f}s after the first pass began"
    assert index.reads == 1


def test_waiting_jobs_woken_together_share_one_pass_and_keep_their_positions():
    index, queue = Index(), Queue(window_s=0.05)
    index.jobs.append(job("ns/big", 4, created=0))
    # The whole pool is taken by "big"; three more jobs that each need the whole pool wait.
    asyncio.run(queue.admit("ns/big", "ns/big", index.observe()))
    waiting = [job(f"ns/w{i}", 4, created=1 + i) for i in range(3)]
    index.jobs.extend(waiting)
    index.reads = 0

    async def woken(summary: JobSummary) -> Admission:
        admission, _ = await queue.admit(summary.key, summary.uid, index.observe())
        queue.release(summary.key, summary.uid)  # as its reconcile does with a waiting job
        return admission

    async def all_woken() -> list[Admission]:
        return list(await asyncio.gather(*(woken(w) for w in waiting)))

    answers = asyncio.run(all_woken())
    assert index.reads == 1, f"the first pass answered all three, saw {index.reads} passes"
    assert [a.admitted for a in answers] == [False] * 3
    assert [a.position for a in answers] == [1, 2, 3], "each takes its own place from the shared pass"
    assert all(a.reason == "WaitingForGPUs" for a in answers)


def test_a_pass_from_before_the_request_is_not_reused():
    index, queue = Index(), Queue(window_s=0.0)
    index.jobs.append(job("ns/big", 4, created=0))
    index.jobs.append(job("ns/late", 4, created=1))
    asyncio.run(queue.admit("ns/big", "ns/big", index.observe()))  # leaves "late" waiting
    index.reads = 0
    # Asked after that pass: the cluster may have changed since, so it runs a pass of its own.
    answer, _ = asyncio.run(queue.admit("ns/late", "ns/late", index.observe()))
    assert not answer.admitted
    assert index.reads == 1


def test_a_job_that_starts_or_stops_holding_gpus_makes_the_next_waiting_job_look_again():
    index, queue = Index(), Queue(window_s=0.0)
    index.jobs.append(job("ns/big", 4, created=0))
    waiting = [job(f"ns/w{i}", 4, created=1 + i) for i in range(2)]
    asyncio.run(queue.admit("ns/big", "ns/big", index.observe()))
    index.jobs.extend(waiting)
    index.reads = 0

    async def woken_while_big_finishes() -> Admission:
        queue.window_s = 0.05
        second = asyncio.create_task(queue.admit("ns/w1", "ns/w1", index.observe()))
        await asyncio.sleep(0)  # w1 has asked and waits out its window
        queue.window_s = 0.0
        await queue.admit("ns/w0", "ns/w0", index.observe())  # a pass after w1 asked
        queue.release("ns/big", "ns/big")  # big finished
        index.jobs = index.jobs[1:]
        admission, _ = await second
        return admission

    second = asyncio.run(woken_while_big_finishes())
    assert index.reads == 2, "the pass from before big finished is not reused"
    assert queue.is_admitted("ns/w0", "ns/w0"), "the fresh pass gave big's GPUs to the head"
    assert (second.admitted, second.position) == (False, 1)
