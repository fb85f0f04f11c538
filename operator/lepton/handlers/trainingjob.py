"""kopf handlers of TrainingJob: indices over pods, nodes, jobs and PriorityClasses, and the
handlers (create, update, resume, a per-job resync daemon, pod and node events) that all end in
``reconcile``."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import kopf

from lepton.api.common import GROUP, VERSION
from lepton.api.trainingjob import PLURAL, TrainingJob
from lepton.builders.workers import JOB_LABEL
from lepton.handlers.observe import (
    bound_gpus,
    node_info,
    placement,
    pod_job_key,
    pod_state,
    timestamp,
)
from lepton.handlers.queue import DEFAULT_PRIORITY, JobSummary
from lepton.handlers.reconcile import Indices, created_pod, reconcile

if TYPE_CHECKING:
    from lepton.operator import Memo

log = logging.getLogger("lepton.trainingjob")

DEBOUNCE_SECONDS = 0.2


@kopf.index("pods", labels={JOB_LABEL: kopf.PRESENT})
async def tj_pods(body: kopf.Body, memo: Memo, **kwargs: Any) -> dict[str, Any]:
    key, state = pod_job_key(body), pod_state(body)
    if key and state is not None:
        memo.queue.seen(key, created_pod(state.name, state.attempt))
    if key:
        # Every change of a worker is a reason to look at its job. Waking the job from here costs
        # nothing, where an event handler would run kopf's handler machinery for each pod event.
        memo.queue.kick(key)
        if state is not None and state.terminal:
            _kick_waiting(memo, kwargs)
    return {key: state} if key and state else {}


def _kick_waiting(memo: Memo, kwargs: dict[str, Any]) -> None:
    """GPUs were freed: jobs waiting for them may fit now."""
    jobs = kwargs.get("tj_jobs")
    if jobs is not None:
        memo.queue.kick_all(j.key for j in jobs.get(None, ()) if j.waiting)


@kopf.index("pods")
async def tj_gpu_pods(body: kopf.Body, **_: Any) -> dict[str, int]:
    bound = bound_gpus(body)
    return {bound[0]: bound[1]} if bound else {}


@kopf.index("nodes")
async def tj_nodes(body: kopf.Body, **_: Any) -> dict[None, Any]:
    return {None: node_info(body)}


@kopf.index("scheduling.k8s.io", "v1", "priorityclasses")
async def tj_priorities(body: kopf.Body, **_: Any) -> dict[str, int]:
    value = int(body.get("value") or 0)
    named = {str(body["metadata"]["name"]): value}
    # Pods that name no class get the globalDefault's value; so do jobs in the queue (key "").
    return {**named, DEFAULT_PRIORITY: value} if body.get("globalDefault") else named


@kopf.index(GROUP, VERSION, PLURAL)
async def tj_jobs(body: kopf.Body, **_: Any) -> dict[None, JobSummary]:
    try:
        job = TrainingJob.model_validate(dict(body))
    except ValueError:
        return {}
    spec = job.spec
    raw_spec = dict(body.get("spec", {}).get("template", {}).get("spec", {}))
    summary = JobSummary(
        key=f"{job.namespace}/{job.name}",
        uid=job.metadata.uid or "",
        created=timestamp(job.metadata.creation_timestamp) or 0.0,
        replicas=spec.replicas,
        gpus_per_pod=spec.gpus_per_replica(),
        placement=placement(raw_spec),
        priority_class=spec.scheduling.priority_class_name,
        phase=job.status.phase.value if job.status and job.status.phase else None,
        suspend=spec.run_policy.suspend,
        gang=spec.scheduling.gang,
        deleting=job.metadata.deletion_timestamp is not None,
    )
    return {None: summary}


def _indices(kwargs: dict[str, Any]) -> Indices:
    return Indices(
        pods=kwargs["tj_pods"],
        gpu_pods=kwargs["tj_gpu_pods"],
        nodes=kwargs["tj_nodes"],
        jobs=kwargs["tj_jobs"],
        priorities=kwargs["tj_priorities"],
    )


@kopf.on.resume(GROUP, VERSION, PLURAL, id="resume")
@kopf.on.create(GROUP, VERSION, PLURAL, id="create")
@kopf.on.update(GROUP, VERSION, PLURAL, id="update")
async def on_change(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    await reconcile(body, memo, _indices(kwargs))
    if _key(body) in memo.queue.requeue_at:
        memo.queue.kick(_key(body))  # the daemon re-arms its timer from the new requeue time


@kopf.daemon(GROUP, VERSION, PLURAL, id="resync", cancellation_timeout=5.0)
async def resync(body: kopf.Body, memo: Memo, stopped: kopf.DaemonStopped, **kwargs: Any) -> None:
    """Reconcile when woken (pod events, freed GPUs) or when the job asked to be looked at again,
    and every resync period in any case. kopf keeps ``body`` current for daemons."""
    key = _key(body)
    wake = memo.queue.wake_event(key)
    try:
        while not stopped:
            timeout = memo.settings.resync_seconds
            due = memo.queue.requeue_at.get(key)
            if due is not None:
                timeout = max(0.0, min(timeout, due - memo.clock()))
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
                await reconcile(body, memo, _indices(kwargs))
            except (kopf.TemporaryError, kopf.PermanentError) as exc:
                log.warning("reconcile of %s failed: %s", key, exc)
                memo.queue.requeue_at[key] = memo.clock() + 5.0
    finally:
        memo.queue.forget(key)
        memo.metrics.job_phase(key, None)


def _deleted(type: str | None, **_: Any) -> bool:
    return type == "DELETED"


@kopf.on.event("pods", labels={JOB_LABEL: kopf.PRESENT}, when=_deleted)
async def pod_deleted(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    """Indices are not called for deletions: wake the job and the waiting jobs from here."""
    key = pod_job_key(body)
    if key:
        memo.queue.kick(key)
    _kick_waiting(memo, kwargs)


def _not_ready(body: kopf.Body, memo: Memo, **_: Any) -> bool:
    # kopf calls filters only once every index is filled from the initial listings: from then on the
    # controller sees the whole cluster (an index handler would say so after the first node).
    memo.metrics.watching.set(1)
    return not node_info(body).ready


@kopf.on.event("nodes", when=_not_ready)
async def node_lost(body: kopf.Body, memo: Memo, **kwargs: Any) -> None:
    name = body["metadata"]["name"]
    tj_pods: kopf.Index[str, Any] = kwargs["tj_pods"]
    for key in list(tj_pods):
        if any(p.node == name and not p.terminal for p in tj_pods[key]):
            memo.queue.kick(key)


def _key(body: kopf.Body) -> str:
    return f"{body['metadata']['namespace']}/{body['metadata']['name']}"


@kopf.on.probe(id="nodes")
def nodes_seen(**kwargs: Any) -> int:
    """Nodes in the index: /healthz shows it, and a positive count means the watches are live."""
    return len(kwargs["tj_nodes"].get(None, ()))
