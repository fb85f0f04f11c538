"""Live progress: a kopf daemon per running TrainingJob (the autoscaler's mechanism: read, then hand
the reading to the one reconcile) scrapes rank 0's metrics endpoint every progressPollSeconds and
the reconcile writes status.progress in its one status write.

The operator reads the pod's endpoint itself, as Prometheus would: training pods get no API
credentials. A failed read (the pod not up yet, its process between restarts, a timeout) is logged
at debug and changes nothing; the status keeps the last progress and its lastUpdate, and the next
read comes after the same interval, so an unreachable endpoint never makes the daemon spin.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.trainingjob import PLURAL, TrainingJob, TrainingJobPhase
from lepton.builders.workers import METRICS_PATH, metrics_port
from lepton.controllers.training.context import Training
from lepton.controllers.training.indices import HasTraining, Indices
from lepton.controllers.training.reconcile import job_key, reconcile
from lepton.kube.errors import KubeError
from lepton.policies.metric_result import Error
from lepton.policies.progress import ExpositionError, parse, progress_status
from lepton.prom.scrape import scrape

log = logging.getLogger("lepton.trainingjob.progress")


def _running(status: kopf.Status, memo: HasTraining, **_: Any) -> bool:
    return (
        status.get("phase") == TrainingJobPhase.RUNNING.value
        and memo.training.settings.progress_poll_seconds > 0
    )


async def read_progress(job: TrainingJob, training: Training, indices: Indices) -> dict[str, Any] | None:
    """status.progress from rank 0 now; None when there is nothing to read or the read failed."""
    port = metrics_port(job)
    key = f"{job.namespace}/{job.name}"
    attempt = job.status.restart_count if job.status else 0
    rank0 = next(
        (p for p in indices.job_pods(key) if p.index == 0 and p.attempt == attempt and p.phase == "Running"),
        None,
    )
    if port is None or rank0 is None or not rank0.ip:
        return None
    host = f"[{rank0.ip}]" if ":" in rank0.ip else rank0.ip
    url = f"http://{host}:{port}{METRICS_PATH}"
    text = await scrape(url, timeout_seconds=training.settings.progress_timeout_seconds)
    if isinstance(text, Error):
        log.debug("progress of %s: %s", key, text.message)
        return None
    try:
        values = parse(text)
    except ExpositionError as exc:
        log.debug("progress of %s from %s: %s", key, url, exc)
        return None
    return progress_status(values, at=training.clock())


@kopf.daemon(GROUP, VERSION, PLURAL, id="progress", when=_running, cancellation_timeout=5.0)
async def progress(body: kopf.Body, memo: HasTraining, stopped: kopf.DaemonStopped, **kwargs: Any) -> None:
    """kopf keeps ``body`` current for daemons and stops this one when the job stops running."""
    training = memo.training
    key = job_key(body)
    while not stopped:
        try:
            job = TrainingJob.model_validate(dict(body))
        except ValueError:
            return  # the reconcile fails such a job with InvalidSpec
        if body["metadata"].get("deletionTimestamp"):
            return
        reading = await read_progress(job, training, Indices.of(kwargs))
        if reading is not None:
            try:
                await reconcile(body, training, Indices.of(kwargs), progress=reading)
            except KubeError as exc:
                log.warning("writing the progress of %s failed: %s", key, exc)
        await stopped.wait(training.settings.progress_poll_seconds)
