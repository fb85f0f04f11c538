"""Each TrainingJob's background loops (its resync and, while it runs, its progress reads) as tasks
this controller owns, keyed by job.

kopf daemons did this before, one or two per job: each daemon makes kopf put its finalizer on the job
(a PATCH on create, another on deletion, and a watch event for each), and kopf's spawning machinery
runs on every event of every job. Admitting a thousand queued jobs paid for that per job. Here the
handlers start a job's loops and the job's DELETED event stops them: no finalizer, nothing written.

kopf stops daemons while peering pauses the operator (another replica is active); it says nothing to
tasks of our own. With peering on, the job's loops therefore still run as kopf daemons
(controllers.training.daemons): only a standalone operator uses these tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from lepton.controllers.kit.objects import fresher

Loop = Callable[[], Coroutine[Any, Any, None]]


class JobTasks:
    def __init__(self) -> None:
        self._tasks: dict[str, dict[str, asyncio.Task[None]]] = {}
        self._bodies: dict[str, Mapping[str, Any]] = {}

    def tracked(self, key: str) -> bool:
        return key in self._bodies

    def seen(self, key: str, body: Mapping[str, Any]) -> None:
        """The freshest body of a tracked job (the watch's or a handler's, by resourceVersion)."""
        self._bodies[key] = fresher(body, self._bodies.get(key))

    def body(self, key: str) -> Mapping[str, Any] | None:
        return self._bodies.get(key)

    def ensure(self, key: str, name: str, loop: Loop) -> None:
        """Start ``loop`` as the job's ``name`` task unless it runs (a finished one is replaced)."""
        tasks = self._tasks.setdefault(key, {})
        task = tasks.get(name)
        if task is None or task.done():
            tasks[name] = asyncio.create_task(loop(), name=f"{name} {key}")

    def running(self, key: str, name: str) -> bool:
        task = self._tasks.get(key, {}).get(name)
        return task is not None and not task.done()

    def stop(self, key: str, name: str) -> None:
        task = self._tasks.get(key, {}).pop(name, None)
        if task is not None:
            task.cancel()

    def forget(self, key: str) -> None:
        """The job is gone: cancel its tasks and drop its body."""
        self._bodies.pop(key, None)
        for task in self._tasks.pop(key, {}).values():
            task.cancel()

    async def close(self) -> None:
        """At shutdown: cancel every task and wait for them to end."""
        tasks = [task for named in self._tasks.values() for task in named.values()]
        self._tasks.clear()
        self._bodies.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
