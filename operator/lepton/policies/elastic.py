"""Elastic sizing of a TrainingJob (spec.elastic): how many workers it runs with, and why.

An elastic job is admitted at maxReplicas when that fits, else at the largest size >= minReplicas
that fits (all of them at once: a smaller gang, never a partial one). Later admission passes may
grow it toward maxReplicas with GPUs that no waiting job of equal or higher priority can use; the
new workers join through torchelastic's c10d rendezvous in a new round, and running workers are
not deleted. When workers are lost with their node and at least minReplicas remain, the job
shrinks to the survivors instead of waiting for replacements that may not fit anywhere; growth
brings it back when GPUs allow. The size is ``status.size``, the why is ``status.sizeReason``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from lepton.api.trainingjob import TrainingJobReason


@dataclass(frozen=True)
class Bounds:
    """spec.elastic's minReplicas and maxReplicas."""

    min: int
    max: int


@dataclass(frozen=True)
class Sizing:
    """The size a job runs with now and why (status.size, sizeReason, sizeMessage)."""

    size: int
    reason: str = ""
    message: str = ""


def admission_size(bounds: Bounds, fit: int, allowed: Callable[[int], bool]) -> int | None:
    """The size to admit at: the largest of maxReplicas down to minReplicas whose pods all fit now
    (``fit`` pods do) and that ``allowed`` (its quotas) holds; None when even minReplicas does not."""
    for size in range(min(bounds.max, fit), bounds.min - 1, -1):
        if allowed(size):
            return size
    return None


def admitted(bounds: Bounds, size: int) -> Sizing:
    """Why a job was admitted at ``size``."""
    if size >= bounds.max:
        return Sizing(size, TrainingJobReason.ADMITTED_AT_MAXIMUM, f"all {size} workers (maxReplicas) fit")
    reason = (
        TrainingJobReason.ADMITTED_AT_MINIMUM
        if size <= bounds.min
        else TrainingJobReason.ADMITTED_BELOW_MAXIMUM
    )
    message = (
        f"{size} of maxReplicas {bounds.max} workers fit (minReplicas {bounds.min}); grows when GPUs free up"
    )
    return Sizing(size, reason, message)


def grown(bounds: Bounds, before: int, after: int) -> Sizing:
    message = f"grew from {before} to {after} workers (maxReplicas {bounds.max}) with GPUs that freed up"
    return Sizing(after, TrainingJobReason.GREW, message)


def shrunk(bounds: Bounds, before: int, after: int, why: str) -> Sizing:
    message = (
        f"{why}; shrank from {before} to {after} workers without restarting the group "
        f"(minReplicas {bounds.min}); grows back when GPUs free up"
    )
    return Sizing(after, TrainingJobReason.SHRANK_ON_NODE_LOSS, message)


def growth(size: int, bounds: Bounds, fit: int, allowed: Callable[[int], bool]) -> int:
    """How many workers to add to a job running ``size`` workers: as many as fit (``fit`` pods)
    toward maxReplicas that its quotas hold (``allowed(extra)``); 0 when none."""
    for extra in range(min(bounds.max - size, fit), 0, -1):
        if allowed(extra):
            return extra
    return 0


def worker_indices(present: Collection[int], size: int) -> tuple[int, ...]:
    """The replica indices a job of ``size`` workers should have: the ones present (a shrunk job
    keeps its survivors' indices, which may leave gaps), then the lowest free ones until ``size``
    (so a job that grows fills its gaps first and its names stay those of a fixed-size job)."""
    wanted = sorted(present)[:size]
    taken = set(wanted)
    index = 0
    while len(wanted) < size:
        if index not in taken:
            wanted.append(index)
        index += 1
    return tuple(sorted(wanted))


def missing(present: Iterable[int], size: int) -> tuple[int, ...]:
    have = set(present)
    return tuple(i for i in worker_indices(have, size) if i not in have)
