"""Admission across jobs: one lock, one pass over the whole queue, and reservations that outlive the
watch lag. Pure decisions live in policies.admission; this module feeds it what the indices show."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from lepton.api.trainingjob import TrainingJobReason
from lepton.controllers.training.observe import NodeInfo
from lepton.controllers.training.preempting import PREEMPTION_POLL_S, Preemptions
from lepton.policies import admission, elastic, preemption
from lepton.policies.gpu_health import NodeFault
from lepton.policies.lifecycle import Admission
from lepton.policies.placement import Node, Placement
from lepton.policies.queues import QueuePolicy, Quota
from lepton.policies.status import Phase, PodState

# The priorities index's key for the globalDefault PriorityClass.
DEFAULT_PRIORITY = ""

# A ResourceQuota's status.used and the pods index come from two watches: for a moment after a
# job's pods are created the pods index may show them while the quota's used does not yet. For
# this long after an admission the job's pods that are not bound yet count beside the quota's used
# (a brief overcount, never an undercount that would let a second gang in and have its pods
# refused), and a gang that waits for that quota looks again when the window ends.
QUOTA_SETTLE_S = 2.0


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


class Queue:
    """Admission across jobs: one lock, one pass over the whole queue, and what this process last
    decided about each job (newer than the jobs index, which shows our status writes only after the
    watch delivers them)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        # key -> (uid, holds its admission)
        self._holding: dict[str, tuple[str, bool]] = {}
        # key -> when this process admitted it (for QUOTA_SETTLE_S)
        self._admitted_at: dict[str, float] = {}
        self.preemptions = Preemptions()
        # key -> (uid, size): the size of each elastic job as this process last decided or planned it
        self._sizes: dict[str, tuple[str, int]] = {}

    def hold(self, key: str, uid: str) -> None:
        """Remember that ``key`` holds its admission, whatever the index says yet."""
        self._holding[key] = (uid, True)

    def release(self, key: str, uid: str) -> None:
        """Remember that ``key`` no longer holds GPUs (finished, suspended, restarting)."""
        self._holding[key] = (uid, False)
        self._sizes.pop(key, None)

    def forget(self, key: str) -> None:
        self._holding.pop(key, None)
        self._sizes.pop(key, None)
        self.preemptions.done(key)

    def resize(self, key: str, uid: str, size: int) -> None:
        """Remember the size an elastic job's plan gave it (it shrank, or took what a pass granted)."""
        self._sizes[key] = (uid, size)

    def granted(self, key: str, uid: str) -> int | None:
        """The size this process last gave the elastic job ``key``."""
        known = self._sizes.get(key)
        return known[1] if known is not None and known[0] == uid else None

    async def grow(self, key: str, uid: str, observed: Observed) -> tuple[int | None, tuple[str, ...]]:
        """Run one admission pass for a running elastic job below maxReplicas: its new size when the
        pass grows it, and the other jobs the pass admitted or grew (to be woken)."""
        async with self._lock:
            decision, _ = self._pass(observed)
            return decision.grown.get(key), _others(decision, key)

    def _pass(self, observed: Observed) -> tuple[admission.Decision, Inputs]:
        """One admission pass, with the GPUs held for preemptors and the sizes this process gave
        elastic jobs; remembers whom it admitted and the sizes it gave."""
        now = observed.now
        self._admitted_at = {k: t for k, t in self._admitted_at.items() if now - t < QUOTA_SETTLE_S}
        sizes = {k: size for k, (uid, size) in self._sizes.items() if uid == _uid_of(observed, k)}
        # Only while a preemption is under way: the check walks every job's pods.
        held = self.preemptions.held(_stopping(observed, self._holding)) if self.preemptions else {}
        seen = inputs(observed, self._holding, frozenset(self._admitted_at), sizes)
        decision = _decide(seen, observed, held)
        for admitted_key in decision.admitted:
            self._holding[admitted_key] = (_uid_of(observed, admitted_key), True)
            self._admitted_at[admitted_key] = now
            self.preemptions.done(admitted_key)
        for sized, size in (*decision.sizes.items(), *decision.grown.items()):
            self._sizes[sized] = (_uid_of(observed, sized), size)
        return decision, seen

    def is_admitted(self, key: str, uid: str) -> bool:
        return self._holding.get(key) == (uid, True)

    async def admit(self, key: str, uid: str, observed: Observed) -> tuple[Admission, tuple[str, ...]]:
        """Run one admission pass; whether ``key`` is admitted, and the other jobs admitted by the pass
        (to be woken: their GPUs are set aside for them now)."""
        async with self._lock:
            if self.is_admitted(key, uid):
                return Admission(True, size=self.granted(key, uid)), ()
            decision, seen = self._pass(observed)
            others = _others(decision, key)
            if key in decision.admitted:
                return Admission(
                    True, "all workers fit on the free GPUs", size=decision.sizes.get(key)
                ), others
            message = decision.waiting.get(key, "waiting for admission")
            reason = decision.reasons.get(key)
            position = decision.positions.get(key)
            if reason == TrainingJobReason.WAITING_FOR_GPUS:
                preempting = self._preempt(key, observed, seen)
                if preempting is not None:
                    return replace(preempting, position=position), others
            namespace = key.partition("/")[0]
            settling = reason == TrainingJobReason.WAITING_FOR_QUOTA and any(
                k.partition("/")[0] == namespace for k in self._admitted_at
            )
            waiting = Admission(
                False,
                message,
                reason=reason or TrainingJobReason.WAITING_FOR_GPUS,
                position=position,
                requeue_after=QUOTA_SETTLE_S if settling else None,
            )
            return waiting, others

    def _preempt(self, key: str, observed: Observed, seen: Inputs) -> Admission | None:
        """``key`` does not fit the free GPUs: stop lower-priority gangs for it (policies.preemption),
        or say that those it stopped before are still stopping. None: nothing to preempt."""
        pending = self.preemptions.pending(key)
        if pending is not None:
            message = (
                f"preempted {preemption.describe(pending.victims)}; waiting for their workers to stop "
                "(their GPUs are held for this job)"
            )
            return Admission(
                False, message, reason=TrainingJobReason.PREEMPTING, requeue_after=PREEMPTION_POLL_S
            )
        gang = next((g for g in seen.gangs if g.key == key), None)
        if gang is None:
            return None
        uids = {j.key: j.uid for j in observed.jobs}
        victims = self.preemptions.choose(gang, seen.nodes, seen.demand, seen.running, uids)
        if not victims:
            return None
        message = (
            f"preempted {preemption.describe(victims)} (lower priority, preemptible, same queue); "
            "waiting for their workers to stop (their GPUs are held for this job)"
        )
        return Admission(
            False,
            message,
            reason=TrainingJobReason.PREEMPTING,
            requeue_after=PREEMPTION_POLL_S,
            preempting=victims,
        )


