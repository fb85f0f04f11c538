"""State the serving controllers share in one operator process: their settings, one lock per object
(a reconcile may start from the object's own handler or from a child's event) and our own latest
status writes (fresher than the watch for a moment)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lepton.builders.serving_config import ServingConfig
from lepton.kube import resources

if TYPE_CHECKING:
    from lepton.operator import Memo


@dataclass
class ServingRuntime:
    config: ServingConfig
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    last_written: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    applied: dict[str, str] = field(default_factory=dict)
    """namespace/kind/name -> hash of what this process last applied (the watch may lag behind)."""

    def lock(self, key: str) -> asyncio.Lock:
        return self.locks.setdefault(key, asyncio.Lock())

    def forget(self, key: str) -> None:
        self.locks.pop(key, None)
        self.last_written.pop(key, None)

    def needs_apply(self, key: str, desired: str, observed: str | None) -> bool:
        """Whether an object whose desired hash is ``desired`` must be applied: it is missing
        (``observed`` None) or differs, and this process has not just applied exactly that."""
        if observed is None:
            return True
        return observed != desired and self.applied.get(key) != desired

    async def reconcile_locked(
        self, key: str, body: Mapping[str, Any], reconcile: Callable[[Mapping[str, Any]], Awaitable[None]]
    ) -> None:
        """Run ``reconcile`` on the freshest body of ``key``, one at a time per object; not at all
        once the object is being deleted."""
        async with self.lock(key):
            body = self.fresher(key, body)
            if not body["metadata"].get("deletionTimestamp"):
                await reconcile(body)

    async def write_status(
        self,
        kube: Any,
        ref: resources.Ref,
        key: str,
        current: Mapping[str, Any] | None,
        desired: Mapping[str, Any],
    ) -> None:
        """One status write when something changed; remembered so the next reconcile reads it."""
        patch = status_changes(dict(current) if current else None, desired)
        if patch is not None:
            written = await resources.patch(kube, ref, {"status": patch}, subresource="status")
            if written is not None:
                self.last_written[key] = written

    def fresher(self, key: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Our own last write of ``key`` when the watch has not delivered it yet, else ``body``."""
        cached = self.last_written.get(key)
        if cached is None or cached.get("metadata", {}).get("uid") != body.get("metadata", {}).get("uid"):
            return body
        try:
            ours = int(cached["metadata"]["resourceVersion"])
            theirs = int(body["metadata"]["resourceVersion"])
        except (KeyError, TypeError, ValueError):
            return body
        return cached if ours > theirs else body


def install(memo: Memo, config: ServingConfig) -> ServingRuntime:
    """Attach the runtime to the operator's root memo at startup: kopf hands every object a shallow
    copy of that memo, so all handlers then share this one runtime."""
    memo.serving = ServingRuntime(config)
    return memo.serving


def object_key(plural: str, meta: Mapping[str, Any]) -> str:
    return f"{plural}/{meta['namespace']}/{meta['name']}"


def runtime_of(memo: Memo) -> ServingRuntime:
    if memo.serving is None:
        raise RuntimeError("the serving runtime was not installed (lepton.handlers.serving startup)")
    return memo.serving


def status_changes(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch turning the keys of ``desired`` in ``current`` into their desired values (a
    None value deletes the key); keys the controller does not manage are left alone. None if equal."""
    current = current or {}
    patch = {k: v for k, v in desired.items() if current.get(k) != v and not (v is None and k not in current)}
    return patch or None
