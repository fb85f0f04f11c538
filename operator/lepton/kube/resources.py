"""Idempotent operations on objects given as dicts: create-by-name, delete, get,
merge-patch, events (posted, and listed for one object). Refused requests raise kube.errors.KubeError."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from lepton.kube.client import Kube
from lepton.kube.errors import kube_error

MERGE_PATCH = "application/merge-patch+json"
COMPONENT = "lepton-operator"


def base_path(api_version: str) -> str:
    return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"


def collection_path(api_version: str, plural: str, namespace: str) -> str:
    """An empty namespace: a cluster-scoped kind (a GatewayClass, for instance)."""
    where = f"/namespaces/{namespace}" if namespace else ""
    return f"{base_path(api_version)}{where}/{plural}"


def object_path(api_version: str, plural: str, namespace: str, name: str) -> str:
    return f"{collection_path(api_version, plural, namespace)}/{name}"


@dataclass(frozen=True)
class Ref:
    """Where one object lives."""

    api_version: str
    plural: str
    namespace: str
    name: str

    @property
    def path(self) -> str:
        return object_path(self.api_version, self.plural, self.namespace, self.name)

    def __str__(self) -> str:
        return f"{self.plural}/{self.name}"


async def create(kube: Kube, body: Mapping[str, Any], plural: str) -> bool:
    """Create the object; False when one of that name exists already (the name is the identity)."""
    meta = body["metadata"]
    path = collection_path(body["apiVersion"], plural, meta["namespace"])
    try:
        await kube.request("POST", path, body=body)
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise kube_error(exc, f"creating {plural}/{meta['name']}") from exc
    return True


async def delete(
    kube: Kube,
    ref: Ref,
    *,
    grace_seconds: int | None = None,
    propagation: str = "Background",
    version: str | None = None,
) -> bool:
    """Delete the object; False when it is gone already, or, with ``version``, when it changed since
    that resourceVersion (a precondition: it is then left as it is)."""
    options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
    if grace_seconds is not None:
        options["gracePeriodSeconds"] = grace_seconds
    if version is not None:
        options["preconditions"] = {"resourceVersion": version}
    try:
        await kube.request("DELETE", ref.path, body=options)
    except ApiException as exc:
        if exc.status == 404 or (exc.status == 409 and version is not None):
            return False
        raise kube_error(exc, f"deleting {ref}") from exc
    return True


async def patch(
    kube: Kube, ref: Ref, body: Mapping[str, Any], *, subresource: str | None = None
) -> dict[str, Any] | None:
    """JSON merge-patch; None when the object is gone (nothing left to patch)."""
    path = ref.path + (f"/{subresource}" if subresource else "")
    try:
        return await kube.request("PATCH", path, body=body, content_type=MERGE_PATCH)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise kube_error(exc, f"patching {ref}{'/' + subresource if subresource else ''}") from exc


async def get(kube: Kube, ref: Ref) -> dict[str, Any] | None:
    try:
        return await kube.request("GET", ref.path)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise kube_error(exc, f"reading {ref}") from exc


def _timestamp(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def post_event(
    kube: Kube,
    involved: Mapping[str, Any],
    event_type: str,
    reason: str,
    message: str,
    *,
    now: float | None = None,
    instance: str = "",
) -> None:
    """Record a core/v1 Event about ``involved`` (its apiVersion, kind, name, namespace, uid).

    Events are best effort: a lost event must not fail or retry a reconcile that already acted.
    """
    at = _timestamp(time.time() if now is None else now)
    namespace = involved["namespace"]
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{involved['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
        "involvedObject": dict(involved),
        "type": event_type,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": f"lepton.ai/{COMPONENT}",
        "reportingInstance": instance or COMPONENT,
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
    }
    try:
        await kube.request("POST", collection_path("v1", "events", namespace), body=body)
    except ApiException:
        return


async def list_events(kube: Kube, namespace: str, uid: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The core/v1 Events about the object ``uid`` of ``namespace`` (the kubelet's, for a pod)."""
    query = {"fieldSelector": f"involvedObject.uid={uid}", "limit": str(limit)}
    try:
        answer = await kube.request("GET", collection_path("v1", "events", namespace), query=query)
    except ApiException as exc:
        raise kube_error(exc, f"listing the events of {uid}") from exc
    return list(answer.get("items") or [])


class Discovery:
    """Whether an API resource is served (e.g. a PodGroup CRD is installed), cached for a while.

    A group that is not served is asked again sooner than one that is: an API installed after the
    operator started (Gateway API, Traefik's CRDs) is then acted on within ``absent_ttl_seconds``,
    and until then the operator takes it as missing and says so in status."""

    def __init__(
        self,
        kube: Kube,
        ttl_seconds: float = 60.0,
        absent_ttl_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._ttl = ttl_seconds
        self._absent_ttl = absent_ttl_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}

    async def served(self, group: str, version: str, plural: str) -> bool:
        key = (group, version)
        cached = self._cache.get(key)
        ttl = self._ttl if cached is not None and plural in cached[1] else self._absent_ttl
        if cached is None or self._clock() - cached[0] > ttl:
            try:
                listing = await self._kube.request("GET", f"/apis/{group}/{version}")
                names = frozenset(str(r.get("name")) for r in listing.get("resources", []))
            except ApiException as exc:
                if exc.status not in (404, 503):
                    raise kube_error(exc, f"discovering {group}/{version}") from exc
                names = frozenset()
            cached = (self._clock(), names)
            self._cache[key] = cached
        return plural in cached[1]