def _stopping(observed: Observed, holding: Mapping[str, tuple[str, bool]]) -> dict[str, bool]:
    """Job key -> whether it still holds GPUs: it holds its admission, or a worker is not done."""
    stopping: dict[str, bool] = {}
    for job in observed.jobs:
        pods = observed.pods_by_job.get(job.key, ())
        stopping[job.key] = _holds(job, holding) or any(not p.terminal for p in pods)
    return stopping


def _holds(job: JobSummary, holding: Mapping[str, tuple[str, bool]]) -> bool:
    """Whether ``job`` holds its admission: what this process last decided, else its phase."""
    known = holding.get(job.key)
    return known[1] if known is not None and known[0] == job.uid else job.holds_admission


def _others(decision: admission.Decision, key: str) -> tuple[str, ...]:
    """The jobs other than ``key`` that the pass admitted or grew (to be woken)."""
    return tuple(k for k in (*decision.admitted, *decision.grown) if k != key)


def _uid_of(observed: Observed, key: str) -> str:
    return next((j.uid for j in observed.jobs if j.key == key), "")


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
    return _decide(inputs(observed, holding, settling, sizes), observed, held)


def _decide(
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
    nodes = [
        Node(
            name=n.name,
            allocatable_gpus=n.allocatable_gpus,
            free_gpus=n.allocatable_gpus - used.get(n.name, 0),
            labels=n.labels,
            taints=n.taints,
            schedulable=n.ready and not n.unschedulable,
            gpu_fault=fault.why if (fault := observed.faults.get(n.name)) else "",
        )
        for n in observed.nodes
        if n.allocatable_gpus > 0
    ]
    demand: list[admission.Demand] = []
    queue: list[admission.Gang] = []
    running: list[preemption.Running] = []
    growers: list[admission.Grower] = []
    for seen in observed.jobs:
        optional = seen.queue_optional and seen.queue not in observed.queues
        job = replace(seen, queue="") if optional else seen
        if job.deleting:
            continue  # its pods still count where they are bound; it needs nothing more
        if _holds(job, holding):
            pods = [p for p in observed.pods_by_job.get(job.key, ()) if not p.terminal]
            bound = sum(1 for p in pods if p.node)
            size = _size(job, sizes or {})
            demand.append(
                admission.Demand(
                    max(size - bound, 0) if job.gpus_per_pod else 0,
                    job.gpus_per_pod,
                    job.placement,
                    queue=job.queue,
                    namespace=job.key.partition("/")[0],
                    total_pods=size,
                    # What its namespace's ResourceQuotas do not count yet: pods not created.
                    # (While settling, only its bound pods are surely in the quota's used.)
                    uncreated=max(size - (bound if job.key in settling else len(pods)), 0),
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
                )
            )
    default = QueuePolicy("", reservation_after=observed.default_reservation)
    return Inputs(nodes, demand, queue, running, {"": default, **observed.queues}, growers)


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
