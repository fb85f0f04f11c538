"""ClusterQueue: a named queue of TrainingJobs with a GPU quota and a queueing strategy, in the
sense of Kueue's ClusterQueue (nominalQuota, StrictFIFO / BestEffortFIFO), trimmed to what gang
admission acts on. Cluster-scoped: a quota shared by teams is the platform team's object, not one a
namespace's users may raise themselves."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from lepton.api.common import LeptonModel, ObjectBase

KIND = "ClusterQueue"
PLURAL = "clusterqueues"
SINGULAR = "clusterqueue"
# Not "cq": Kueue's ClusterQueue has that short name, and both may be installed.
SHORT_NAMES = ["lcq"]

DEFAULT_RESERVATION_SECONDS = 300


class QueueingStrategy(StrEnum):
    """How a queue's waiting jobs are admitted (Kueue's names and meaning)."""

    STRICT_FIFO = "StrictFIFO"
    BEST_EFFORT_FIFO = "BestEffortFIFO"


class NominalQuota(LeptonModel):
    """What the queue's admitted jobs may hold together."""

    gpus: Annotated[int, Field(ge=0)]
    """nvidia.com/gpu of every admitted job of the queue together (replicas x GPUs per worker)."""


class ClusterQueueSpec(LeptonModel):
    """A queue's quota and strategy."""

    queueing_strategy: QueueingStrategy = QueueingStrategy.BEST_EFFORT_FIFO
    """StrictFIFO: jobs are admitted strictly in order (priority, then age); a job that does not
    fit blocks the jobs behind it. BestEffortFIFO: a job that does not fit is passed over and
    smaller jobs behind it may be admitted; once it has waited reservationAfterSeconds at the head
    of the queue, only onto GPUs and quota that it does not need."""
    nominal_quota: NominalQuota | None = None
    """GPUs the queue's admitted jobs may hold together; unset: no quota, only the cluster's free
    GPUs limit the queue. Queues do not borrow from each other."""
    reservation_after_seconds: Annotated[int, Field(ge=0, le=86400)] = DEFAULT_RESERVATION_SECONDS
    """Seconds after being queued at which a job that is the head of the queue (first among its
    waiting jobs) holds a reservation: no job admitted after it, in this queue or another, may take
    the free GPUs of the nodes held for it (the fewest of those it can use that hold it once
    drained: those bound to drain first by their jobs' activeDeadlineSeconds, then those with the
    most free GPUs), unless its activeDeadlineSeconds ends before they are bound to drain; the
    others' workers get a node anti-affinity on them. Nor may they take the quota it needs (its
    smallest size of the queue's nominalQuota and its namespace's ResourceQuotas); while it waits
    for quota, the jobs behind it in the queue (its queue's quota) or its namespace (a
    ResourceQuota) wait too. So smaller jobs cannot starve it. 0: at once."""


class ClusterQueue(ObjectBase):
    """A named queue of TrainingJobs (spec.scheduling.queue) with a GPU quota and a queueing strategy."""

    KIND: ClassVar[str] = KIND
    PLURAL: ClassVar[str] = PLURAL

    kind: Literal["ClusterQueue"] = "ClusterQueue"
    """Kind of the object: ClusterQueue."""
    spec: ClusterQueueSpec = Field(default_factory=ClusterQueueSpec)
    """The queue's quota and strategy."""
