"""Where pods may go and what is free there: nodes, taints and tolerations, the placement of a group
of identical pods, and the free GPUs per node that one admission pass hands out (best fit), sets
aside for a reservation or holds for a preemptor. policies.admission decides with these."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

NO_SCHEDULE_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
_IDLE = float("-inf")  # FreeGpus' drain bound of a node that holds no GPU


def _drain_order(until: float | None) -> tuple[bool, float]:
    """Sort key: nodes bound to drain first, the soonest first; those without a bound after."""
    return (until is None, 0.0 if until is None else until)


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
    busy_until: float | None = None
    """When every pod holding its GPUs is bound to be gone: the latest start + activeDeadlineSeconds
    of their jobs. None: some pod has no such bound, or it is not known (read only while the node
    is not idle)."""


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


class FreeGpus:
    """Free GPUs per node, bucketed by free count per placement, so best-fit is O(distinct counts)."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self._nodes = nodes
        self._free = {n.name: max(0, n.free_gpus) for n in nodes}
        self._allocatable = {n.name: n.allocatable_gpus for n in nodes}
        # placement -> free count -> node names; built on first use of a placement.
        self._pools: dict[Placement, dict[int, set[str]]] = {}
        self._members: dict[Placement, frozenset[str]] = {}
        self._capacity: dict[tuple[Placement, int], int] = {}
        # When each node is bound to drain (Node.busy_until; -inf: idle, None: no bound), moved
        # later by what ``place`` puts there; and the free GPUs ``reserve`` set aside, to lend.
        self._until: dict[str, float | None] = {
            n.name: _IDLE if n.free_gpus >= n.allocatable_gpus else n.busy_until for n in nodes
        }
        self._aside: dict[str, int] = {}

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

    def place(self, pods: int, gpus_per_pod: int, placement: Placement, until: float | None = None) -> int:
        """``placed``, counted: how many pods could not be placed."""
        if gpus_per_pod <= 0:
            return 0
        return pods - len(self.placed(pods, gpus_per_pod, placement, until))

    def placed(
        self, pods: int, gpus_per_pod: int, placement: Placement, until: float | None = None
    ) -> tuple[str, ...]:
        """Best-fit each pod onto the allowed node with the fewest free GPUs that still holds it;
        ``until``: when the pods are bound to be gone (None: no bound). Returns the node of each pod
        placed, in order (the pods that fit nowhere are left out).

        Of the nodes with the same free count the first by name is taken: any would do for best
        fit, but the next pass, placing these pods again as pending demand, then puts them where
        this one did, so what it hands out next agrees with the nodes the pods are pinned to
        (builders.required).
        """
        if gpus_per_pod <= 0:
            return ()
        pool = self._pool(placement)
        nodes: list[str] = []
        for _ in range(pods):
            candidates = [free for free, names in pool.items() if names and free >= gpus_per_pod]
            if not candidates:
                continue
            name = min(pool[min(candidates)])
            self._take(name, gpus_per_pod)
            before = self._until.get(name, None)
            self._until[name] = None if until is None or before is None else max(before, until)
            nodes.append(name)
        return tuple(nodes)

    def claim(self, placement: Placement, gpus_per_pod: int) -> None:
        """Set aside every free GPU of the nodes ``placement`` allows that could ever hold one of the
        pods: before an elastic job grows, each waiting gang it must not starve claims all it could
        use (policies.admission._grow)."""
        pool = self._pool(placement)
        for free in [f for f, names in pool.items() if f > 0 and names]:
            for name in list(pool[free]):
                if self._allocatable[name] >= gpus_per_pod:
                    self._take(name, free)

    def reserve(self, placement: Placement, gpus_per_pod: int, pods: int) -> tuple[str, ...]:
        """Set aside every free GPU of the fewest nodes that hold ``pods`` of the pods once drained;
        returns those nodes. First the nodes bound to drain soonest (busy_until; idle ones first),
        so the set is the one bound to drain first; then those without a bound, the most free GPUs
        first (the fewest GPUs left to free). Any GPU left there for backfill could be one the
        reserved gang needs: only a gang bound to end before they drain may borrow them (``lent``).
        The other nodes' free GPUs stay open to backfill, which the gang could not use before
        these drain. Each pass chooses again: a node that frees more GPUs than a chosen one, or
        is bound to drain sooner, takes its place (policies.admission.decide says why backfill
        cannot starve the gang)."""
        if gpus_per_pod <= 0:
            return ()
        self._pool(placement)
        usable = [n for n in self._members[placement] if self._allocatable[n] >= gpus_per_pod]
        chosen: list[str] = []
        slots = 0
        for name in sorted(usable, key=lambda n: (*_drain_order(self._until.get(n)), -self._free[n], n)):
            if slots >= pods:
                break
            slots += self._allocatable[name] // gpus_per_pod
            chosen.append(name)
            if self._free[name] > 0:
                self._aside[name] = self._aside.get(name, 0) + self._free[name]
                self._take(name, self._free[name])
        return tuple(chosen)

    def drained_by(self, names: Iterable[str], now: float) -> float | None:
        """When all of ``names`` are bound to be idle (not before ``now``); None: not known."""
        untils = [self._until.get(n) for n in names]
        if any(u is None for u in untils):
            return None
        return max([now, *(u for u in untils if u is not None)])

    @contextmanager
    def lent(self, names: Iterable[str]) -> Iterator[None]:
        """Within: the GPUs ``reserve`` set aside on ``names`` are free; after, what is still free
        there is set aside again (a gang bound to end before the reservation's nodes drain took
        the rest)."""
        names = [n for n in dict.fromkeys(names) if self._aside.get(n)]  # a node may be held twice
        for name in names:
            self._take(name, -self._aside.pop(name))
        try:
            yield
        finally:
            for name in names:
                if self._free[name] > 0:
                    self._aside[name] = self._free[name]
                    self._take(name, self._free[name])

    def could_use(self, placement: Placement, gpus_per_pod: int, names: Iterable[str]) -> bool:
        """Whether any of ``names`` could ever hold one of the pods (a message says which of the
        nodes held for a reservation a waiting gang was kept off)."""
        self._pool(placement)
        members = self._members[placement]
        return any(n in members and self._allocatable[n] >= gpus_per_pod for n in names)

    @property
    def free(self) -> Mapping[str, int]:
        return self._free

    def claim_nodes(self, names: Iterable[str]) -> None:
        """Set aside every free GPU of ``names`` (GPUs held for a preemptor while its victims stop)."""
        for name in names:
            if self._free.get(name, 0) > 0:
                self._take(name, self._free[name])

    def _take(self, name: str, gpus: int) -> None:
        before = self._free[name]
        after = before - gpus
        self._free[name] = after
        for placement, pool in self._pools.items():
            if name in self._members[placement]:
                pool[before].discard(name)
                pool.setdefault(after, set()).add(name)
