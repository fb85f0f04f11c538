"""kopf registration of the TrainingJob controller: create, update and resume, a per-job resync
daemon, pod deletions and node loss; all end in ``reconcile``. The indices are in
controllers.training.indices."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.trainingjob import PLURAL
from lepton.builders.initializer import INITIALIZER_LABEL
from lepton.builders.workers import JOB_LABEL
from lepton.controllers.kit.errors import kopf_errors
from lepton.controllers.training.indices import HasTraining, Indices, kick_waiting
from lepton.controllers.training.observe import node_info, pod_job_key
from lepton.controllers.training.reconcile import job_key, reconcile
from lepton.kube.errors import KubeError

log = logging.getLogger("lepton.trainingjob")

DEBOUNCE_SECONDS = 0.2
# How soon a reconcile that the API server refused is tried again by the resync daemon.
RETRY_SECONDS = 5.0


@kopf.on.resume(GROUP, VERSION, PLURAL, id="resume")
@kopf.on.create(GROUP, VERSION, PLURAL, id="create")
@kopf.on.update(GROUP, VERSION, PLURAL, id="update")
@kopf_errors
async def on_change(body: kopf.Body, memo: HasTraining, **kwargs: Any) -> None:
    training = memo.training
    await reconcile(body, training, Indices.of(kwargs))
    if job_key(body) in training.wakeups.requeue_at:
        training.wakeups.kick(job_key(body))  # the daemon re-arms its timer from the new requeue time


@kopf.daemon(GROUP, VERSION, PLURAL, id="resync", cancellation_timeout=5.0)
async def resync(body: kopf.Body, memo: HasTraining, stopped: kopf.DaemonStopped, **kwargs: Any) -> None:
    """Reconcile when woken (pod events, freed GPUs) or when the job asked to be looked at again,
    and every resync period in any case. kopf keeps ``body`` current for daemons."""
    training = memo.training
    key = job_key(body)
    wake = training.wakeups.event(key)
    try:
        while not stopped:
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
                await asyncio.sleep(DEBOUNCE_SECONDS)
            wake.clear()
            if stopped:
                break
            try:
                await reconcile(body, training, Indices.of(kwargs))
            except KubeError as exc:
                log.warning("reconcile of %s failed: %s", key, exc)
                training.wakeups.requeue_at[key] = training.clock() + RETRY_SECONDS
    finally:
        training.forget(key)
        training.metrics.job_phase(key, None)


def _deleted(type: str | None, **_: Any) -> bool:
    return type == "DELETED"


@kopf.on.event("pods", labels={JOB_LABEL: kopf.PRESENT}, when=_deleted)
@kopf.on.event("pods", labels={INITIALIZER_LABEL: kopf.PRESENT}, when=_deleted, id="initializer_deleted")
async def pod_deleted(body: kopf.Body, memo: HasTraining, **kwargs: Any) -> None:
    """Indices are not called for deletions: wake the job and the waiting jobs from here."""
    key = pod_job_key(body)
    if key:
        memo.training.wakeups.kick(key)
    kick_waiting(memo.training, kwargs)


def _not_ready(body: kopf.Body, memo: HasTraining, **_: Any) -> bool:
    # kopf calls filters only once every index is filled from the initial listings: from then on the
    # controller sees the whole cluster (an index handler would say so after the first node).
    memo.training.metrics.watching.set(1)
    return not node_info(body).ready


@kopf.on.event("nodes", when=_not_ready)
async def node_lost(body: kopf.Body, memo: HasTraining, **kwargs: Any) -> None:
    name = body["metadata"]["name"]
    pods = Indices.of(kwargs).pods
    for key in list(pods):
        if any(p.node == name and not p.terminal for p in pods[key]):
            memo.training.wakeups.kick(key)


@kopf.on.probe(id="nodes")
def nodes_seen(**kwargs: Any) -> int:
    """Nodes in the index: /healthz shows it, and a positive count means the watches are live."""
    return len(kwargs["tj_nodes"].get(None, ()))
