"""A daemon's sleep ends when the daemon is stopped, and not before, and leaves no task behind."""

from __future__ import annotations

import asyncio

from lepton.controllers.kit.stopping import sleep_unless_stopped


def test_a_stop_ends_a_long_sleep_at_once_and_cancels_it() -> None:
    async def scenario() -> tuple[bool, float, int]:
        stop = asyncio.Event()
        ended = asyncio.Event()

        async def long_sleep() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                ended.set()

        loop = asyncio.get_running_loop()
        start = loop.time()
        loop.call_later(0.05, stop.set)
        await asyncio.wait_for(sleep_unless_stopped(long_sleep(), stop.wait), timeout=5)
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return ended.is_set(), loop.time() - start, len(others)

    cancelled, took, left = asyncio.run(scenario())
    assert cancelled, "the sleep was left running after the stop"
    assert took < 1.0, f"the stop took {took:.2f} s to end the sleep"
    assert left == 0, f"{left} tasks left behind"


def test_without_a_stop_the_sleep_runs_to_its_end() -> None:
    async def scenario() -> bool:
        stop = asyncio.Event()
        slept = asyncio.Event()

        async def short_sleep() -> None:
            await asyncio.sleep(0.05)
            slept.set()

        await asyncio.wait_for(sleep_unless_stopped(short_sleep(), stop.wait), timeout=5)
        return slept.is_set()

    assert asyncio.run(scenario()), "the sleep did not run to its end while nothing stopped it"
