"""What one admission pass is given: every TrainingJob and the cluster as the indices show them
(JobSummary, Observed), and the same in the terms of policies.admission and policies.preemption
(Inputs). Pure: controllers.training.queue holds the lock and what this process decided."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from lepton.controllers.training.observe import NodeInfo
from lepton.policies import admission, elastic, preemption
from lepton.policies.gpu_health import NodeFault
from lepton.policies.placement import Node, Placement
from lepton.policies.queues import QueuePolicy, Quota
from lepton.policies.status import Phase, PodState

# The priorities index's key for the globalDefault PriorityClass.
DEFAULT_PRIORITY = ""


@dataclass(frozen=True)
class JobSummary:
    """What admission needs to know about every TrainingJob (the value of the jobs index)."""

    key: str
    uid: str
    created: float
    replicas: int
    gpus_per_pod: int
    placement: Placement
    priority_class: str | None
    phase: str | None
    suspend: bool
    gang: bool
    deleting: bool = False
    initializing: bool = False
    """spec.initializers is set and has not finished: the job does not queue for GPUs yet."""
    queue: str = ""
    """spec.scheduling.queue ("" for the default queue)"""
    queued_since: float | None = None
    """when its Queued condition last turned True"""
    queue_optional: bool = False
    """the queue is (also) Volcano's: a job naming one that is no ClusterQueue uses the default queue"""
    preemptible: bool = False
    """spec.scheduling.preemptible: a higher-priority job of its queue may stop it (policies.preemption)"""
    elastic: elastic.Bounds | None = None
    """spec.elastic's bounds"""
    size: int | None = None
    """status.size (elastic)"""
    deadline: float | None = None
    """spec.runPolicy.activeDeadlineSeconds: the job is stopped that long after its start"""
    started: float | None = None
    """status.startTime (set when it is admitted)"""

    def until(self, now: float) -> float | None:
        """When a job holding its admission is bound to be gone: its start + activeDeadlineSeconds.
        A holder whose startTime the index does not show yet was admitted by now (the start is
        written with the admission), so now + the deadline bounds it; None: no deadline."""
        if self.deadline is None:
            return None
        return (self.started if self.started is not None else now) + self.deadline

    @property
    def holds_admission(self) -> bool:
        return self.phase in (Phase.ADMITTED, Phase.RUNNING)

    @property
    def waiting(self) -> bool:
        return (
            not self.suspend
            and not self.initializing
            and self.phase
            in (
                None,
                Phase.CREATED,
                Phase.QUEUED,
                Phase.RESTARTING,
                Phase.SUSPENDED,
            )
        )


@dataclass(frozen=True)
class Observed:
    """The cluster as the indices show it."""

    jobs: Iterable[JobSummary]
    pods_by_job: Mapping[str, Iterable[PodState]]
    nodes: Iterable[NodeInfo]
    gpus_by_node: Mapping[str, Iterable[int]]
    priorities: Mapping[str, int]
    faults: Mapping[str, NodeFault] = field(default_factory=dict)
    """Nodes whose GPUs are faulty (policies.gpu_health): never admitted onto."""
    queues: Mapping[str, QueuePolicy] = field(default_factory=dict)
    quotas: Iterable[Quota] = ()
    now: float = 0.0
    default_reservation: float | None = None
    """reservation bound of the default queue (jobs naming no ClusterQueue)"""


def holds(job: JobSummary, holding: Mapping[str, tuple[str, bool]]) -> bool:
    """Whether ``job`` holds its admission: what this process last decided, else its phase."""
    known = holding.get(job.key)
    return known[1] if known is not None and known[0] == job.uid else job.holds_admission


@dataclass(frozen=True)
class Inputs:
    """What the indices show, in the terms of policies.admission and policies.preemption."""

    nodes: list[Node]
    demand: list[admission.Demand]
    gangs: list[admission.Gang]
    running: list[preemption.Running]
    queues: dict[str, QueuePolicy]
    growers: list[admission.Grower]


def decide(
    observed: Observed,
    holding: Mapping[str, tuple[str, bool]],
    settling: frozenset[str] = frozenset(),
    held: Mapping[str, frozenset[str]] | None = None,
    sizes: Mapping[str, int] | None = None,
) -> admission.Decision:
    """One admission pass over what the indices show; ``settling``: jobs admitted less than
    QUOTA_SETTLE_S ago, whose pods all count beside their ResourceQuotas' used; ``held``: GPUs held
    for preemptors (policies.admission.decide); ``sizes``: elastic jobs' sizes as this process
    decided them (newer than their status.size)."""
    return decide_with(inputs(observed, holding, settling, sizes), observed, held)


def decide_with(
    seen: Inputs, observed: Observed, held: Mapping[str, frozenset[str]] | None
) -> admission.Decision:
    return admission.decide(
        seen.nodes,
        seen.demand,
        seen.gangs,
        queues=seen.queues,
        quotas=observed.quotas,
        now=observed.now,
        held=held,
        growers=seen.growers,
    )


