"""Where pods may go and what is free there: nodes, taints and tolerations, the placement of a group
of identical pods, and the free GPUs per node that one admission pass hands out (best fit), sets
aside for a reservation or holds for a preemptor. policies.admission decides with these."""

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

    def place(self, pods: int, gpus_per_pod: int, placement: Placement) -> int:
        """Best-fit each pod onto the allowed node with the fewest free GPUs that still holds it.

        Returns how many pods could not be placed.
        """
        if gpus_per_pod <= 0:
            return 0
        pool = self._pool(placement)
        unplaced = 0
        for _ in range(pods):
            candidates = [free for free, names in pool.items() if names and free >= gpus_per_pod]
            if not candidates:
                unplaced += 1
                continue
            # Nodes with the same free count are interchangeable for best fit: take any.
            name = next(iter(pool[min(candidates)]))
            self._take(name, gpus_per_pod)
        return unplaced

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
        """Set aside every free GPU of the fewest nodes that hold ``pods`` of the pods once drained,
        those with the most free GPUs first (the fewest GPUs left to free); returns those nodes.
        Without run times to plan with, any GPU left there for backfill could be one the reserved
        gang needs; the other nodes' free GPUs stay open to backfill, which the gang could not use
        before these drain. Each pass chooses again: a node that frees more GPUs than a chosen one
        takes its place (policies.admission.decide says why backfill cannot starve the gang)."""
        if gpus_per_pod <= 0:
            return ()
        self._pool(placement)
        usable = [n for n in self._members[placement] if self._allocatable[n] >= gpus_per_pod]
        chosen: list[str] = []
        slots = 0
        for name in sorted(usable, key=lambda n: (-self._free[n], n)):
            if slots >= pods:
                break
            slots += self._allocatable[name] // gpus_per_pod
            chosen.append(name)
            if self._free[name] > 0:
                self._take(name, self._free[name])
        return tuple(chosen)

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
