"""A job's resync loop: a woken loop waits the debounce before it reconciles (a burst of pod events
costs one reconcile), a kick ``at_once`` skips it or ends it (GPUs stand idle until that reconcile
is done), and every kick before the reconcile is served by it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from lepton.controllers.training import loops
from lepton.controllers.training.context import Wakeups

KEY = "ns/j"
BODY = {"metadata": {"namespace": "ns", "name": "j"}}


class Loop:
    """One job's resync loop with the reconcile and the debounce's sleep recorded, not run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.wakeups = Wakeups()
        self.training = SimpleNamespace(
            wakeups=self.wakeups, settings=SimpleNamespace(resync_seconds=3600.0), clock=lambda: 0.0
        )
        self.log: list[str] = []
        self.done = False
        self.reconciled = asyncio.Event()
        self.released = asyncio.Event()

        async def reconcile(body: Mapping[str, Any], training: Any, indices: Any) -> None:
            self.log.append("reconcile")
            self.reconciled.set()

        monkeypatch.setattr(loops, "reconcile", reconcile)

    async def sleep(self, seconds: float) -> None:
        # The debounce: recorded, and held until the test lets it end (kicks may come meanwhile).
        self.log.append(f"sleep {seconds}")
        await self.released.wait()
        self.released.clear()

    def start(self) -> asyncio.Task[None]:
        self.wakeups.event(KEY)  # as the handler does before the loop first runs
        return asyncio.create_task(
            loops.resync(
                KEY,
                self.training,
                None,
                lambda: BODY,
                lambda: self.done,
                sleep=self.sleep,  # type: ignore[arg-type]
            )
        )

    async def reconciles(self) -> None:
        await asyncio.wait_for(self.reconciled.wait(), timeout=5)
        self.reconciled.clear()

    async def settle(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)


def test_a_kick_waits_the_debounce_and_one_at_once_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> list[str]:
        loop = Loop(monkeypatch)
        task = loop.start()
        loop.wakeups.kick(KEY)  # a pod event
        await loop.settle()
        assert loop.log == [f"sleep {loops.DEBOUNCE_SECONDS}"], "a pod event's kick waits the debounce"
        loop.released.set()
        await loop.reconciles()
        loop.wakeups.kick(KEY, at_once=True)  # admitted by another job's pass
        await loop.reconciles()
        loop.done = True
        loop.wakeups.kick(KEY, at_once=True)
        await asyncio.wait_for(task, timeout=5)
        return loop.log

    log = asyncio.run(scenario())
    assert log == [f"sleep {loops.DEBOUNCE_SECONDS}", "reconcile", "reconcile"], log


def test_a_kick_at_once_ends_a_debounce_under_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first of a gang's workers to stop starts the debounce; the last one's kick at once ends
    it (the debounce is not let run out), and one reconcile serves every kick so far: the next pod
    event's kick waits its debounce again."""

    async def scenario() -> list[str]:
        loop = Loop(monkeypatch)
        task = loop.start()
        loop.wakeups.kick(KEY)
        await loop.settle()
        assert loop.log == [f"sleep {loops.DEBOUNCE_SECONDS}"]
        loop.wakeups.kick(KEY, at_once=True)
        loop.wakeups.kick(KEY)
        await loop.reconciles()  # the debounce's sleep was never released
        await loop.settle()
        assert loop.log == [f"sleep {loops.DEBOUNCE_SECONDS}", "reconcile"], (
            "one reconcile for the three kicks"
        )
        assert not loop.wakeups.at_once(KEY)
        loop.wakeups.kick(KEY)  # the next pod event
        await loop.settle()
        assert loop.log[-1] == f"sleep {loops.DEBOUNCE_SECONDS}", f"its debounce was skipped: {loop.log}"
        loop.done = True
        loop.released.set()
        await asyncio.wait_for(task, timeout=5)
        return loop.log

    log = asyncio.run(scenario())
    assert log == [f"sleep {loops.DEBOUNCE_SECONDS}", "reconcile", f"sleep {loops.DEBOUNCE_SECONDS}"], log


def test_a_forgotten_job_keeps_no_kick() -> None:
    wakeups = Wakeups()
    wakeups.event(KEY)
    wakeups.kick(KEY, at_once=True)
    wakeups.forget(KEY)
    assert not wakeups.at_once(KEY)
    wakeups.clear(KEY)  # a loop ending after its job was forgotten
    assert not wakeups.at_once(KEY)
    wakeups.kick(KEY, at_once=True)  # no loop: nothing to wake, nothing kept
    assert not wakeups.at_once(KEY)