def inputs(
    observed: Observed,
    holding: Mapping[str, tuple[str, bool]],
    settling: frozenset[str] = frozenset(),
    sizes: Mapping[str, int] | None = None,
) -> Inputs:
    used: dict[str, int] = {name: sum(gpus) for name, gpus in observed.gpus_by_node.items()}
    drains = _Drains()
    demand: list[admission.Demand] = []
    queue: list[admission.Gang] = []
    running: list[preemption.Running] = []
    growers: list[admission.Grower] = []
    for seen in observed.jobs:
        optional = seen.queue_optional and seen.queue not in observed.queues
        job = replace(seen, queue="") if optional else seen
        if job.deleting:
            continue  # its pods still count where they are bound; it needs nothing more
        if holds(job, holding):
            pods = [p for p in observed.pods_by_job.get(job.key, ()) if not p.terminal]
            bound = sum(1 for p in pods if p.node)
            # Pinned and not bound yet: they hold GPUs where they are pinned, not wherever best fit
            # would place them again (their node is the one kube-scheduler may bind them to).
            pinned = [p.placed_on for p in pods if not p.node and p.placed_on]
            for node in pinned if job.gpus_per_pod else ():
                used[node] = used.get(node, 0) + job.gpus_per_pod
            size = _size(job, sizes or {})
            until = job.until(observed.now)
            drains.add(pods, job.gpus_per_pod, until)
            demand.append(
                admission.Demand(
                    max(size - bound - len(pinned), 0) if job.gpus_per_pod else 0,
                    job.gpus_per_pod,
                    job.placement,
                    queue=job.queue,
                    namespace=job.key.partition("/")[0],
                    total_pods=size,
                    # What its namespace's ResourceQuotas do not count yet: pods not created.
                    # (While settling, only its bound pods are surely in the quota's used.)
                    uncreated=max(size - (bound if job.key in settling else len(pods)), 0),
                    until=until,
                )
            )
            if job.preemptible and job.gang and bound >= size:
                running.append(_running(job, pods, observed.priorities))
            if job.elastic is not None and _may_grow(job, job.elastic, size, bound, len(pods)):
                growers.append(_grower(job, job.elastic, size, observed.priorities))
        elif job.waiting and job.gang:
            queue.append(
                admission.Gang(
                    key=job.key,
                    pods=job.elastic.max if job.elastic else job.replicas,
                    min_pods=job.elastic.min if job.elastic else None,
                    gpus_per_pod=job.gpus_per_pod,
                    priority=_priority(job, observed.priorities),
                    created=job.created,
                    placement=job.placement,
                    queue=job.queue,
                    waiting_since=job.queued_since,
                    deadline=job.deadline,
                )
            )
    nodes = [
        Node(
            name=n.name,
            allocatable_gpus=n.allocatable_gpus,
            free_gpus=n.allocatable_gpus - used.get(n.name, 0),
            labels=n.labels,
            taints=n.taints,
            schedulable=n.ready and not n.unschedulable,
            gpu_fault=fault.why if (fault := observed.faults.get(n.name)) else "",
            busy_until=drains.until(n.name, used.get(n.name, 0)),
        )
        for n in observed.nodes
        if n.allocatable_gpus > 0
    ]
    default = QueuePolicy("", reservation_after=observed.default_reservation)
    return Inputs(nodes, demand, queue, running, {"": default, **observed.queues}, growers)


class _Drains:
    """When each node is bound to drain: the GPUs the bound pods of admitted jobs hold there, and
    the latest of their jobs' bounds (None: one has none)."""

    def __init__(self) -> None:
        self._gpus: dict[str, int] = {}
        self._until: dict[str, float | None] = {}

    def add(self, pods: Iterable[PodState], gpus_per_pod: int, until: float | None) -> None:
        for pod in pods:
            node = pod.placed_on
            if node and gpus_per_pod > 0:
                self._gpus[node] = self._gpus.get(node, 0) + gpus_per_pod
                before = self._until.get(node, until)
                self._until[node] = None if until is None or before is None else max(before, until)

    def until(self, node: str, used: int) -> float | None:
        """None also where GPUs are held by pods of no admitted job (another workload, a finished
        or deleted job's workers stopping): nothing bounds them."""
        return self._until.get(node) if self._gpus.get(node, 0) >= used else None


def _size(job: JobSummary, sizes: Mapping[str, int]) -> int:
    """How many workers an admitted job has: its elastic size, else spec.replicas."""
    if job.elastic is None:
        return job.replicas
    return sizes.get(job.key) or job.size or job.replicas


def _may_grow(job: JobSummary, bounds: elastic.Bounds, size: int, bound: int, active: int) -> bool:
    """Running elastic jobs below maxReplicas grow, once every worker they have is bound: a job
    whose workers still wait for nodes (or replacements) gets no more."""
    return job.gang and job.phase == Phase.RUNNING and size < bounds.max and bound == active == size


def _grower(
    job: JobSummary, bounds: elastic.Bounds, size: int, priorities: Mapping[str, int]
) -> admission.Grower:
    return admission.Grower(
        key=job.key,
        size=size,
        bounds=bounds,
        gpus_per_pod=job.gpus_per_pod,
        priority=_priority(job, priorities),
        created=job.created,
        placement=job.placement,
        queue=job.queue,
    )


def _priority(job: JobSummary, priorities: Mapping[str, int]) -> int:
    return priorities.get(job.priority_class or DEFAULT_PRIORITY, 0)


def _running(job: JobSummary, pods: Iterable[PodState], priorities: Mapping[str, int]) -> preemption.Running:
    held: dict[str, int] = {}
    for pod in pods:
        if pod.node:
            held[pod.node] = held.get(pod.node, 0) + job.gpus_per_pod
    return preemption.Running(
        key=job.key,
        priority=_priority(job, priorities),
        queue=job.queue,
        preemptible=job.preemptible,
        created=job.created,
        gpus_by_node=held,
    )
