"""The TrainingJob controller's kopf indices (pods, GPU pods, nodes, PriorityClasses, jobs) and
``Indices``, the typed view of them that reconcile reads. Each index keeps a compact value
(controllers.training.observe), never the whole object."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import kopf

from lepton.api import clusterqueue
from lepton.api.common import GROUP, VERSION
from lepton.api.times import epoch_of
from lepton.api.trainingjob import PLURAL, TrainingJob
from lepton.builders.initializer import INITIALIZER_LABEL
from lepton.builders.podgroup import GangScheduler, gang_scheduler
from lepton.builders.workers import JOB_LABEL
from lepton.controllers.training.context import Training
from lepton.controllers.training.observe import (
    NodeInfo,
    bound_gpus,
    init_pod_state,
    node_info,
    placement,
    pod_job_key,
    pod_state,
)
from lepton.controllers.training.pass_inputs import DEFAULT_PRIORITY, JobSummary, Observed
from lepton.controllers.training.quotas import queue_policy, resource_quota
from lepton.policies import gpu_health
from lepton.policies.elastic import Bounds
from lepton.policies.gpu_health import NodeFault
from lepton.policies.initializers import InitPod, is_initialized
from lepton.policies.status import Phase, PodState


class HasTraining(Protocol):
    """The part of the operator's memo this controller uses."""

    training: Training


def created_pod(name: str, attempt: int) -> str:
    """How the created-objects memory names a worker pod of one attempt."""
    return f"pod/{name}/{attempt}"


def created_init_pod(pod_name: str) -> str:
    """How the created-objects memory names a job's initializer pod."""
    return f"pod/{pod_name}/init"


@kopf.index("pods", labels={JOB_LABEL: kopf.PRESENT})
async def tj_pods(body: kopf.Body, memo: HasTraining, **kwargs: Any) -> dict[str, Any]:
    training = memo.training
    key, state = pod_job_key(body), pod_state(body)
    if key and state is not None:
        training.created.seen(key, created_pod(state.name, state.attempt))
    if key:
        # Every change of a worker is a reason to look at its job. Waking the job from here costs
        # nothing, where an event handler would run kopf's handler machinery for each pod event.
        # The last of its workers to stop wakes it at once: its GPUs wait idle until its reconcile
        # releases them (other pod events come in bursts, and the loop waits a moment for the rest).
        stopped = state is not None and state.terminal
        training.wakeups.kick(key, at_once=stopped and _last_to_stop(kwargs.get("tj_pods"), key, state))
        if stopped and not _counts_its_workers(training, kwargs.get("tj_jobs"), key):
            kick_waiting(training, kwargs)
    return {key: state} if key and state else {}


def _counts_its_workers(
    training: Training, jobs: Mapping[Any, Iterable[JobSummary]] | None, key: str
) -> bool:
    """Whether an admission pass counts the job's stopped workers' GPUs as its own (its demand): it
    holds its admission and is not being deleted. Then its reconcile releases them and wakes the
    waiting jobs (controllers.training.reconcile); else they are free as each worker stops."""
    summary = next((j for j in (jobs or {}).get(None, ()) if j.key == key), None)
    return summary is not None and not summary.deleting and training.queue.holds(summary)


def _last_to_stop(pods: Mapping[str, Iterable[PodState]] | None, key: str, state: PodState | None) -> bool:
    """Whether no worker of the job but ``state``'s is active, as the pods index shows them (it
    holds ``state``'s pod as it was before this event)."""
    if pods is None or state is None:
        return False
    return not any(p.name != state.name and not p.terminal for p in pods.get(key, ()))


@kopf.index("pods", labels={INITIALIZER_LABEL: kopf.PRESENT})
async def tj_init_pods(body: kopf.Body, memo: HasTraining, **_: Any) -> dict[str, InitPod]:
    """The initializer pod of each job; every change of it wakes its job."""
    key = pod_job_key(body)
    if not key:
        return {}
    state = init_pod_state(body)
    memo.training.created.seen(key, created_init_pod(state.name))
    memo.training.wakeups.kick(key)
    return {key: state}


def kick_waiting(training: Training, kwargs: Mapping[str, Any], namespace: str | None = None) -> None:
    """GPUs (or quota) were freed: jobs waiting for them (in ``namespace``, when given) may fit now,
    and running elastic jobs may grow."""
    jobs = kwargs.get("tj_jobs")
    if jobs is not None:
        prefix = f"{namespace}/" if namespace is not None else ""
        training.wakeups.kick_all(
            j.key for j in jobs.get(None, ()) if (j.waiting or _below_max(j)) and j.key.startswith(prefix)
        )


