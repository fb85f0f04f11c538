"""What the serving controllers keep in one operator process: their settings, the kit's per-object
locks and last status writes, the hash of what this process last applied to each child (the
watch may lag behind our own writes), and when each rollout asked to be looked at again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lepton.builders.serving_config import ServingConfig
from lepton.controllers.kit.objects import Objects
from lepton.controllers.kit.pod_start import PodStarts
from lepton.controllers.serving.activation import Activations
from lepton.kube.client import Kube
from lepton.kube.resources import Discovery
from lepton.metrics import Metrics
from lepton.prom.client import CaBundle, PrometheusClient


def object_key(plural: str, meta: Mapping[str, Any]) -> str:
    return f"{plural}/{meta['namespace']}/{meta['name']}"


class Requeues:
    """When each service must be reconciled again (a rollout's pause ends or a check is due, a
    model-server pod waiting to start is due a look): its daemon (controllers.serving.handlers)
    sleeps until then, and re-arms when a reconcile sets another time."""

    def __init__(self) -> None:
        self.due: dict[str, float] = {}
        self._wake: dict[str, asyncio.Event] = {}

    def set(self, key: str, at: float | None) -> None:
        """Reconcile ``key`` at ``at`` (epoch seconds); None: nothing is due."""
        if at is None:
            self.due.pop(key, None)
        else:
            self.due[key] = at
        self._wake.setdefault(key, asyncio.Event()).set()

    def earliest(self, key: str, at: float) -> None:
        """Reconcile ``key`` at ``at`` unless something is due sooner."""
        due = self.due.get(key)
        if due is None or at < due:
            self.set(key, at)

    async def sleep(self, key: str, clock: Callable[[], float]) -> None:
        """Until ``key``'s time comes (indefinitely while none is set)."""
        wake = self._wake.setdefault(key, asyncio.Event())
        while True:
            wake.clear()
            due = self.due.get(key)
            left = None if due is None else due - clock()
            if left is not None and left <= 0:
                self.due.pop(key, None)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=left)

    def forget(self, key: str) -> None:
        self.due.pop(key, None)
        self._wake.pop(key, None)


@dataclass
class Serving:
    kube: Kube
    config: ServingConfig
    clock: Callable[[], float] = time.time
    metrics: Metrics = field(default_factory=Metrics)
    """The operator's gauges (shared with the training controllers in the operator process)."""
    discovery: Discovery | None = None
    """Whether optional APIs (Gateway API's HTTPRoute) are served; None: never asked (no Gateway)."""
    requeues: Requeues = field(default_factory=Requeues)
    rollout_annotations: dict[str, tuple[str | None, ...]] = field(default_factory=dict)
    """Key of a service -> its lepton.ai/promote, abort and retry values as last acted on."""
    objects: Objects = field(default_factory=Objects)
    activations: Activations = field(default_factory=Activations)
    applied: dict[str, str] = field(default_factory=dict)
    """namespace/plural/name of a child -> hash of what this process last applied."""
    pod_starts: PodStarts = field(default_factory=PodStarts)
    """The last read of a stalled model-server pod's Events, per service."""
    clients: dict[tuple[str, str | None, str | None], PrometheusClient] = field(default_factory=dict)
    """One Prometheus client (a connection pool) per URL and credentials."""

    def prometheus(self, url: str, token: str | None, ca: CaBundle | None) -> PrometheusClient:
        key = (url, token, ca.pem if ca else None)
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = PrometheusClient(url, token=token, ca=ca)
        return client

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        self.clients.clear()

    def forget_children(self, namespace: str, prefixes: tuple[str, ...]) -> None:
        """An owner is gone: drop what was applied to its children (namespace/plural/name prefixes)."""
        for ident in [i for i in self.applied if i.startswith(tuple(f"{namespace}/{p}" for p in prefixes))]:
            self.applied.pop(ident, None)
