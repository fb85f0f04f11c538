"""What the serving controllers keep in one operator process: their settings, the kit's per-object
locks and last status writes, and the hash of what this process last applied to each child (the
watch may lag behind our own writes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lepton.builders.serving_config import ServingConfig
from lepton.controllers.kit.objects import Objects
from lepton.controllers.serving.activation import Activations
from lepton.kube.client import Kube
from lepton.prom.client import CaBundle, PrometheusClient


def object_key(plural: str, meta: Mapping[str, Any]) -> str:
    return f"{plural}/{meta['namespace']}/{meta['name']}"


@dataclass
class Serving:
    kube: Kube
    config: ServingConfig
    clock: Callable[[], float] = time.time
    objects: Objects = field(default_factory=Objects)
    activations: Activations = field(default_factory=Activations)
    applied: dict[str, str] = field(default_factory=dict)
    """namespace/plural/name of a child -> hash of what this process last applied."""
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
