"""Gang admission: which waiting jobs fit the free GPUs of the cluster, all of their pods at once.

The input is what the operator observes (free GPUs per schedulable node, the pending demand of jobs
already admitted, the waiting jobs, their queues and their namespaces' ResourceQuotas); the output
is which jobs to admit now and, for the others, a reason and a message saying what is missing. One
call decides for every queue, so admission is serialized: no two jobs can each get part of the same
free GPUs or the same quota. Queues and quotas are in policies.queues; nodes, placements and the
free GPUs in policies.placement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from lepton.api.trainingjob import TrainingJobReason
from lepton.policies import elastic
from lepton.policies.placement import FreeGpus, Node, Placement
from lepton.policies.queues import QueuePolicy, Quota, Room


@dataclass(frozen=True)
class Demand:
    """Pods of an admitted job that hold no node yet (created and pending, or not created yet).

    ``queue``, ``namespace``, ``total_pods`` and ``uncreated`` say what the job takes of its queue's
    quota (all of its pods) and of its namespace's ResourceQuotas beyond what their status shows
    (the pods not created yet)."""

    pods: int
    gpus_per_pod: int
    placement: Placement = field(default_factory=Placement)
    queue: str = ""
    namespace: str = ""
    total_pods: int | None = None
    uncreated: int = 0


@dataclass(frozen=True)
class Gang:
    """A waiting job. Ordered by priority (higher first), then creation time, then key.
    ``waiting_since``: when it was queued (for the reservation of a queue's head)."""

    key: str
    pods: int
    gpus_per_pod: int
    priority: int = 0
    created: float = 0.0
    placement: Placement = field(default_factory=Placement)
    queue: str = ""
    waiting_since: float | None = None
    min_pods: int | None = None
    """Elastic: minReplicas (``pods`` is then maxReplicas); admitted at the largest size that fits."""

    @property
    def namespace(self) -> str:
        return self.key.partition("/")[0] if "/" in self.key else ""

    @property
    def least(self) -> int:
        """The fewest pods it can be admitted with."""
        return self.pods if self.min_pods is None else self.min_pods

    @property
    def gpus(self) -> int:
        return self.pods * max(self.gpus_per_pod, 0)


@dataclass(frozen=True)
class Decision:
    admitted: tuple[str, ...]
    waiting: Mapping[str, str]
    # Position (1-based) of each waiting job in its queue, for status and `kubectl get`.
    positions: Mapping[str, int]
    # Why each waiting job waits (a TrainingJobReason); WaitingForGPUs unless said otherwise.
    reasons: Mapping[str, str] = field(default_factory=dict)
    # Heads of queues that hold a reservation: nothing admitted after them may take what they wait for.
    reserved: tuple[str, ...] = ()
    # Reserved heads waiting for GPUs -> the nodes held for them (their free GPUs lent to no one).
    held_nodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Elastic jobs admitted by this pass: their size (their pods' count).
    sizes: Mapping[str, int] = field(default_factory=dict)
    # Running elastic jobs this pass grows: their new size.
    grown: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Grower:
    """A running elastic job below maxReplicas whose workers are all bound: it may grow."""

    key: str
    size: int
    bounds: elastic.Bounds
    gpus_per_pod: int
    priority: int = 0
    created: float = 0.0
    placement: Placement = field(default_factory=Placement)
    queue: str = ""

    @property
    def namespace(self) -> str:
        return self.key.partition("/")[0]


def queue_order(gangs: Iterable[Gang]) -> list[Gang]:
    return sorted(gangs, key=lambda g: (-g.priority, g.created, g.key))


def free_after(nodes: Sequence[Node], admitted_demand: Iterable[Demand]) -> dict[str, int]:
    """Free GPUs per node once the pending demand of admitted jobs is placed as ``decide`` places it
    (policies.preemption counts would-be victims' GPUs on top of this)."""
    free = FreeGpus(nodes)
    for demand in sorted(admitted_demand, key=lambda d: -d.gpus_per_pod):
        free.place(demand.pods, demand.gpus_per_pod, demand.placement)
    return dict(free.free)


def waiting_message(gang: Gang, fit_now: int, fit_ever: int, excluded: Sequence[str] = ()) -> str:
    """What it needs and how many fit; ``excluded``: the reserved heads whose held nodes it could
    use (their free GPUs are not counted in ``fit_now``)."""
    unit = "GPU" if gang.gpus_per_pod == 1 else "GPUs"
    pod_word = "pod" if gang.pods == 1 else "pods"
    message = f"needs {gang.pods} {pod_word} x {gang.gpus_per_pod} {unit}; {min(fit_now, gang.pods)} fit now"
    if excluded:
        message += f" (the nodes held for {', '.join(excluded)} excluded)"
    if fit_ever < gang.pods:
        message += f"; at most {fit_ever} fit on the matching nodes even when idle"
    return message


def decide(
    nodes: Sequence[Node],
    admitted_demand: Iterable[Demand],
    queue: Iterable[Gang],
    *,
    queues: Mapping[str, QueuePolicy] | None = None,
    quotas: Iterable[Quota] = (),
    now: float = 0.0,
    held: Mapping[str, frozenset[str]] | None = None,
    growers: Iterable[Grower] = (),
) -> Decision:
    """Admit, in queue order, every waiting gang whose pods all fit what is left: the free GPUs, its
    queue's nominal quota and its namespace's ResourceQuotas.

    Pending demand of already admitted jobs is placed first, so a job that was admitted but whose
    pods are not bound yet keeps its GPUs. A gang that does not fit is skipped and later gangs may
    still be admitted (BestEffortFIFO), unless its queue is StrictFIFO (the head blocks its queue).
    The head of a queue that has waited past the queue's reservation bound holds a reservation
    (the comment where it reserves says why backfill cannot starve it): the free GPUs of the
    fewest nodes it may use that hold it once drained are lent to no later gang, nor is its
    quota: waiting for GPUs, it keeps its least size of its queue's quota and its namespace's
    ResourceQuotas and the gangs after it (its own queue's too) take what is left; waiting for
    its queue's quota, its queue waits behind it; waiting for a ResourceQuota, its namespace does
    (and it keeps its queue's quota).
    ``queues`` None: every queue exists, without quota or reservation. ``held``: gangs whose
    preemption victims are stopping -> the victims' nodes, whose free GPUs only that gang may take
    until it is admitted (none is lent to a later gang, so the victims' GPUs are not taken as they
    free up and a second preemption needed).
    An elastic gang that does not fit whole is admitted at the largest size >= its minReplicas that
    does. After the queue, ``growers`` grow (policies.elastic) with what is left: never the GPUs
    held for a preemptor.
    """
    admitted_demand = list(admitted_demand)
    free = FreeGpus(nodes)
    for demand in sorted(admitted_demand, key=lambda d: -d.gpus_per_pod):
        free.place(demand.pods, demand.gpus_per_pod, demand.placement)
    room = Room(quotas)
    for demand in admitted_demand:
        total = demand.pods if demand.total_pods is None else demand.total_pods
        room.hold(
            demand.queue, demand.namespace, total * demand.gpus_per_pod, demand.uncreated, demand.gpus_per_pod
        )

    admitted: list[str] = []
    waiting: dict[str, str] = {}
    reasons: dict[str, str] = {}
    positions: dict[str, int] = {}
    reserved: list[str] = []
    held_nodes: dict[str, tuple[str, ...]] = {}
    blocked: dict[tuple[str, str], str] = {}  # ("queue"|"namespace", name) -> the gang it waits behind
    heads: set[str] = set()  # queues whose head (first gang not admitted) was seen

    waiting_in: dict[str, int] = {}  # queue -> how many of its gangs wait so far
    sizes: dict[str, int] = {}
    still_waiting: list[Gang] = []

    def wait(gang: Gang, reason: str, message: str) -> None:
        if reason != TrainingJobReason.QUEUE_NOT_FOUND:  # it cannot be admitted: it claims nothing
            still_waiting.append(gang)
        waiting[gang.key], reasons[gang.key] = message, reason
        waiting_in[gang.queue] = positions[gang.key] = waiting_in.get(gang.queue, 0) + 1

    for gang in queue_order(queue):
        policy = queues.get(gang.queue) if queues is not None else QueuePolicy(gang.queue)
        if policy is None:
            wait(gang, TrainingJobReason.QUEUE_NOT_FOUND, f"ClusterQueue {gang.queue} does not exist")
            continue
        blocker = blocked.get(("queue", gang.queue)) or blocked.get(("namespace", gang.namespace))
        if blocker is not None:
            wait(
                gang,
                TrainingJobReason.WAITING_IN_QUEUE,
                f"behind {blocker}, {_why_blocking(blocker, reserved)}",
            )
            continue
        short = room.shortage(policy, gang.namespace, gang.pods, gang.gpus_per_pod)
        fit = free.fit_count(gang.placement, gang.gpus_per_pod) if gang.gpus_per_pod > 0 else gang.pods
        size = gang.pods if short is None and fit >= gang.pods else None
        if size is None and gang.min_pods is not None:
            size = elastic.admission_size(
                elastic.Bounds(gang.min_pods, gang.pods), fit, room.holds(policy, gang)
            )
        if size is not None:
            if gang.gpus_per_pod > 0:
                free.place(size, gang.gpus_per_pod, gang.placement)
            room.hold(gang.queue, gang.namespace, size * max(gang.gpus_per_pod, 0), size, gang.gpus_per_pod)
            admitted.append(gang.key)
            if gang.min_pods is not None:
                sizes[gang.key] = size
            continue
        if held and gang.key in held:
            free.claim_nodes(held[gang.key])
        if gang.min_pods is not None:
            short = room.shortage(policy, gang.namespace, gang.least, gang.gpus_per_pod)
        if short is not None:
            reason, message = TrainingJobReason.WAITING_FOR_QUOTA, short.message
        else:
            ever = free.capacity_count(gang.placement, gang.gpus_per_pod)
            least = replace(gang, pods=gang.least)  # elastic: what it needs at the least
            excluded = [
                h
                for h, held_for in held_nodes.items()
                if free.could_use(gang.placement, gang.gpus_per_pod, held_for)
            ]
            reason, message = TrainingJobReason.WAITING_FOR_GPUS, waiting_message(least, fit, ever, excluded)
        head = gang.queue not in heads
        heads.add(gang.queue)
        if head and policy.strict:
            blocked[("queue", gang.queue)] = gang.key
        if head and policy.reserves(gang.waiting_since, now):
            reserved.append(gang.key)
            if short is not None and not short.namespaced:
                blocked[("queue", gang.queue)] = gang.key  # any gang of its queue admitted takes its quota
            else:
                room.reserve(gang.key, gang.queue, gang.namespace, gang.least, gang.gpus_per_pod)
                if short is not None:  # a ResourceQuota: any gang of its namespace admitted takes it
                    blocked[("namespace", gang.namespace)] = gang.key
            if fit < gang.least:
                # Can backfill starve it, the nodes being chosen again each pass (most free first)?
                # Nothing after it in this pass lands on a held node, so between two passes the GPUs
                # busy there only shrink (jobs end). The next pass takes the nodes with the most
                # free GPUs: each at least as free as the one it replaces, so the GPUs it still
                # waits for never grow through backfill, and shrink whenever a job on a held node
                # ends. It is admitted once the jobs on its held nodes end; backfill on the other
                # nodes delays it only where such a node frees first and becomes held: that
                # node's backfill, admitted when it was not held, ends within its run time (no run
                # times to plan with, so which node frees first cannot be known). Admitted pods
                # must be kept off ``held_nodes`` for this to hold (kube-scheduler knows nothing of
                # it). Played out over passes: tests/unit/policies/test_admission_backfill.py.
                held_nodes[gang.key] = free.reserve(gang.placement, gang.gpus_per_pod, gang.least)
            message += "; holds a reservation: nothing admitted after it may take what it waits for"
        wait(gang, reason, message)
    grown = _grow(free, room, queues, list(growers), still_waiting)
    return Decision(
        admitted=tuple(admitted),
        waiting=waiting,
        positions=positions,
        reasons=reasons,
        reserved=tuple(reserved),
        held_nodes=held_nodes,
        sizes=sizes,
        grown=grown,
    )


def _grow(
    free: FreeGpus,
    room: Room,
    queues: Mapping[str, QueuePolicy] | None,
    growers: list[Grower],
    waiting: list[Gang],
) -> dict[str, int]:
    """Grow running elastic jobs with what the queue left, in queue order. Before a job grows, every
    waiting gang of equal or higher priority claims the free GPUs of every node it may use (more
    than a reservation holds, which is only the nodes it needs): growth then takes only GPUs none
    of them could use, so no job that would be admitted before the grower, were it waiting, is
    starved by it. Lower-priority gangs do not hold it back: the grower would be admitted before
    them anyway."""
    grown: dict[str, int] = {}
    pending = sorted(waiting, key=lambda g: -g.priority)
    for grower in sorted(growers, key=lambda g: (-g.priority, g.created, g.key)):
        while pending and pending[0].priority >= grower.priority:
            gang = pending.pop(0)
            if gang.gpus_per_pod > 0:
                free.claim(gang.placement, gang.gpus_per_pod)
        policy = queues.get(grower.queue) if queues is not None else QueuePolicy(grower.queue)
        if policy is None or grower.gpus_per_pod <= 0:
            continue
        fit = free.fit_count(grower.placement, grower.gpus_per_pod)
        extra = elastic.growth(grower.size, grower.bounds, fit, room.holds(policy, grower))
        if extra:
            free.place(extra, grower.gpus_per_pod, grower.placement)
            room.hold(grower.queue, grower.namespace, extra * grower.gpus_per_pod, extra, grower.gpus_per_pod)
            grown[grower.key] = grower.size + extra
    return grown


def _why_blocking(blocker: str, reserved: Sequence[str]) -> str:
    if blocker in reserved:
        return "which holds a reservation"
    return "the head of a StrictFIFO queue"
