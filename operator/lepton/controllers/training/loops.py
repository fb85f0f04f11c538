"""The two loops each TrainingJob has beside its handlers: the resync (reconcile when woken by pod
events or freed GPUs, when the job asked to be looked at again, and every resync period in any case)
and, while the job runs, the progress reads (controllers.training.progress). They run as the
controller's own tasks (controllers.training.tasks) or, with peering, as kopf daemons
(controllers.training.daemons); ``body`` gives the job's current object, ``stopped`` says when to end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lepton.api.trainingjob import TrainingJob, TrainingJobPhase
from lepton.controllers.training.context import Training
from lepton.controllers.training.indices import Indices
from lepton.controllers.training.progress import read_progress
from lepton.controllers.training.reconcile import reconcile
from lepton.kube.errors import KubeError

log = logging.getLogger("lepton.trainingjob")

DEBOUNCE_SECONDS = 0.2
# How soon a reconcile that the API server refused is tried again by the resync loop.
RETRY_SECONDS = 5.0

Body = Callable[[], Mapping[str, Any] | None]


def polls_progress(body: Mapping[str, Any] | None, training: Training) -> bool:
    """The progress loop's condition: the job runs and progress polling is on."""
    phase = (body or {}).get("status", {}).get("phase")
    return phase == TrainingJobPhase.RUNNING.value and training.settings.progress_poll_seconds > 0


async def resync(
    key: str,
    training: Training,
    indices: Indices,
    body: Body,
    stopped: Callable[[], bool],
    after: Callable[[], None] = lambda: None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> None:
    """``after`` runs after each reconcile (the tasks start the progress loop from there)."""
    wake, urgent = training.wakeups.event(key), training.wakeups.urgent(key)
    while not stopped():
        timeout = training.settings.resync_seconds
        due = training.wakeups.requeue_at.get(key)
        if due is not None:
            timeout = max(0.0, min(timeout, due - training.clock()))
        try:
            await asyncio.wait_for(wake.wait(), timeout=timeout)
        except TimeoutError:
            pass
        else:
            # Pod events come in bursts (created, bound, running): one reconcile for the burst.
            await _debounce(urgent, sleep)
        training.wakeups.clear(key)
        current = body()
        if stopped() or current is None:
            break
        try:
            await reconcile(current, training, indices)
        except KubeError as exc:
            log.warning("reconcile of %s failed: %s", key, exc)
            training.wakeups.requeue_at[key] = training.clock() + RETRY_SECONDS
        after()


async def _debounce(urgent: asyncio.Event, sleep: Callable[[float], Awaitable[Any]]) -> None:
    """Wait DEBOUNCE_SECONDS, or until a kick at once (none: no wait)."""
    if urgent.is_set():
        return
    pause, cut = asyncio.ensure_future(sleep(DEBOUNCE_SECONDS)), asyncio.ensure_future(urgent.wait())
    try:
        await asyncio.wait((pause, cut), return_when=asyncio.FIRST_COMPLETED)
    finally:
        pause.cancel()
        cut.cancel()


async def progress(
    key: str,
    training: Training,
    indices: Indices,
    body: Body,
    stopped: Callable[[], bool],
    sleep: Callable[[float], Awaitable[Any]],
) -> None:
    """Read rank 0's progress every progressPollSeconds while the job runs; the reconcile writes it."""
    while not stopped():
        current = body()
        if current is None or not polls_progress(training.objects.freshest(key, current), training):
            return
        try:
            job = TrainingJob.model_validate(dict(current))
        except ValueError:
            return  # the reconcile fails such a job with InvalidSpec
        if current["metadata"].get("deletionTimestamp"):
            return
        reading = await read_progress(job, training, indices)
        if reading is not None:
            try:
                await reconcile(current, training, indices, progress=reading)
            except KubeError as exc:
                log.warning("writing the progress of %s failed: %s", key, exc)
        await sleep(training.settings.progress_poll_seconds)
