"""Each TrainingJob's loops as kopf daemons, for an operator with peering: kopf stops daemons while
peering pauses this replica, which the controller's own tasks would not notice (see
controllers.training.tasks). Imported by lepton.operator only when peering is on."""

from __future__ import annotations

from typing import Any

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.trainingjob import PLURAL
from lepton.controllers.training import loops
from lepton.controllers.training.indices import HasTraining, Indices
from lepton.controllers.training.reconcile import job_key


def _running(body: kopf.Body, memo: HasTraining, **_: Any) -> bool:
    return loops.polls_progress(body, memo.training)


@kopf.daemon(GROUP, VERSION, PLURAL, id="resync", cancellation_timeout=5.0)
async def resync(body: kopf.Body, memo: HasTraining, stopped: kopf.DaemonStopped, **kwargs: Any) -> None:
    """kopf keeps ``body`` current for daemons."""
    training, key = memo.training, job_key(body)
    try:
        await loops.resync(key, training, Indices.of(kwargs), lambda: body, lambda: bool(stopped))
    finally:
        training.forget(key)
        training.metrics.job_phase(key, None)


@kopf.daemon(GROUP, VERSION, PLURAL, id="progress", when=_running, cancellation_timeout=5.0)
async def progress(body: kopf.Body, memo: HasTraining, stopped: kopf.DaemonStopped, **kwargs: Any) -> None:
    """kopf stops this one when the job stops running."""
    await loops.progress(
        job_key(body), memo.training, Indices.of(kwargs), lambda: body, lambda: bool(stopped), stopped.wait
    )
