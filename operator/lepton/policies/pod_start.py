"""Why a scheduled pod does not start, in the kubelet's words, for its owner's conditions.

A pod whose volume cannot be mounted (a Secret or ConfigMap that does not exist), whose sandbox
cannot be made or whose image cannot be pulled waits in ContainerCreating (or Pending with no
container status) for as long as that lasts. Its owner only sees replicas that are not ready; the
reason is in the kubelet's Events of the pod (FailedMount, ...) or in a container's waiting state
(ErrImagePull, ...). The owner's reconcile asks `stalled` which pod to look at and when, reads that
pod's Events (controllers.kit.pod_start) and asks `finding` what its condition says. Pure: the pods,
the Events and the clock come in, a reason and a message go out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from lepton.builders.auth import TOKEN_VOLUME

STALL_SECONDS = 5.0
"""A pod that starts within this long after it was scheduled costs no read of its Events."""
RECHECK_SECONDS = 10.0
"""While a pod stays stalled its Events are read again at most this often (a timer, not a loop)."""
MAX_MESSAGE = 400
"""The kubelet's message is cut to this many characters (a condition message stays readable)."""

# Waiting reasons whose container status already says why (no Event needed). ContainerCreating and
# PodInitializing are not among them: they say only that the pod has not started yet.
REPORTED_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
# The kubelet's Warning reasons that keep a pod from starting (the volume manager, the sandbox).
KUBELET_FAILURES = frozenset(
    {"FailedMount", "FailedAttachVolume", "FailedMapVolume", "FailedCreatePodSandBox"}
)
_MISSING_SECRET = re.compile(r'secrets? "([^"]+)" not found')
_MISSING_KEY = re.compile(r"references non-existent secret key: ([-._a-zA-Z0-9]+)")


class StartProblem(StrEnum):
    """The reasons a finding carries; each owner kind has them among its own reasons."""

    TOKEN_SECRET_MISSING = "TokenSecretMissing"  # noqa: S105 - a reason, not a secret
    """A Secret (or a key of it) that spec.auth.tokenSecrets names does not exist."""
    POD_START_FAILED = "PodStartFailed"
    """Anything else the kubelet says keeps the pod from starting."""


@dataclass(frozen=True)
class Waiting:
    container: str
    reason: str
    message: str = ""


@dataclass(frozen=True)
class PodStart:
    """A pod as far as its start goes."""

    name: str
    uid: str
    scheduled_at: float | None = None
    """When it was bound to a node; None while it is not (the scheduler's condition says why)."""
    started: bool = False
    """A main container runs or ran (what happens after that is the pod's own story)."""
    initializing: bool = False
    """An init container is running: the pod is busy, not stuck."""
    waiting: tuple[Waiting, ...] = ()
    deleting: bool = False


@dataclass(frozen=True)
class PodEvent:
    type: str
    reason: str
    message: str
    at: float
    """When it was last seen (a repeated Event keeps its name and moves this on)."""


@dataclass(frozen=True)
class Finding:
    reason: StartProblem
    message: str
    pod: str


@dataclass(frozen=True)
class Look:
    pod: PodStart | None
    """The pod whose Events to read now; None: none has been stalled long enough."""
    due: float | None
    """When to look again; None: no pod is waiting to start."""


def stalled(pods: Iterable[PodStart], now: float, stall: float = STALL_SECONDS) -> Look:
    """The longest-stalled pod past ``stall`` seconds (they share a template: one says why for all),
    and when to look again: after RECHECK_SECONDS while one is stalled, else when the next one will
    have been waiting for ``stall``."""
    waiting = sorted((p for p in pods if _waiting(p)), key=lambda p: (p.scheduled_at or 0.0, p.name))
    if not waiting:
        return Look(None, None)
    first = waiting[0]
    since = first.scheduled_at or 0.0
    if now - since >= stall:
        return Look(first, now + RECHECK_SECONDS)
    return Look(None, since + stall)


def look_at(pod: PodStart, stall: float = STALL_SECONDS) -> float | None:
    """When a pod that is waiting to start is due a look (None: it is not waiting): what a pod's
    own change asks of its owner's timer, so that a pod scheduled after the owner's last reconcile
    is not missed."""
    return pod.scheduled_at + stall if _waiting(pod) and pod.scheduled_at is not None else None


def _waiting(pod: PodStart) -> bool:
    return pod.scheduled_at is not None and not (pod.started or pod.initializing or pod.deleting)


def needs_events(pod: PodStart) -> bool:
    """Whether the pod's Events must be read: its container statuses do not already say why."""
    return not any(w.reason in REPORTED_WAITING for w in pod.waiting)


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _newest(events: Iterable[PodEvent]) -> PodEvent | None:
    # A Warning wins a tie: Events carry whole seconds, and "Scheduled" shares the failure's second.
    return max(events, key=lambda e: (e.at, e.type == "Warning"), default=None)


def finding(
    pod: PodStart,
    events: Sequence[PodEvent],
    *,
    namespace: str,
    token_secrets: Sequence[tuple[str, str]] = (),
) -> Finding | None:
    """What keeps ``pod`` from starting, from its container statuses or else from the newest of its
    Events (an older failure the kubelet has got past is history); None when nothing says so.
    ``token_secrets``: spec.auth.tokenSecrets as (name, key), whose volume gets a specific reason.
    The message names objects only: a TokenSecretMissing message is made of the spec's names and
    keys, never of the kubelet's text."""
    for w in pod.waiting:
        if w.reason in REPORTED_WAITING:
            detail = f": {_cut(w.message)}" if w.message else ""
            return Finding(
                StartProblem.POD_START_FAILED,
                f"pod {pod.name} cannot start: container {w.container}: {w.reason}{detail}",
                pod.name,
            )
    newest = _newest(events)
    if newest is None or newest.type != "Warning" or newest.reason not in KUBELET_FAILURES:
        return None
    tokens = _token_finding(pod.name, newest, namespace, token_secrets)
    if tokens is not None:
        return tokens
    return Finding(
        StartProblem.POD_START_FAILED,
        f"pod {pod.name} cannot start: {newest.reason}: {_cut(newest.message)}",
        pod.name,
    )


def _token_finding(
    pod: str, event: PodEvent, namespace: str, token_secrets: Sequence[tuple[str, str]]
) -> Finding | None:
    if event.reason != "FailedMount" or f'volume "{TOKEN_VOLUME}"' not in event.message:
        return None
    waits = f"pod {pod} waits in ContainerCreating until then"
    missing = set(_MISSING_SECRET.findall(event.message))
    names = list(dict.fromkeys(name for name, _ in token_secrets if name in missing))
    if names:
        which = ", ".join(names)
        noun = "Secret" if len(names) == 1 else "Secrets"
        return Finding(
            StartProblem.TOKEN_SECRET_MISSING,
            f"{noun} {which} named in spec.auth.tokenSecrets not found in namespace {namespace}: "
            f"create {'it' if len(names) == 1 else 'them'}; {waits}",
            pod,
        )
    keys = set(_MISSING_KEY.findall(event.message))
    entries = [f"{key} of Secret {name}" for name, key in token_secrets if key in keys]
    if entries:
        return Finding(
            StartProblem.TOKEN_SECRET_MISSING,
            f"key {', '.join(entries)} (spec.auth.tokenSecrets) not found in namespace {namespace}: "
            f"add it to the Secret; {waits}",
            pod,
        )
    return None
