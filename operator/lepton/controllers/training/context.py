"""What the TrainingJob controller keeps in one operator process, beside the cluster's own state:
admission decisions (the queue), per-job locks and last status writes (the kit), objects it created
that the watch has not shown yet, when each job wants to be looked at again, and why a job cannot run
when only acting found out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lepton.controllers.kit.objects import Objects
from lepton.controllers.kit.pod_start import PodStarts
from lepton.controllers.training.queue import Queue
from lepton.controllers.training.tasks import JobTasks
from lepton.kube.client import Kube
from lepton.kube.resources import Discovery
from lepton.metrics import Metrics
from lepton.policies.gpu_health import NodeFault
from lepton.settings import Settings

# How long an object this process created counts as existing while the watch has not shown it.
CREATED_GRACE_SECONDS = 30.0


class Created:
    """Objects created by this process that the watches have not shown yet: key -> what -> when.
    A reconcile woken by the first pod's event would otherwise create the others again (409s)."""

    def __init__(self) -> None:
        self._created: dict[str, dict[str, float]] = {}

    def created(self, key: str, what: str, at: float) -> None:
        self._created.setdefault(key, {})[what] = at

    def seen(self, key: str, what: str) -> None:
        """The watch delivered ``what``: from now on the index says whether it exists."""
        pending = self._created.get(key)
        if pending is not None:
            pending.pop(what, None)

    def recently_created(self, key: str, what: str, now: float) -> bool:
        """Created by this process a moment ago and not shown by the watch yet (then it exists: the
        grace period only covers a pod created and deleted between two relists of the watch)."""
        at = self._created.get(key, {}).get(what)
        return at is not None and now - at < CREATED_GRACE_SECONDS

    def forget(self, key: str) -> None:
        self._created.pop(key, None)


class Wakeups:
    """Each job's resync loop sleeps on an event: pod events and freed GPUs set it, and the job's
    own requeue time bounds the sleep. A woken loop waits a moment before it reconciles, so that a
    burst of pod events costs one reconcile; a kick ``at_once`` skips that wait or ends it, for what
    GPUs stand idle until it is done (a job admitted by another job's pass creating its workers, the
    pass that GPUs freed by a finished job allow, a preemption victim stopping its workers)."""

    def __init__(self) -> None:
        self._wake: dict[str, asyncio.Event] = {}
        self._at_once: dict[str, asyncio.Event] = {}
        # When each job asked to be looked at again (epoch seconds).
        self.requeue_at: dict[str, float] = {}

    def event(self, key: str) -> asyncio.Event:
        return self._wake.setdefault(key, asyncio.Event())

    def urgent(self, key: str) -> asyncio.Event:
        """Set by a kick ``at_once`` until the loop clears its kicks: its debounce ends there."""
        return self._at_once.setdefault(key, asyncio.Event())

    def kick(self, key: str, *, at_once: bool = False) -> None:
        event = self._wake.get(key)
        if event is not None:
            if at_once:
                self.urgent(key).set()
            event.set()

    def kick_all(self, keys: Iterable[str], *, at_once: bool = False) -> None:
        for key in keys:
            self.kick(key, at_once=at_once)

    def at_once(self, key: str) -> bool:
        """Whether ``key`` was kicked ``at_once`` since its loop last cleared its kicks."""
        urgent = self._at_once.get(key)
        return urgent is not None and urgent.is_set()

    def clear(self, key: str) -> None:
        """``key``'s loop is about to reconcile: that serves every kick so far."""
        for events in (self._wake, self._at_once):
            event = events.get(key)
            if event is not None:
                event.clear()

    def forget(self, key: str) -> None:
        self._wake.pop(key, None)
        self._at_once.pop(key, None)
        self.requeue_at.pop(key, None)


@dataclass
class Training:
    kube: Kube
    settings: Settings
    metrics: Metrics
    discovery: Discovery
    clock: Callable[[], float]
    queue: Queue = field(default_factory=Queue)
    objects: Objects = field(default_factory=Objects)
    created: Created = field(default_factory=Created)
    wakeups: Wakeups = field(default_factory=Wakeups)
    tasks: JobTasks = field(default_factory=JobTasks)
    """Each job's resync and progress loops (a standalone operator's; kopf daemons with peering)."""
    handled: dict[str, tuple[object, ...]] = field(default_factory=dict)
    """The uid, generation, labels and annotations of each job its event handler last reconciled."""
    conflicts: dict[str, str] = field(default_factory=dict)
    """Why a job cannot run, found while acting (its Service's name is taken): key -> message."""
    refused: dict[str, str] = field(default_factory=dict)
    """The API server's message when it refused to create a job's pod or Service for good (a 4xx
    that retrying cannot fix: KubeError.config_error): key -> message. The job fails ConfigError."""
    node_faults: dict[str, NodeFault | None] = field(default_factory=dict)
    """The GPU fault last seen on each node, so that a change wakes the jobs it concerns."""
    pod_starts: PodStarts = field(default_factory=PodStarts)
    """The last read of a stalled worker pod's Events, per job."""
    standing: dict[str, float] = field(default_factory=dict)
    """When each job's status was last written (where a queued job stands is written at most every
    reconcile.STANDING_REFRESH_S)."""
    terminating: dict[str, float] = field(default_factory=dict)
    """Namespace -> until when no pod or Service is created in it: the API server refused one as
    the namespace is being deleted (its jobs go with it). Each pod the namespace's deletion removes
    wakes its job, which would ask again for every missing worker: thousands of refused creates
    for a namespace of a hundred jobs. A time, not for ever: a namespace of that name may be
    made again."""

    def creates_held(self, namespace: str) -> bool:
        """Whether creates in ``namespace`` are held (``terminating``)."""
        return self.terminating.get(namespace, 0.0) > self.clock()

    def forget(self, key: str) -> None:
        """The job is gone: drop everything this process kept about it."""
        self.queue.forget(key)
        self.objects.forget(key)
        self.created.forget(key)
        self.wakeups.forget(key)
        self.handled.pop(key, None)
        self.conflicts.pop(key, None)
        self.refused.pop(key, None)
        self.pod_starts.forget(key)
        self.standing.pop(key, None)
