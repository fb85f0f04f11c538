"""Sleeping in a kopf daemon so that its stop ends the sleep: kopf sets a daemon's ``stopped`` flag
when its object is deleted (or the operator pauses or exits) and cancels the daemon, with the
warning "... is cancelled. Will escalate.", only if it has not returned by then. A daemon whose
sleep does not watch the flag is cancelled on every deletion. The serving daemons also give kopf a
cancellation backoff (2 s): it signals first and cancels only a daemon still running after it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any


async def sleep_unless_stopped(sleep: Awaitable[Any], stopping: Callable[[], Awaitable[Any]]) -> None:
    """Await ``sleep`` until it ends or ``stopping()`` (a daemon's ``stopped.wait``) does."""
    sleeping = asyncio.ensure_future(sleep)
    stopped = asyncio.ensure_future(stopping())
    try:
        await asyncio.wait({sleeping, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeping, stopped):
            task.cancel()
        for task in (sleeping, stopped):
            with contextlib.suppress(asyncio.CancelledError):
                await task
