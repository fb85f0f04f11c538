"""The activator's decisions, free of I/O: admit, hold or reject a request; when to ask for a
replica; when to poll the backend; when a cold start ends.

Time is passed in (monotonic seconds), so every rule here is tested with tables. The HTTP side
(:mod:`lepton.activator.proxy`) calls these methods and does what they say.

The backend is *ready* only from a readiness probe that answered 200 until polling stops (no
request held and none for ``linger_s``) or a forward cannot connect. Between those the activator
knows nothing, and treats the backend as not ready: the activator is in the request path only
while the service is at zero, so a request after a quiet spell most likely starts a cold start,
and asking for a replica at once is the point. A redundant activation costs the operator an
idempotent scale-up; a late one costs the client the whole cold start again.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

# How long polling goes on after the last request: long enough that a steady trickle of requests
# finds the backend known-ready, short enough that an idle activator sends nothing.
LINGER_S = 10.0
# After a successful activation call the operator has the request; remind it now and then in
# case it restarted before acting. After a failed one, retry sooner.
REMIND_AFTER_OK_S = 10.0
RETRY_AFTER_ERROR_S = 2.0
# What a rejected client is told: the next try has a fair chance once a cold start has progressed.
RETRY_AFTER_S = 5


class Admission(enum.Enum):
    FORWARD = "forward"  # the backend is ready: send it on now
    HOLD = "hold"  # wait (bounded) for the backend
    QUEUE_FULL = "queue full"  # 503: too many held already
    DRAINING = "draining"  # 503: the activator is shutting down


class Outcome(enum.Enum):
    """What a held request does once woken."""

    WAIT = "wait"
    FORWARD = "forward"
    TIMED_OUT = "timed out"
    DRAINING = "draining"


@dataclass
class Gate:
    """The state of one activator: held requests, the backend's readiness, activation calls."""

    queue_size: int
    timeout_s: float
    linger_s: float = LINGER_S
    remind_after_ok_s: float = REMIND_AFTER_OK_S
    retry_after_error_s: float = RETRY_AFTER_ERROR_S

    ready: bool = False
    draining: bool = False
    pending: int = 0
    cold_start_since: float | None = None
    last_active_at: float | None = None
    activation_in_flight: bool = False
    next_activation_at: float | None = None  # None: due at once on the next held request

    def __post_init__(self) -> None:
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")

    def admit(self, now: float) -> Admission:
        """A request arrived. HOLD counts it as pending until :meth:`release`."""
        self.last_active_at = now
        if self.draining:
            return Admission.DRAINING
        if self.ready:
            return Admission.FORWARD
        if self.pending >= self.queue_size:
            return Admission.QUEUE_FULL
        self.pending += 1
        if self.cold_start_since is None:
            self.cold_start_since = now
            self.next_activation_at = None  # a new cold start asks at once
        return Admission.HOLD

    def check(self, arrived: float, now: float) -> Outcome:
        """What a held request that arrived at ``arrived`` does at ``now``."""
        if self.ready:
            return Outcome.FORWARD
        if self.draining:
            return Outcome.DRAINING
        if now - arrived >= self.timeout_s:
            return Outcome.TIMED_OUT
        return Outcome.WAIT

    def release(self, now: float) -> None:
        """A held request left the queue: forwarded, answered 503, or its client went away.
        Lingering counts from here: a request held for a minute was active until now."""
        if self.pending <= 0:
            raise RuntimeError("release without a held request")
        self.pending -= 1
        self.last_active_at = now
        if self.pending == 0 and not self.ready:
            # Nobody waits any more: the next held request starts a new cold start (and asks at
            # once), rather than inheriting this one's start time and reminder schedule.
            self.cold_start_since = None

    def activation_due(self, now: float) -> bool:
        if self.ready or self.draining or self.pending == 0 or self.activation_in_flight:
            return False
        return self.next_activation_at is None or now >= self.next_activation_at

    def activation_started(self) -> None:
        self.activation_in_flight = True

    def activation_finished(self, now: float, *, ok: bool) -> None:
        self.activation_in_flight = False
        self.next_activation_at = now + (self.remind_after_ok_s if ok else self.retry_after_error_s)

    def polling(self, now: float) -> bool:
        """Whether the backend's readiness should be probed now: while requests wait, or within
        ``linger_s`` of the last activity. When this turns false readiness is forgotten."""
        if self.draining:
            return False
        if self.pending > 0:
            return True
        recent = self.last_active_at is not None and now - self.last_active_at < self.linger_s
        if not recent:
            self.ready = False
        return recent

    def probed(self, now: float, *, ready: bool) -> float | None:
        """A readiness probe answered; returns the cold start's duration when this ends one."""
        self.ready = ready
        if not ready or self.cold_start_since is None:
            return None
        duration = now - self.cold_start_since
        self.cold_start_since = None
        self.next_activation_at = None
        return duration

    def backend_lost(self) -> None:
        """A forward could not connect: the backend is gone (scaled to zero again, restarted)."""
        self.ready = False

    def drain(self) -> None:
        self.draining = True

    def retry_after(self) -> int:
        return max(1, math.ceil(min(RETRY_AFTER_S, self.timeout_s)))
