"""Per-object memory of one controller in one operator process: a lock per object (a reconcile may
start from the object's own handler, a child's event or a timer), and the object as our last status
write returned it (fresher than the watch for a moment)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from lepton.api.common import ObjectBase
from lepton.controllers.kit.status import status_patch
from lepton.kube import resources
from lepton.kube.client import Kube

T = TypeVar("T")


def ref_of(obj: ObjectBase) -> resources.Ref:
    """Where one of the operator's own objects lives."""
    return resources.Ref(obj.api_version, obj.PLURAL, obj.namespace, obj.name)


def fresher(body: Mapping[str, Any], cached: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``cached`` (our own last write) when the watch has not delivered it yet, else ``body``."""
    if cached is None or cached.get("metadata", {}).get("uid") != body.get("metadata", {}).get("uid"):
        return body
    try:
        ours = int(cached["metadata"]["resourceVersion"])
        theirs = int(body["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return body
    return cached if ours > theirs else body


class Objects:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._written: dict[str, Mapping[str, Any]] = {}
        # key -> uid of the object whose deletion was seen: a reconcile that comes after it from a
        # stale body (a child's event read from an index) must not act or report for it again.
        self._gone: dict[str, str] = {}

    def lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def freshest(self, key: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return fresher(body, self._written.get(key))

    def forget(self, key: str, uid: str | None = None) -> None:
        """Drop what is kept for ``key``; ``uid``: the deleted object's, never reconciled again."""
        self._locks.pop(key, None)
        self._written.pop(key, None)
        if uid:
            self._gone[key] = uid

    async def locked(
        self, key: str, body: Mapping[str, Any], reconcile: Callable[[Mapping[str, Any]], Awaitable[T]]
    ) -> T | None:
        """Run ``reconcile`` on the freshest body of ``key``, one at a time per object; not at all
        once the object is being deleted (None then)."""
        async with self.lock(key):
            fresh = self.freshest(key, body)
            meta = fresh["metadata"]
            if meta.get("deletionTimestamp") or (key in self._gone and self._gone[key] == meta.get("uid")):
                return None
            self._gone.pop(key, None)  # a new object of that name
            return await reconcile(fresh)

    async def write_status(
        self,
        kube: Kube,
        ref: resources.Ref,
        key: str,
        current: Mapping[str, Any] | None,
        desired: Mapping[str, Any],
    ) -> bool:
        """One status write when something changed, remembered so the next reconcile reads it.
        False when the object is gone."""
        patch = status_patch(current, desired)
        if patch is None:
            return True
        written = await resources.patch(kube, ref, {"status": patch}, subresource="status")
        if written is None:
            return False
        self._written[key] = written
        return True
