"""Gang admission: which waiting jobs fit the free GPUs of the cluster, all of their pods at once.

The input is what the operator observes (free GPUs per schedulable node, the pending demand of jobs
already admitted, the queue of waiting jobs); the output is which jobs to admit now and, for the
others, a message saying what is missing. One call decides for the whole queue, so admission is
serialized: no two jobs can each get part of the same free GPUs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

NO_SCHEDULE_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"


@dataclass(frozen=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if not self.key:
            # An empty key with Exists tolerates every taint (Kubernetes semantics).
            return self.operator == "Exists"
        if self.key != taint.key:
            return False
        return self.operator == "Exists" or self.value == taint.value


@dataclass(frozen=True)
class Node:
    name: str
    allocatable_gpus: int
    free_gpus: int
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    schedulable: bool = True
    gpu_fault: str = ""
    """Why a GPU health agent or the device plugin says its GPUs are faulty (policies.gpu_health);
    such a node is never chosen, whatever the placement tolerates."""


@dataclass(frozen=True)
class Placement:
    """Where a group of identical pods may go: selector and tolerations of the pod template."""

    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[Toleration, ...] = ()

    @staticmethod
    def of(node_selector: Mapping[str, str] | None, tolerations: Iterable[Toleration] = ()) -> Placement:
        return Placement(tuple(sorted((node_selector or {}).items())), tuple(tolerations))

    def allows(self, node: Node) -> bool:
        if not node.schedulable or node.gpu_fault:
            return False
        if any(node.labels.get(key) != value for key, value in self.node_selector):
            return False
        blocking = (t for t in node.taints if t.effect in NO_SCHEDULE_EFFECTS)
        return all(any(tol.tolerates(taint) for tol in self.tolerations) for taint in blocking)


@dataclass(frozen=True)
class Demand:
    """Pods of an admitted job that hold no node yet (created and pending, or not created yet)."""

    pods: int
    gpus_per_pod: int
    placement: Placement = field(default_factory=Placement)


@dataclass(frozen=True)
class Gang:
    """A waiting job. Ordered by priority (higher first), then creation time, then key."""

    key: str
    pods: int
    gpus_per_pod: int
    priority: int = 0
    created: float = 0.0
    placement: Placement = field(default_factory=Placement)


@dataclass(frozen=True)
class Decision:
    admitted: tuple[str, ...]
    waiting: Mapping[str, str]
    # Position (1-based) of each waiting job in the queue, for status messages and metrics.
    positions: Mapping[str, int]


def queue_order(gangs: Iterable[Gang]) -> list[Gang]:
    return sorted(gangs, key=lambda g: (-g.priority, g.created, g.key))


class _FreeGpus:
    """Free GPUs per node, bucketed by free count per placement, so best-fit is O(distinct counts)."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self._nodes = nodes
        self._free = {n.name: max(0, n.free_gpus) for n in nodes}
        self._allocatable = {n.name: n.allocatable_gpus for n in nodes}
        # placement -> free count -> node names; built on first use of a placement.
        self._pools: dict[Placement, dict[int, set[str]]] = {}
        self._members: dict[Placement, frozenset[str]] = {}
        self._capacity: dict[tuple[Placement, int], int] = {}

    def _pool(self, placement: Placement) -> dict[int, set[str]]:
        pool = self._pools.get(placement)
        if pool is None:
            members = frozenset(n.name for n in self._nodes if placement.allows(n))
            pool = {}
            for name in members:
                pool.setdefault(self._free[name], set()).add(name)
            self._pools[placement] = pool
            self._members[placement] = members
        return pool

    def fit_count(self, placement: Placement, gpus_per_pod: int) -> int:
        pool = self._pool(placement)
        return sum(len(names) * (free // gpus_per_pod) for free, names in pool.items())

    def capacity_count(self, placement: Placement, gpus_per_pod: int) -> int:
        key = (placement, gpus_per_pod)
        if key not in self._capacity:
            self._pool(placement)
            self._capacity[key] = sum(self._allocatable[n] // gpus_per_pod for n in self._members[placement])
        return self._capacity[key]

    def place(self, demand: Demand) -> int:
        """Best-fit each pod onto the allowed node with the fewest free GPUs that still holds it.

        Returns how many pods could not be placed.
        """
        if demand.gpus_per_pod <= 0:
            return 0
        pool = self._pool(demand.placement)
        unplaced = 0
        for _ in range(demand.pods):
            candidates = [free for free, names in pool.items() if names and free >= demand.gpus_per_pod]
            if not candidates:
                unplaced += 1
                continue
            # Nodes with the same free count are interchangeable for best fit: take any.
            name = next(iter(pool[min(candidates)]))
            self._take(name, demand.gpus_per_pod)
        return unplaced

    def _take(self, name: str, gpus: int) -> None:
        before = self._free[name]
        after = before - gpus
        self._free[name] = after
        for placement, pool in self._pools.items():
            if name in self._members[placement]:
                pool[before].discard(name)
                pool.setdefault(after, set()).add(name)


def waiting_message(gang: Gang, fit_now: int, fit_ever: int) -> str:
    unit = "GPU" if gang.gpus_per_pod == 1 else "GPUs"
    pod_word = "pod" if gang.pods == 1 else "pods"
    message = f"needs {gang.pods} {pod_word} x {gang.gpus_per_pod} {unit}; {min(fit_now, gang.pods)} fit now"
    if fit_ever < gang.pods:
        message += f"; at most {fit_ever} fit on the matching nodes even when idle"
    return message


def decide(nodes: Sequence[Node], admitted_demand: Iterable[Demand], queue: Iterable[Gang]) -> Decision:
    """Admit, in queue order, every waiting gang whose pods all fit what is left.

    Pending demand of already admitted jobs is placed first, so a job that was admitted but whose
    pods are not bound yet keeps its GPUs. A gang that does not fit is skipped and later gangs may
    still be admitted (best-effort FIFO): a large job never blocks the cluster for small ones.
    """
    free = _FreeGpus(nodes)
    for demand in sorted(admitted_demand, key=lambda d: -d.gpus_per_pod):
        free.place(demand)

    admitted: list[str] = []
    waiting: dict[str, str] = {}
    positions: dict[str, int] = {}
    for gang in queue_order(queue):
        if gang.gpus_per_pod <= 0:
            admitted.append(gang.key)
            continue
        fit = free.fit_count(gang.placement, gang.gpus_per_pod)
        if fit >= gang.pods:
            free.place(Demand(gang.pods, gang.gpus_per_pod, gang.placement))
            admitted.append(gang.key)
        else:
            positions[gang.key] = len(positions) + 1
            ever = free.capacity_count(gang.placement, gang.gpus_per_pod)
            waiting[gang.key] = waiting_message(gang, fit, ever)
    return Decision(admitted=tuple(admitted), waiting=waiting, positions=positions)
