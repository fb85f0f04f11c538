"""Gang admission: which waiting jobs fit the free GPUs of the cluster, all of their pods at once.

The input is what the operator observes (free GPUs per schedulable node, the pending demand of jobs
already admitted, the waiting jobs, their queues and their namespaces' ResourceQuotas); the output
is which jobs to admit now and, for the others, a reason and a message saying what is missing. One
call decides for every queue, so admission is serialized: no two jobs can each get part of the same
free GPUs or the same quota. Queues and quotas are in policies.queues; nodes, placements and the
free GPUs in policies.placement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from lepton.api.trainingjob import TrainingJobReason
from lepton.policies import elastic
from lepton.policies.admission_messages import RESERVATION_NOTE, waiting_message, why_blocking
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
    until: float | None = None
    """When its pods are bound to be gone (start + activeDeadlineSeconds); None: no bound."""


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
    deadline: float | None = None
    """runPolicy.activeDeadlineSeconds: admitted now, it is gone by now + deadline (time fill)."""

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
    # Admitted jobs -> the nodes held for reservations their pods must stay off (kube-scheduler
    # knows nothing of the reservations: the pods carry it as node anti-affinity).
    avoid: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Admitted jobs bound to end before a reservation's nodes drain -> the reserved heads whose
    # held nodes' free GPUs they were lent (their pods may go there).
    lent: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Admitted jobs -> the node this pass placed each worker on, by index: the pods are pinned there
    # (builders.required), so kube-scheduler packs as the pass did instead of spreading.
    nodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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
        free.place(demand.pods, demand.gpus_per_pod, demand.placement, demand.until)
    return dict(free.free)


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
    fewest nodes it may use that hold it once drained are lent to no later gang but one bound to
    end before they drain, nor is its quota: waiting for GPUs, it keeps its least size of its
    queue's quota and its namespace's ResourceQuotas and the gangs after it (its own queue's
    too) take what is left; waiting for its queue's quota, its queue waits behind it; waiting
    for a ResourceQuota, its namespace does (and it keeps its queue's quota).
    ``queues`` None: every queue exists, without quota or reservation. ``held``: gangs whose
    preemption victims are stopping -> the victims' nodes, whose free GPUs only that gang may take
    until it is admitted (none is lent to a later gang, so the victims' GPUs are not taken as they
    free up and a second preemption needed).
    A gang with a deadline bound to end before a reservation's held nodes are bound to drain may
    take their free GPUs (time fill, ``_time_fill``); every other gang admitted after a reserved
    head is told to avoid its held nodes (``Decision.avoid``).
    An elastic gang that does not fit whole is admitted at the largest size >= its minReplicas that
    does. After the queue, ``growers`` grow (policies.elastic) with what is left: never the GPUs
    held for a preemptor.
    """
    admitted_demand = list(admitted_demand)
    free = FreeGpus(nodes)
    for demand in sorted(admitted_demand, key=lambda d: -d.gpus_per_pod):
        free.place(demand.pods, demand.gpus_per_pod, demand.placement, demand.until)
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
    drained_by: dict[str, float | None] = {}  # reserved head -> when its held nodes are bound to drain
    avoid: dict[str, tuple[str, ...]] = {}
    lent: dict[str, tuple[str, ...]] = {}
    placed: dict[str, tuple[str, ...]] = {}
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
                f"behind {blocker}, {why_blocking(blocker, reserved)}",
            )
            continue
        short = room.shortage(policy, gang.namespace, gang.pods, gang.gpus_per_pod)
        fit = free.fit_count(gang.placement, gang.gpus_per_pod) if gang.gpus_per_pod > 0 else gang.pods
        holds = room.holds(policy, gang)
        size = _size(gang, fit, short is None, holds)
        until = now + gang.deadline if gang.deadline is not None else None
        borrowed: tuple[str, ...] = ()
        if (size or 0) < gang.pods and until is not None and gang.gpus_per_pod > 0:
            size, borrowed, placed[gang.key] = _time_fill(
                gang, size, until, free, held_nodes, drained_by, short is None, holds
            )
        if size is not None:
            if gang.gpus_per_pod > 0 and not borrowed:
                placed[gang.key] = free.placed(size, gang.gpus_per_pod, gang.placement, until)
            room.hold(gang.queue, gang.namespace, size * max(gang.gpus_per_pod, 0), size, gang.gpus_per_pod)
            admitted.append(gang.key)
            if gang.min_pods is not None:
                sizes[gang.key] = size
            if borrowed:
                lent[gang.key] = borrowed
            avoid[gang.key] = tuple(
                sorted({n for h, ns in held_nodes.items() if h not in borrowed for n in ns})
            )
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
            bounds = [drained_by[h] for h in excluded]
            drain_in = (
                None
                if None in bounds
                else max(min((b for b in bounds if b is not None), default=now), now) - now
            )
            reason, message = (
                TrainingJobReason.WAITING_FOR_GPUS,
                waiting_message(least, fit, ever, excluded, drain_in),
            )
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
                # Can backfill starve it, the nodes being chosen again each pass? Nothing after it in
                # this pass lands on a held node (its pods are told to avoid them: Decision.avoid)
                # unless it is bound to end before they are bound to drain (time fill). Without
                # run times: between two passes the GPUs busy there only shrink (jobs end); the
                # next pass takes the nodes with the most free GPUs, each at least as free as the
                # one it replaces, so the GPUs it waits for never grow through backfill and it is
                # admitted once the jobs on its held nodes end. Backfill on the other nodes delays
                # it only where such a node frees first and becomes held: that node's backfill,
                # admitted when it was not held, ends within its run time (which node frees first
                # cannot be known). With run times (every job there has an activeDeadlineSeconds):
                # the nodes bound to drain first are taken, so the bound is the least any set of
                # nodes has; time fill ends before it, so the nodes held now stay bound to drain
                # by then and no later pass's bound is later. Played out over passes:
                # tests/unit/policies/test_admission_backfill.py, test_admission_timefill.py.
                held_nodes[gang.key] = free.reserve(gang.placement, gang.gpus_per_pod, gang.least)
                drained_by[gang.key] = free.drained_by(held_nodes[gang.key], now)
            message += RESERVATION_NOTE
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
        avoid={k: v for k, v in avoid.items() if v},
        lent=lent,
        nodes={k: v for k, v in placed.items() if v},
    )


