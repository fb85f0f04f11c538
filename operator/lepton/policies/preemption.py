"""Gang preemption: which running gangs a waiting gang of higher priority may stop to fit, and what
being preempted does to a victim.

Scope and order follow Kueue's ``withinClusterQueue: LowerPriority``: only jobs that opted in
(spec.scheduling.preemptible), of the preemptor's own queue, of strictly lower priority, and only
whole gangs. Among the sets of victims whose freed GPUs make every pod of the preemptor fit (under
its placement, after the pending demand of admitted jobs; an elastic preemptor's minReplicas pods:
it is admitted at the largest size that fits, and grows later without preempting), the fewest gangs
win; among equally small sets, the lowest priorities, then the most recently created (the least
work lost), then the fewest GPUs. The search is exact for small candidate lists and greedy (then
pruned) beyond MAX_FIT_CHECKS.

A victim goes back to Queued (Preempted): its workers are deleted with their grace period (SIGTERM,
so they checkpoint), its attempt goes up so that new workers resume, and the restart is recorded
(cause Preemption, charged false) without spending backoffLimit or maxRestartsPerWorker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from lepton.api.trainingjob import RestartAction, RestartCause, TrainingJobReason
from lepton.policies.admission import Demand, Gang, free_after
from lepton.policies.lifecycle import JobState, Plan
from lepton.policies.placement import Node
from lepton.policies.restart_history import Entry
from lepton.policies.status import Phase, PodState, count

# Fit checks the exact search may spend before it falls back to greedy-then-prune: each check is
# one pass over the nodes, and the admission pass holds the queue's lock.
MAX_FIT_CHECKS = 256


@dataclass(frozen=True)
class Running:
    """An admitted gang whose pods are all bound: a candidate victim."""

    key: str
    priority: int
    queue: str
    preemptible: bool
    created: float
    gpus_by_node: Mapping[str, int]
    """GPUs its pods hold on each node"""

    @property
    def gpus(self) -> int:
        return sum(self.gpus_by_node.values())


def candidates(preemptor: Gang, running: Iterable[Running]) -> list[Running]:
    """The gangs ``preemptor`` may stop, most preferred first."""
    allowed = [
        r
        for r in running
        if r.preemptible and r.queue == preemptor.queue and r.priority < preemptor.priority and r.gpus > 0
    ]
    return sorted(allowed, key=lambda r: (r.priority, -r.created, r.gpus, r.key))


def choose(
    preemptor: Gang,
    nodes: Sequence[Node],
    admitted_demand: Sequence[Demand],
    running: Iterable[Running],
    *,
    max_fit_checks: int = MAX_FIT_CHECKS,
) -> tuple[str, ...]:
    """The fewest whole gangs whose GPUs make ``preemptor`` fit; () when none or all of them would
    not be enough (then nothing is stopped for nothing)."""
    per_pod = preemptor.gpus_per_pod
    if per_pod <= 0:
        return ()
    allowed = {n.name for n in nodes if preemptor.placement.allows(n)}
    # Free GPUs once admitted jobs' pending pods are placed, computed once: each check then only
    # adds up the victims' nodes (pending demand keeps its place, as in admission).
    free = free_after(nodes, admitted_demand)
    fit_now = sum(free.get(name, 0) // per_pod for name in allowed)
    pool = [r for r in candidates(preemptor, running) if any(n in allowed for n in r.gpus_by_node)]

    def fit(victims: Sequence[Running]) -> bool:
        freed: dict[str, int] = {}
        for victim in victims:
            for name, gpus in victim.gpus_by_node.items():
                if name in allowed:
                    freed[name] = freed.get(name, 0) + gpus
        more = sum((free.get(n, 0) + g) // per_pod - free.get(n, 0) // per_pod for n, g in freed.items())
        return fit_now + more >= preemptor.least  # elastic: enough for minReplicas (then it may grow)

    if not pool or not fit(pool):
        return ()
    checks = 1
    for size in range(1, len(pool) + 1):
        for victims in combinations(pool, size):
            if checks >= max_fit_checks:
                return _greedy(pool, fit)
            checks += 1
            if fit(victims):
                return tuple(v.key for v in victims)
    return tuple(v.key for v in pool)  # unreachable: the whole pool fits


def _greedy(pool: Sequence[Running], fit: Callable[[Sequence[Running]], bool]) -> tuple[str, ...]:
    """Take candidates in order until it fits, then drop those it fits without (latest taken first:
    the least preferred victims are spared first)."""
    taken: list[Running] = []
    for victim in pool:
        taken.append(victim)
        if fit(taken):
            break
    for victim in reversed(taken[:-1]):
        rest = [v for v in taken if v is not victim]
        if fit(rest):
            taken = rest
    return tuple(v.key for v in taken)


def describe(victims: Sequence[str]) -> str:
    return ", ".join(victims)


def evict(job: JobState, pods: Sequence[PodState], *, by: str, now: float, poll_seconds: float) -> Plan:
    """The victim's plan: back to Queued (Preempted), every worker deleted with its grace period, the
    attempt raised without charging any budget, one history entry per worker stopped."""
    attempt = job.restart_count
    current = [p for p in pods if p.attempt == attempt]
    stopped = sorted((p for p in current if not p.terminal), key=lambda p: p.index)
    history = tuple(
        Entry(
            at=now,
            cause=RestartCause.PREEMPTION,
            action=RestartAction.RESTART,
            worker=p.index,
            attempt=attempt,
            pod=p.name,
            node=p.node,
            exit_code=None,
            reason=f"preempted by {by}",
            charged=False,
        )
        for p in stopped
    )
    return Plan(
        phase=Phase.QUEUED,
        reason=TrainingJobReason.PREEMPTED,
        message=(
            f"Preempted by {by} (higher priority, same queue): workers stopped with their grace period "
            "to checkpoint; requeued, restart budget not charged"
        ),
        attempt=attempt,
        restart_count=attempt + 1,
        counted_restarts=job.counted_restarts,
        # As for suspend: activeDeadlineSeconds counts from the next start, not the preempted one.
        start_time=None,
        completion_time=None,
        worker_restarts=job.worker_restarts,
        history=history,
        counts=count(current),
        delete=tuple(p.name for p in pods if not p.deleting),
        requeue_after=poll_seconds,
        sizing=job.sizing,  # elastic: the size stays recorded while it waits, as after a restart
    )
