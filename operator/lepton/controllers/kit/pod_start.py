"""Why an owner's pods do not start: the observe step of policies.pod_start, shared by every family
whose pods may wait on the kubelet (model servers, training workers).

Pods come from the family's own index (`pod_start` reduces one); the kubelet's Events of the one
stalled pod are listed on demand (the operator never watches Events: they are the noisiest kind in
a cluster) and at most every RECHECK_SECONDS per owner, so a pod stuck for hours costs one list
every few seconds, never a loop. At most READS_IN_FLIGHT of them run at once per controller: under
load (a burst of a hundred jobs whose pods the kubelet starts late) each list took 1.5-3 s on the
API server, and a hundred of them took every thread of the operator's API client, so the next
jobs' pod creates waited behind them. A look that finds the reads busy is put off to the next one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lepton.api.times import epoch_of
from lepton.kube import resources
from lepton.kube.client import Kube
from lepton.kube.errors import KubeError
from lepton.policies.pod_start import (
    RECHECK_SECONDS,
    Finding,
    PodEvent,
    PodStart,
    Waiting,
    finding,
    needs_events,
    stalled,
)

log = logging.getLogger("lepton.podstart")

READS_IN_FLIGHT = 2


def _epoch(value: Any) -> float | None:
    try:
        return epoch_of(str(value) if value else None)
    except ValueError:
        return None


def _states(statuses: Iterable[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any], bool]]:
    """(name, current state, whether it ran before) of each container status."""
    return [
        (str(s.get("name", "")), s.get("state") or {}, bool((s.get("lastState") or {}).get("terminated")))
        for s in statuses
    ]


def pod_start(body: Mapping[str, Any]) -> PodStart:
    """A watched pod reduced to what its start depends on."""
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    scheduled = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
    scheduled_at = None
    if spec.get("nodeName"):
        # The binding sets PodScheduled; a pod bound by hand (nodeName in its spec) has none.
        at = (
            (scheduled or {}).get("lastTransitionTime") if (scheduled or {}).get("status") == "True" else None
        )
        scheduled_at = _epoch(at) or _epoch(meta.get("creationTimestamp"))
    main = _states(status.get("containerStatuses") or [])
    init = _states(status.get("initContainerStatuses") or [])
    waiting = tuple(
        Waiting(name, str(state["waiting"].get("reason") or ""), str(state["waiting"].get("message") or ""))
        for name, state, _ in (*init, *main)
        if state.get("waiting")
    )
    return PodStart(
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        scheduled_at=scheduled_at,
        started=any(ran or "running" in state or "terminated" in state for _, state, ran in main),
        initializing=any("running" in state for _, state, _ in init),
        waiting=waiting,
        deleting=meta.get("deletionTimestamp") is not None,
    )


def pod_event(body: Mapping[str, Any]) -> PodEvent:
    """A core/v1 Event; when it was last seen, from whichever of its times is set (a repeated one
    moves lastTimestamp, or series.lastObservedTime for events.k8s.io writers), in whole seconds:
    the kubelet writes whole seconds, the scheduler microseconds, and its Scheduled must not look
    newer than a failure of the same second."""
    meta = body.get("metadata") or {}
    candidates = (
        (body.get("series") or {}).get("lastObservedTime"),
        body.get("lastTimestamp"),
        body.get("eventTime"),
        body.get("firstTimestamp"),
        meta.get("creationTimestamp"),
    )
    at = next((math.floor(t) for t in (_epoch(c) for c in candidates) if t is not None), 0.0)
    return PodEvent(
        type=str(body.get("type") or ""),
        reason=str(body.get("reason") or ""),
        message=str(body.get("message") or ""),
        at=at,
    )


@dataclass(frozen=True)
class StartCheck:
    finding: Finding | None
    """What keeps a pod from starting, if anything says so."""
    due: float | None
    """When the owner must be reconciled again to look anew; None: no pod is waiting to start."""


@dataclass
class PodStarts:
    """The last Events read per owner (its key): (pod uid, when, what they said)."""

    checks: dict[str, tuple[str, float, Finding | None]] = field(default_factory=dict)
    reading: int = 0
    """Events lists in flight (READS_IN_FLIGHT at most)."""

    async def check(
        self,
        kube: Kube,
        owner: str,
        namespace: str,
        pods: Iterable[PodStart],
        now: float,
        *,
        token_secrets: Sequence[tuple[str, str]] = (),
    ) -> StartCheck:
        look = stalled(pods, now)
        pod = look.pod
        if pod is None:
            self.checks.pop(owner, None)
            return StartCheck(None, look.due)
        cached = self.checks.get(owner)
        if cached is not None and cached[0] == pod.uid and now - cached[1] < RECHECK_SECONDS:
            return StartCheck(cached[2], cached[1] + RECHECK_SECONDS)
        events: list[PodEvent] = []
        if needs_events(pod):
            if self.reading >= READS_IN_FLIGHT:
                # Put off, not cached: the next look after RECHECK_SECONDS reads.
                return StartCheck(cached[2] if cached is not None else None, now + RECHECK_SECONDS)
            self.reading += 1
            try:
                events = [pod_event(e) for e in await resources.list_events(kube, namespace, pod.uid)]
            except KubeError as exc:
                # Best effort: without the read the status says what it said before (replicas not
                # ready), and the next look is RECHECK_SECONDS away, as after any read.
                log.warning("%s: reading the events of pod %s failed: %s", owner, pod.name, exc)
            finally:
                self.reading -= 1
        found = finding(pod, events, namespace=namespace, token_secrets=token_secrets)
        self.checks[owner] = (pod.uid, now, found)
        return StartCheck(found, look.due)

    def forget(self, owner: str) -> None:
        self.checks.pop(owner, None)
