"""What a gang may take besides free GPUs: its queue's nominal quota and its namespace's
ResourceQuotas. Pure; policies.admission asks ``Room`` before admitting a gang and tells it what
each admitted gang holds, so one admission pass never promises the same quota twice."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

GPU_QUOTA = "requests.nvidia.com/gpu"
"""The only GPU key a ResourceQuota accepts (extended resources are quota'd by request only)."""


@dataclass(frozen=True)
class QueuePolicy:
    """A queue as admission reads it (a ClusterQueue, or the default queue of jobs naming none).

    ``strict``: StrictFIFO (the head blocks the queue) rather than BestEffortFIFO.
    ``nominal_gpus``: GPUs the queue's admitted jobs may hold together; None is unlimited.
    ``reservation_after``: seconds a job may wait at the head of the queue before it holds a
    reservation; None never."""

    name: str
    strict: bool = False
    nominal_gpus: int | None = None
    reservation_after: float | None = None

    def reserves(self, waiting_since: float | None, now: float) -> bool:
        if self.reservation_after is None or waiting_since is None:
            return False
        return now - waiting_since >= self.reservation_after

    @property
    def label(self) -> str:
        return f"ClusterQueue {self.name}" if self.name else "the default queue"


@dataclass(frozen=True)
class Quota:
    """One ResourceQuota: hard limits and used amounts of GPUs and pods (None: not limited)."""

    namespace: str
    name: str
    gpus_hard: int | None = None
    gpus_used: int = 0
    pods_hard: int | None = None
    pods_used: int = 0


class _Job(Protocol):
    @property
    def namespace(self) -> str: ...

    @property
    def gpus_per_pod(self) -> int: ...


@dataclass(frozen=True)
class Shortage:
    message: str
    namespaced: bool  # a ResourceQuota of the namespace (else the queue's own quota)


class Room:
    """Queue and ResourceQuota usage during one admission pass."""

    def __init__(self, quotas: Iterable[Quota]) -> None:
        self._quotas: dict[str, list[Quota]] = {}
        for quota in quotas:
            self._quotas.setdefault(quota.namespace, []).append(quota)
        self._queue_gpus: dict[str, int] = {}
        # ResourceQuota usage the quotas' status does not show yet: admitted pods not created.
        self._extra_gpus: dict[str, int] = {}
        self._extra_pods: dict[str, int] = {}
        # What reserved heads hold of the above (for messages): (kind, name, resource) -> amount,
        # and (kind, name) -> the heads.
        self._reserved: dict[tuple[str, str, str], int] = {}
        self._holders: dict[tuple[str, str], list[str]] = {}

    def hold(self, queue: str, namespace: str, gpus: int, uncreated_pods: int, gpus_per_pod: int) -> None:
        """An admitted job holds ``gpus`` of its queue, and ``uncreated_pods`` of its namespace's
        quotas beyond their status."""
        self._queue_gpus[queue] = self._queue_gpus.get(queue, 0) + gpus
        self._extra_pods[namespace] = self._extra_pods.get(namespace, 0) + uncreated_pods
        self._extra_gpus[namespace] = self._extra_gpus.get(namespace, 0) + uncreated_pods * gpus_per_pod

    def reserve(self, holder: str, queue: str, namespace: str, pods: int, gpus_per_pod: int) -> None:
        """A head that holds a reservation and waits for GPUs only keeps ``pods`` of its pods' worth
        of its queue's quota and of its namespace's quotas: the gangs after it (backfill) get only
        what is left beyond it, so none of them takes quota it needs when its GPUs free up."""
        gpus = pods * max(gpus_per_pod, 0)
        self.hold(queue, namespace, gpus, pods, gpus_per_pod)
        for kind, name, resource, amount in (
            ("queue", queue, GPU_QUOTA, gpus),
            ("namespace", namespace, GPU_QUOTA, gpus),
            ("namespace", namespace, "pods", pods),
        ):
            self._reserved[(kind, name, resource)] = self._reserved.get((kind, name, resource), 0) + amount
        for kind, name in (("queue", queue), ("namespace", namespace)):
            self._holders.setdefault((kind, name), []).append(holder)

    def _held_for(self, kind: str, name: str, resource: str) -> str:
        """What reserved heads hold of it, for a shortage's message; "" when none does."""
        amount = self._reserved.get((kind, name, resource), 0)
        if not amount:
            return ""
        heads = ", ".join(self._holders[(kind, name)])
        return f" ({amount} of them held for the reservation of {heads})"

    def holds(self, queue: QueuePolicy, job: _Job) -> Callable[[int], bool]:
        """Whether the quotas hold ``n`` more pods of ``job`` (elastic sizing tries several)."""
        return lambda n: self.shortage(queue, job.namespace, n, job.gpus_per_pod) is None

    def shortage(self, queue: QueuePolicy, namespace: str, pods: int, gpus_per_pod: int) -> Shortage | None:
        """What keeps a gang of ``pods`` x ``gpus_per_pod`` out, or None when its quotas hold it."""
        gpus = pods * max(gpus_per_pod, 0)
        if queue.nominal_gpus is not None and gpus:
            used = self._queue_gpus.get(queue.name, 0)
            if used + gpus > queue.nominal_gpus:
                never = "; the quota can never hold it" if gpus > queue.nominal_gpus else ""
                held = self._held_for("queue", queue.name, GPU_QUOTA)
                return Shortage(
                    f"{queue.label}: needs {gpus} GPUs, {used} of its nominalQuota of "
                    f"{queue.nominal_gpus} in use{held}{never}",
                    namespaced=False,
                )
        for quota in self._quotas.get(namespace, ()):
            for resource, hard, used, need in (
                (GPU_QUOTA, quota.gpus_hard, quota.gpus_used + self._extra_gpus.get(namespace, 0), gpus),
                ("pods", quota.pods_hard, quota.pods_used + self._extra_pods.get(namespace, 0), pods),
            ):
                if hard is None or not need or used + need <= hard:
                    continue
                never = "; the quota can never hold it" if need > hard else ""
                held = self._held_for("namespace", namespace, resource) + never
                return Shortage(
                    f"ResourceQuota {quota.name}: needs {need} {resource}, {used} of {hard} used{held}",
                    namespaced=True,
                )
        return None
