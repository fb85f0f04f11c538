"""The controller's own per-job tasks: one task per job and name, a finished one replaced, the job's
deletion and the operator's shutdown cancel them, and the body kept is the freshest one seen."""

from __future__ import annotations

import asyncio
from typing import Any

from lepton.controllers.training.tasks import JobTasks


def body(rv: str, uid: str = "u1") -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": "j", "uid": uid, "resourceVersion": rv}}


def test_one_task_per_job_and_name_and_a_finished_one_is_replaced() -> None:
    async def scenario() -> list[str]:
        tasks, started = JobTasks(), []
        gate = asyncio.Event()

        async def loop(tag: str) -> None:
            started.append(tag)
            await gate.wait()

        tasks.ensure("ns/j", "resync", lambda: loop("first"))
        tasks.ensure("ns/j", "resync", lambda: loop("second"))  # already running: not started
        await asyncio.sleep(0)
        assert tasks.running("ns/j", "resync")
        gate.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not tasks.running("ns/j", "resync")
        tasks.ensure("ns/j", "resync", lambda: loop("third"))  # finished: replaced
        await asyncio.sleep(0)
        await tasks.close()
        return started

    assert asyncio.run(scenario()) == ["first", "third"]


def test_forget_cancels_the_jobs_tasks_only() -> None:
    async def scenario() -> None:
        tasks = JobTasks()
        tasks.seen("ns/a", body("1"))

        async def forever() -> None:
            await asyncio.Event().wait()

        tasks.ensure("ns/a", "resync", forever)
        tasks.ensure("ns/a", "progress", forever)
        tasks.ensure("ns/b", "resync", forever)
        await asyncio.sleep(0)
        tasks.forget("ns/a")
        await asyncio.sleep(0)
        assert not tasks.running("ns/a", "resync")
        assert not tasks.running("ns/a", "progress")
        assert not tasks.tracked("ns/a")
        assert tasks.running("ns/b", "resync")
        await tasks.close()
        assert not tasks.running("ns/b", "resync"), "shutdown cancels every task"

    asyncio.run(scenario())


def test_the_freshest_body_is_kept_whichever_order_it_comes_in() -> None:
    tasks = JobTasks()
    tasks.seen("ns/j", body("5"))
    tasks.seen("ns/j", body("4"))  # an older event after our own write
    assert tasks.body("ns/j") == body("5")
    tasks.seen("ns/j", body("6"))
    assert tasks.body("ns/j") == body("6")
    tasks.seen("ns/j", body("1", uid="u2"))  # the job was deleted and made again
    assert tasks.body("ns/j") == body("1", uid="u2")
