"""The rollout daemon's clock: it sleeps until the time the last decision named, re-arms when a
reconcile names another, and never wakes while nothing is due (no polling)."""

from __future__ import annotations

import asyncio
import time

import pytest

from lepton.controllers.serving.context import Requeues

KEY = "inferenceservices/ns/iris"


async def _sleeps(requeues: Requeues, within: float) -> bool:
    """Whether the sleeper is still asleep after `within` seconds."""
    try:
        await asyncio.wait_for(requeues.sleep(KEY, time.time), timeout=within)
    except TimeoutError:
        return True
    return False


def test_wakes_at_the_due_time_and_forgets_it():
    async def run() -> float:
        requeues = Requeues()
        start = time.monotonic()
        requeues.set(KEY, time.time() + 0.2)
        await requeues.sleep(KEY, time.time)
        assert KEY not in requeues.due
        return time.monotonic() - start

    assert 0.15 < asyncio.run(run()) < 2


def test_a_sooner_time_re_arms_the_sleeper():
    async def run() -> float:
        requeues = Requeues()
        requeues.set(KEY, time.time() + 3600)
        sleeper = asyncio.create_task(requeues.sleep(KEY, time.time))
        await asyncio.sleep(0)  # let it start waiting
        assert not sleeper.done()
        start = time.monotonic()
        requeues.set(KEY, time.time() + 0.1)
        await asyncio.wait_for(sleeper, timeout=5)
        return time.monotonic() - start

    assert asyncio.run(run()) < 2


@pytest.mark.parametrize("due", [None, "cleared"])
def test_nothing_due_sleeps_until_a_time_is_named(due):
    async def run() -> None:
        requeues = Requeues()
        if due == "cleared":
            requeues.set(KEY, time.time() + 3600)
            requeues.set(KEY, None)
        assert await _sleeps(requeues, 0.3)
        requeues.set(KEY, time.time() - 1)  # already due: at once
        assert not await _sleeps(requeues, 2)

    asyncio.run(run())


def test_a_pods_look_never_postpones_what_is_due_sooner():
    requeues = Requeues()
    requeues.earliest(KEY, 200.0)
    assert requeues.due[KEY] == 200.0
    requeues.earliest(KEY, 300.0)  # a rollout check at 200 stays
    assert requeues.due[KEY] == 200.0
    requeues.earliest(KEY, 100.0)
    assert requeues.due[KEY] == 100.0