@kopf.index("pods")
async def tj_gpu_pods(body: kopf.Body, **_: Any) -> dict[str, int]:
    bound = bound_gpus(body)
    return {bound[0]: bound[1]} if bound else {}


@kopf.index("nodes")
async def tj_nodes(body: kopf.Body, memo: HasTraining, **kwargs: Any) -> dict[None, Any]:
    info = node_info(body)
    training = memo.training
    fault = gpu_health.node_fault(info.health, training.settings.gpu_fault_conditions)
    if training.node_faults.get(info.name) != fault:
        # A GPU fault appeared or went away: without this, the jobs it concerns would only notice
        # at their next resync.
        training.node_faults[info.name] = fault
        _count_faults(training)
        if fault is None:
            kick_waiting(training, kwargs)
        elif fault.unhealthy and (pods := kwargs.get("tj_pods")) is not None:
            training.wakeups.kick_all(
                key for key, states in pods.items() if any(p.node == info.name for p in states)
            )
    return {None: info}


@kopf.index("scheduling.k8s.io", "v1", "priorityclasses")
async def tj_priorities(body: kopf.Body, **_: Any) -> dict[str, int]:
    value = int(body.get("value") or 0)
    named = {str(body["metadata"]["name"]): value}
    # Pods that name no class get the globalDefault's value; so do jobs in the queue (key "").
    return {**named, DEFAULT_PRIORITY: value} if body.get("globalDefault") else named


def _count_faults(training: Training) -> None:
    faults = [f for f in training.node_faults.values() if f is not None]
    unhealthy = sum(f.unhealthy for f in faults)
    training.metrics.gpu_faulty_nodes.labels("unhealthy").set(unhealthy)
    training.metrics.gpu_faulty_nodes.labels("degraded").set(len(faults) - unhealthy)


@kopf.index(GROUP, VERSION, clusterqueue.PLURAL)
async def tj_queues(body: kopf.Body, memo: HasTraining, **kwargs: Any) -> dict[str, Any]:
    """ClusterQueue name -> QueuePolicy. A queue created or changed may let its waiting jobs in."""
    policy = queue_policy(body)
    kick_waiting(memo.training, kwargs)
    return {policy.name: policy} if policy is not None else {}


@kopf.index("resourcequotas")
async def tj_quotas(body: kopf.Body, memo: HasTraining, **kwargs: Any) -> dict[str, Any]:
    """namespace -> Quota of each ResourceQuota limiting GPUs or pods. Its used amounts change as
    pods come and go: waiting jobs look again."""
    quota = resource_quota(body)
    if quota is None:
        return {}
    kick_waiting(memo.training, kwargs, quota.namespace)
    return {quota.namespace: quota}


@kopf.index(GROUP, VERSION, PLURAL)
async def tj_jobs(body: kopf.Body, memo: HasTraining, **_: Any) -> dict[None, JobSummary]:
    key = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
    if memo.training.tasks.tracked(key):
        memo.training.tasks.seen(key, body)  # the job's loops read the current object from there
    try:
        job = TrainingJob.model_validate(dict(body))
    except ValueError:
        return {}
    spec = job.spec
    raw_spec = dict(body.get("spec", {}).get("template", {}).get("spec", {}))
    summary = JobSummary(
        key=f"{job.namespace}/{job.name}",
        uid=job.metadata.uid or "",
        created=epoch_of(job.metadata.creation_timestamp) or 0.0,
        replicas=spec.replicas,
        gpus_per_pod=spec.gpus_per_replica(),
        placement=placement(raw_spec),
        priority_class=spec.scheduling.priority_class_name,
        queue=spec.scheduling.queue or "",
        queued_since=_queued_since(job),
        queue_optional=gang_scheduler(job) is GangScheduler.VOLCANO,
        phase=job.status.phase.value if job.status and job.status.phase else None,
        suspend=spec.run_policy.suspend,
        gang=spec.scheduling.gang,
        preemptible=spec.scheduling.preemptible,
        deleting=job.metadata.deletion_timestamp is not None,
        initializing=spec.initializers is not None
        and not is_initialized(job.status.conditions if job.status else None),
        elastic=Bounds(spec.elastic.min_replicas, spec.elastic.max_replicas) if spec.elastic else None,
        size=job.status.size if job.status else None,
        deadline=spec.run_policy.active_deadline_seconds,
        started=epoch_of(job.status.start_time) if job.status else None,
    )
    return {None: summary}


def _queued_since(job: TrainingJob) -> float | None:
    """When the job last entered the queue (its Queued condition turning True)."""
    for condition in (job.status.conditions if job.status else None) or []:
        if condition.type == "Queued" and condition.status == "True":
            return epoch_of(condition.last_transition_time)
    return None


