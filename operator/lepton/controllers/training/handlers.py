"""kopf registration of the TrainingJob controller: the jobs' events, each job's loops
(controllers.training.loops: started here, stopped by the job's deletion), pod deletions and node
loss; all end in ``reconcile``. The indices are in controllers.training.indices."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.trainingjob import PLURAL
from lepton.builders.initializer import INITIALIZER_LABEL
from lepton.builders.workers import JOB_LABEL
from lepton.controllers.training import loops
from lepton.controllers.training.context import Training
from lepton.controllers.training.indices import HasTraining, Indices, kick_waiting
from lepton.controllers.training.observe import node_info, pod_job_key
from lepton.controllers.training.reconcile import job_key, reconcile
from lepton.kube.errors import KubeError

log = logging.getLogger("lepton.trainingjob")


def _never() -> bool:
    # The tasks end by cancellation (the job's deletion, the operator's shutdown).
    return False


def start_loops(key: str, body: kopf.Body, training: Training, indices: Indices) -> None:
    """Track the job and start its resync task (a standalone operator only: with peering, kopf
    daemons run the loops, see controllers.training.tasks)."""
    if training.settings.peering is not None:
        return
    tasks = training.tasks
    tasks.seen(key, body)
    training.wakeups.event(key)  # a kick before the task first runs is kept

    def current() -> Mapping[str, Any] | None:
        return tasks.body(key)

    def after() -> None:
        sync_progress(key, training, indices)

    tasks.ensure(key, "resync", lambda: loops.resync(key, training, indices, current, _never, after))


def sync_progress(key: str, training: Training, indices: Indices) -> None:
    """Start the job's progress task when it runs (the task ends by itself when it stops running)."""
    tasks = training.tasks
    body = tasks.body(key)
    if body is None or not loops.polls_progress(training.objects.freshest(key, body), training):
        return
    tasks.ensure(
        key,
        "progress",
        lambda: loops.progress(key, training, indices, lambda: tasks.body(key), _never, asyncio.sleep),
    )


def _handled(body: kopf.Body) -> tuple[Any, ...]:
    """What a reconcile triggered by the job's own event is for: the job as its owner wrote it (a new
    uid is a new job; status writes leave the generation as it is)."""
    meta = body["metadata"]
    return (meta.get("uid"), meta.get("generation"), meta.get("labels"), meta.get("annotations"))


@kopf.on.event(GROUP, VERSION, PLURAL, id="job")
async def job_event(type: str | None, body: kopf.Body, memo: HasTraining, **kwargs: Any) -> None:
    """Every event of a job, the initial listing's included: reconcile a job seen for the first time
    (created, or found at start) and one its owner changed; stop its loops when it is gone.

    An event handler, not kopf's create/update/resume: those make kopf write its last-handled
    configuration into the job (a PATCH per job and change, and its watch event), and their
    failures are retried through more annotations. A failed reconcile here is retried by the
    job's resync loop."""
    training, key = memo.training, job_key(body)
    if type == "DELETED":
        training.tasks.forget(key)
        training.forget(key)
        training.metrics.job_phase(key, None)
        return
    indices = Indices.of(kwargs)
    start_loops(key, body, training, indices)
    handled = _handled(body)
    if training.handled.get(key) == handled:
        return  # our own status write coming back, or a change the loops react to
    training.handled[key] = handled
    try:
        await reconcile(body, training, indices)
    except KubeError as exc:
        log.warning("reconcile of %s failed: %s", key, exc)
        training.wakeups.requeue_at[key] = training.clock() + (exc.retry_after or loops.RETRY_SECONDS)
    if key in training.wakeups.requeue_at:
        training.wakeups.kick(key)  # the resync loop re-arms its timer from the new requeue time
    if training.tasks.tracked(key):
        sync_progress(key, training, indices)


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
