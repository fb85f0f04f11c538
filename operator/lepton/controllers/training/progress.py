"""Live progress: a loop per running TrainingJob (controllers.training.loops; the autoscaler's
mechanism: read, then hand the reading to the one reconcile) scrapes rank 0's metrics endpoint every
progressPollSeconds and the reconcile writes status.progress in its one status write.

The operator reads the pod's endpoint itself, as Prometheus would: training pods get no API
credentials. A failed read (the pod not up yet, its process between restarts, a timeout) is logged
at debug and changes nothing; the status keeps the last progress and its lastUpdate, and the next
read comes after the same interval, so an unreachable endpoint never makes the loop spin.
"""

from __future__ import annotations

import logging
from typing import Any

from lepton.api.trainingjob import TrainingJob
from lepton.builders.workers import METRICS_PATH, metrics_port
from lepton.controllers.training.context import Training
from lepton.controllers.training.indices import Indices
from lepton.policies.metric_result import Error
from lepton.policies.progress import ExpositionError, parse, progress_status
from lepton.prom.scrape import scrape

log = logging.getLogger("lepton.trainingjob.progress")


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