@dataclass(frozen=True)
class Indices:
    """The indices above, as reconcile reads them."""

    pods: Mapping[str, Any]
    """namespace/job -> PodState of each worker"""
    gpu_pods: Mapping[str, Any]
    """node -> GPUs of each bound, unfinished pod"""
    nodes: Mapping[Any, Any]
    """None -> NodeInfo of every node"""
    jobs: Mapping[Any, Any]
    """None -> JobSummary of every job"""
    priorities: Mapping[str, Any]
    """PriorityClass name ("" for the globalDefault) -> value"""
    init_pods: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """namespace/job -> InitPod of the job's initializer pod"""
    queues: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """ClusterQueue name -> QueuePolicy"""
    quotas: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """namespace -> Quota of each ResourceQuota limiting GPUs or pods"""

    @classmethod
    def of(cls, kwargs: Mapping[str, Any]) -> Indices:
        """The view over the indices kopf passes to every handler."""
        return cls(
            pods=kwargs["tj_pods"],
            gpu_pods=kwargs["tj_gpu_pods"],
            nodes=kwargs["tj_nodes"],
            jobs=kwargs["tj_jobs"],
            priorities=kwargs["tj_priorities"],
            init_pods=kwargs["tj_init_pods"],
            queues=kwargs["tj_queues"],
            quotas=kwargs["tj_quotas"],
        )

    def job_pods(self, key: str) -> list[PodState]:
        return list(self.pods.get(key, []))

    def init_pod(self, key: str) -> InitPod | None:
        return next(iter(self.init_pods.get(key, ())), None)

    def node_list(self) -> list[NodeInfo]:
        return list(self.nodes.get(None, []))

    def observed(
        self,
        *,
        initialized: str | None = None,
        faults: Mapping[str, NodeFault] | None = None,
        now: float = 0.0,
        default_reservation: float | None = None,
    ) -> Observed:
        """The cluster for an admission pass; ``initialized`` names a job whose initializers just
        finished, which the jobs index shows only once the status write comes back; ``faults`` the
        nodes whose GPUs are faulty (``gpu_faults``)."""
        jobs: list[JobSummary] = list(self.jobs.get(None, []))
        return Observed(
            jobs=[dataclasses.replace(j, initializing=False) if j.key == initialized else j for j in jobs],
            pods_by_job=self.pods,
            nodes=self.node_list(),
            gpus_by_node=self.gpu_pods,
            priorities={name: next(iter(values)) for name, values in self.priorities.items()},
            faults=faults or {},
            queues={name: next(iter(values)) for name, values in self.queues.items()},
            quotas=[quota for values in self.quotas.values() for quota in values],
            now=now,
            default_reservation=default_reservation,
        )

    def gpu_faults(self, fault_conditions: Iterable[str]) -> dict[str, NodeFault]:
        """Nodes whose GPUs a health agent or the device plugin reports faulty, and why."""
        # Read on every reconcile: only the few nodes reporting anything are looked at closely.
        suspects = (n.health for n in self.node_list() if n.problems or n.allocatable_gpus < n.capacity_gpus)
        return gpu_health.faulty_nodes(suspects, fault_conditions)

    def lost_nodes(self, now: float, grace: float) -> tuple[frozenset[str], float | None]:
        """Nodes NotReady for at least ``grace`` seconds, and when the next one would count as lost.

        A node that misses a few heartbeats is often back within seconds; restarting a whole
        gang for that would cost more than waiting a little.
        """
        lost: set[str] = set()
        next_due: float | None = None
        for node in self.node_list():
            if node.ready:
                continue
            due = (node.ready_changed or 0.0) + grace
            if due <= now:
                lost.add(node.name)
            else:
                next_due = due if next_due is None else min(next_due, due)
        return frozenset(lost), next_due

    def queued_jobs(self) -> list[str]:
        """Jobs queued for GPUs (their reconcile runs an admission pass), oldest first."""
        jobs: list[JobSummary] = list(self.jobs.get(None, []))
        queued = (None, Phase.CREATED, Phase.QUEUED)
        asking = [j for j in jobs if j.waiting and j.gang and not j.deleting and j.phase in queued]
        return [j.key for j in sorted(asking, key=lambda j: j.created)]

    def waiting_jobs(self) -> list[str]:
        """Jobs that freed GPUs may let in: waiting ones, and running elastic ones below maxReplicas."""
        jobs: list[JobSummary] = list(self.jobs.get(None, []))
        return [j.key for j in jobs if j.waiting or _below_max(j)]


def _below_max(job: JobSummary) -> bool:
    return job.elastic is not None and job.phase == "Running" and (job.size or job.replicas) < job.elastic.max
