"""Events of one reconcile, queued while it acts and sent once its status write succeeded (JobSet's
order): a reader who sees the event finds the status that explains it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lepton.api.common import ObjectBase
from lepton.kube import resources
from lepton.kube.client import Kube


@dataclass
class Events:
    involved: Mapping[str, Any]
    """apiVersion, kind, name, namespace and uid of the object the events are about."""
    pending: list[tuple[str, str, str]] = field(default_factory=list)

    def normal(self, reason: StrEnum, message: str) -> None:
        self.pending.append(("Normal", reason.value, message))

    def warning(self, reason: StrEnum, message: str) -> None:
        self.pending.append(("Warning", reason.value, message))

    async def send(self, kube: Kube) -> None:
        """Post the queued events in order (best effort: a lost event never fails a reconcile)."""
        for event_type, reason, message in self.pending:
            await resources.post_event(kube, self.involved, event_type, reason, message)
        self.pending.clear()


def events_about(obj: ObjectBase) -> Events:
    """An empty queue of events about one of the operator's own objects."""
    return Events(
        {
            "apiVersion": obj.api_version,
            "kind": obj.KIND,
            "name": obj.name,
            "namespace": obj.namespace,
            "uid": obj.metadata.uid,
        }
    )