def _time_fill(
    gang: Gang,
    size: int | None,
    until: float,
    free: FreeGpus,
    held_nodes: Mapping[str, tuple[str, ...]],
    drained_by: Mapping[str, float | None],
    quota_room: bool,
    holds: Callable[[int], bool],
) -> tuple[int | None, tuple[str, ...], tuple[str, ...]]:
    """Time fill (Slurm's backfill): a gang bound to be gone (``until``) before the held nodes of a
    reservation drain may use their free GPUs: it cannot delay that head, which starts by then at
    the latest. Its size, larger than ``size`` (what fits without them), and the heads whose nodes
    it borrows, placed, and the node of each pod; else ``size`` and none."""
    borrowed = tuple(h for h, by in drained_by.items() if by is not None and until <= by)
    if not borrowed:
        return size, (), ()
    # A node held for a reservation it is not bound to end before stays held.
    kept = {n for h, nodes in held_nodes.items() if h not in borrowed for n in nodes}
    with free.lent(n for h in borrowed for n in held_nodes[h] if n not in kept):
        more = _size(gang, free.fit_count(gang.placement, gang.gpus_per_pod), quota_room, holds)
        if more is None or more <= (size or 0):
            return size, (), ()
        return more, borrowed, free.placed(more, gang.gpus_per_pod, gang.placement, until)


def _size(gang: Gang, fit: int, quota_room: bool, holds: Callable[[int], bool]) -> int | None:
    """The size it is admitted with when ``fit`` of its pods fit the free GPUs: all of them, or
    (elastic) the largest size >= minReplicas that fits and that its quotas hold; None: it waits."""
    if quota_room and fit >= gang.pods:
        return gang.pods
    if gang.min_pods is None:
        return None
    return elastic.admission_size(elastic.Bounds(gang.min_pods, gang.pods), fit, holds)


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
