"""One reconcile of one TrainingJob: observe (indices), decide (policies), act (kube), report
(one status write, then events). Every handler of the job funnels into ``reconcile``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lepton.api.common import API_VERSION
from lepton.api.trainingjob import PLURAL, TrainingJob
from lepton.builders.modelversion import ResultError, construct_model_version, parse_termination_message
from lepton.builders.podgroup import construct_pod_group, gang_scheduler
from lepton.builders.workers import construct_service, construct_worker_pod
from lepton.handlers.jobstate import build_status, job_state, status_patch
from lepton.handlers.queue import JobSummary, Observed
from lepton.kube import resources
from lepton.policies import lifecycle
from lepton.policies.restart import Backoff
from lepton.policies.status import WARNING_PHASES, Phase, PodState

if TYPE_CHECKING:
    from lepton.operator import Memo

log = logging.getLogger("lepton.trainingjob")


@dataclass(frozen=True)
class Indices:
    """The kopf indices the controller reads (see handlers.trainingjob)."""

    pods: Mapping[str, Any]
    gpu_pods: Mapping[str, Any]
    nodes: Mapping[Any, Any]
    jobs: Mapping[Any, Any]
    priorities: Mapping[str, Any]

    def job_pods(self, key: str) -> list[PodState]:
        return list(self.pods.get(key, []))

    def observed(self) -> Observed:
        return Observed(
            jobs=list(self.jobs.get(None, [])),
            pods_by_job=self.pods,
            nodes=list(self.nodes.get(None, [])),
            gpus_by_node=self.gpu_pods,
            priorities={name: next(iter(values)) for name, values in self.priorities.items()},
        )

    def lost_nodes(self, now: float, grace: float) -> tuple[frozenset[str], float | None]:
        """Nodes NotReady for at least ``grace`` seconds, and when the next one would count as lost.

        A node that misses a few heartbeats is often back within seconds; restarting a whole
        gang for that would cost more than waiting a little.
        """
        lost: set[str] = set()
        next_due: float | None = None
        for node in self.nodes.get(None, []):
            if node.ready:
                continue
            due = (node.ready_changed or 0.0) + grace
            if due <= now:
                lost.add(node.name)
            else:
                next_due = due if next_due is None else min(next_due, due)
        return frozenset(lost), next_due

    def waiting_jobs(self) -> list[str]:
        jobs: list[JobSummary] = list(self.jobs.get(None, []))
        return [j.key for j in jobs if j.waiting]


def timing(memo: Memo) -> lifecycle.Timing:
    s = memo.settings
    return lifecycle.Timing(
        backoff=Backoff(s.restart_backoff_seconds, s.restart_backoff_cap_seconds),
        success_grace_seconds=s.success_grace_seconds,
        poll_seconds=min(5.0, s.resync_seconds),
    )


def _fresher(body: Mapping[str, Any], cached: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Our own last write when the watch has not delivered it yet, else the body."""
    if cached is None or cached.get("metadata", {}).get("uid") != body.get("metadata", {}).get("uid"):
        return body
    try:
        ours = int(cached["metadata"]["resourceVersion"])
        theirs = int(body["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return body
    return cached if ours > theirs else body


async def reconcile(body: Mapping[str, Any], memo: Memo, indices: Indices) -> float | None:
    """Converge one job; returns when to look again (seconds), None for "on the next event"."""
    meta = body["metadata"]
    key = f"{meta['namespace']}/{meta['name']}"
    async with memo.queue.job_lock(key):
        started = time.perf_counter()
        try:
            return await _reconcile(_fresher(body, memo.queue.last_written.get(key)), key, memo, indices)
        finally:
            memo.metrics.reconcile_duration.observe(time.perf_counter() - started)


async def _reconcile(body: Mapping[str, Any], key: str, memo: Memo, indices: Indices) -> float | None:
    if body["metadata"].get("deletionTimestamp"):
        return None
    job = TrainingJob.model_validate(body)
    now = memo.clock()
    pods = indices.job_pods(key)
    state = job_state(job)
    if (conflict := memo.queue.conflicts.get(key)) is not None and state.invalid is None:
        state = replace(state, invalid=conflict)
    tm = timing(memo)
    admission: lifecycle.Admission | None = None
    if lifecycle.needs_admission(state, pods, now, tm):
        if not job.spec.scheduling.gang:
            admission = lifecycle.Admission(True, "gang admission is off (scheduling.gang: false)")
        else:
            admission, others = await memo.queue.admit(key, job.metadata.uid or "", indices.observed())
            memo.queue.kick_all(others)
    lost, next_lost = indices.lost_nodes(now, memo.settings.node_lost_seconds)
    plan = lifecycle.plan(state, pods, now=now, lost_nodes=lost, admission=admission, timing=tm)
    if next_lost is not None and any(p.node and p.active and p.node not in lost for p in pods):
        # A node of this job may count as lost soon: look again when its grace period ends.
        again = next_lost - now
        plan = replace(
            plan, requeue_after=again if plan.requeue_after is None else min(again, plan.requeue_after)
        )

    await _act(job, plan, memo)
    result = await _record_result(job, plan, pods, memo) if plan.result_pod else None
    desired = build_status(job, plan, now=now, result=result)
    current = body.get("status")
    patch = status_patch(dict(current) if current else None, desired)
    if patch is not None:
        written = await resources.patch(memo.kube, _ref(job), {"status": patch}, subresource="status")
        if written is not None:
            memo.queue.last_written[key] = written
    await _report(job, state, plan, memo)
    _account(job, state, plan, memo, indices)
    if plan.delete_job:
        await resources.delete(memo.kube, _ref(job))
    return plan.requeue_after


def _ref(job: TrainingJob) -> resources.Ref:
    return resources.Ref(API_VERSION, PLURAL, job.namespace, job.name)


async def _act(job: TrainingJob, plan: lifecycle.Plan, memo: Memo) -> None:
    kube = memo.kube
    deletions = [
        *(resources.delete(kube, resources.Ref("v1", "pods", job.namespace, name)) for name in plan.delete),
        *(
            resources.delete(kube, resources.Ref("v1", "pods", job.namespace, name), grace_seconds=0)
            for name in plan.force_delete
        ),
    ]
    if deletions:
        await asyncio.gather(*deletions)
    if not plan.create:
        return
    key, queue, now = f"{job.namespace}/{job.name}", memo.queue, memo.clock()
    pod_group = await _ensure_pod_group(job, memo)
    pods = [
        pod
        for pod in (construct_worker_pod(job, i, plan.attempt, pod_group=pod_group) for i in plan.create)
        if not queue.recently_created(key, created_pod(pod["metadata"]["name"], plan.attempt), now)
    ]
    # The Service only gives the workers their DNS names, which they look up once they run: it
    # goes out with the pods, not before them, so a burst of admissions does not queue every
    # job's pods behind every job's Service.
    creations = [
        _create(memo, key, created_pod(p["metadata"]["name"], plan.attempt), p, "pods") for p in pods
    ]
    service = f"service/{job.metadata.uid}"
    if not queue.recently_created(key, service, now):
        creations.append(_create_service(memo, key, service, job))
    await asyncio.gather(*creations)


async def _create_service(memo: Memo, key: str, what: str, job: TrainingJob) -> bool:
    """Create the headless Service; when its name is taken by something the job does not own (an
    InferenceService's Service, a user's), the workers would get no DNS names: remember why, so the
    next reconcile fails the job with that message instead of letting its rendezvous hang."""
    if await _create(memo, key, what, construct_service(job), "services"):
        return True
    existing = await resources.get(memo.kube, resources.Ref("v1", "services", job.namespace, job.name))
    owners = (existing or {}).get("metadata", {}).get("ownerReferences") or []
    if existing is None or any(o.get("uid") == job.metadata.uid for o in owners):
        return False
    holder = next((f"{o['kind']} {o['name']}" for o in owners if o.get("controller")), "no controller")
    memo.queue.conflicts[key] = (
        f"Service {job.name} exists and is not this TrainingJob's (owner: {holder}), so the workers "
        "would get no DNS names; rename the TrainingJob or remove that Service"
    )
    memo.queue.kick(key)
    return False


async def _create(memo: Memo, key: str, what: str, body: dict[str, Any], plural: str) -> bool:
    """Create ``body``; False when an object of its name exists already."""
    # Noted before the request: the watch may deliver the new pod before the request returns.
    memo.queue.created(key, what, memo.clock())
    try:
        return await resources.create(memo.kube, body, plural)
    except BaseException:
        memo.queue.seen(key, what)  # not created: the next reconcile must try again
        raise


def created_pod(name: str, attempt: int) -> str:
    """How the queue's created-objects memory names a worker pod of one attempt."""
    return f"pod/{name}/{attempt}"


async def _ensure_pod_group(job: TrainingJob, memo: Memo) -> str | None:
    scheduler = gang_scheduler(job)
    if scheduler is None:
        return None
    kind = scheduler.value
    if not await memo.discovery.served(kind.group, kind.version, kind.plural):
        return None
    await resources.create(memo.kube, construct_pod_group(job, scheduler), kind.plural)
    return job.name


async def _record_result(
    job: TrainingJob, plan: lifecycle.Plan, pods: list[PodState], memo: Memo
) -> dict[str, Any] | None:
    """Rank 0's result: a ModelVersion when spec.output is set, and metrics in the status."""
    rank0 = next((p for p in pods if p.name == plan.result_pod), None)
    if rank0 is None:
        return None
    try:
        result = parse_termination_message(rank0.termination_message)
    except ResultError as exc:
        if job.spec.output is not None:
            await _event(job, "Warning", "NoModelVersion", f"no ModelVersion recorded: {exc}", memo)
        return None
    status: dict[str, Any] = {"metrics": result.metrics} if result.metrics else {}
    if result.artifact is not None:
        status["artifact"] = result.artifact
    body = construct_model_version(job, result)
    if body is not None:
        created = await resources.create(memo.kube, body, "modelversions")
        name = body["metadata"]["name"]
        status["modelVersion"] = name
        verb = "created" if created else "already existed"
        await _event(job, "Normal", "ModelVersionCreated", f"ModelVersion {name} {verb}", memo)
    elif job.spec.output is not None:
        await _event(job, "Warning", "NoModelVersion", "rank 0 reported no artifact", memo)
    return status


async def _event(job: TrainingJob, event_type: str, reason: str, message: str, memo: Memo) -> None:
    involved = {
        "apiVersion": API_VERSION,
        "kind": "TrainingJob",
        "name": job.name,
        "namespace": job.namespace,
        "uid": job.metadata.uid,
    }
    await resources.post_event(memo.kube, involved, event_type, reason, message)


async def _report(job: TrainingJob, state: lifecycle.JobState, plan: lifecycle.Plan, memo: Memo) -> None:
    if plan.phase is state.phase and plan.reason == state.reason:
        return
    event_type = "Warning" if plan.phase in WARNING_PHASES or plan.reason == "WorkerReplaced" else "Normal"
    # A restart's cause (WorkerFailed, NodeLost) is in the message and the condition; the event
    # says what happens, so `kubectl get events` shows every restart under one reason.
    reason = "Restarting" if plan.phase is Phase.RESTARTING else plan.reason
    await _event(job, event_type, reason, plan.message or plan.phase.value, memo)
    log.info(
        "%s/%s: %s -> %s (%s) %s",
        job.namespace,
        job.name,
        state.phase.value if state.phase else "-",
        plan.phase.value,
        plan.reason,
        plan.message,
    )


def _account(
    job: TrainingJob, state: lifecycle.JobState, plan: lifecycle.Plan, memo: Memo, indices: Indices
) -> None:
    key, uid = f"{job.namespace}/{job.name}", job.metadata.uid or ""
    metrics, queue = memo.metrics, memo.queue
    metrics.job_phase(key, plan.phase.value)
    if plan.phase is Phase.ADMITTED and state.phase is not Phase.ADMITTED:
        metrics.admissions.inc()
    if plan.restart_count > state.restart_count:
        metrics.restarts.labels(plan.reason).inc()
    releasing = not plan.phase.holds_admission
    if releasing:
        queue.release(key, uid)
    else:
        queue.hold(key, uid)
    freed = (state.phase is not None and state.phase.holds_admission and releasing) or bool(
        plan.delete or plan.force_delete
    )
    if freed:
        queue.kick_all(k for k in indices.waiting_jobs() if k != key)
    if plan.requeue_after is not None:
        queue.requeue_at[key] = memo.clock() + plan.requeue_after
    else:
        queue.requeue_at.pop(key, None)
