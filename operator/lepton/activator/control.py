"""The activator's moving parts around the pure :class:`~lepton.activator.core.Gate`: the readiness
poller, the activation calls, and waking held requests.

One event loop, no threads: every Gate method runs between awaits, so no lock is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from lepton.activator.core import Admission, Gate, Outcome
from lepton.activator.metrics import ActivatorMetrics

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
ACTIVATE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ActivatorConfig:
    service: str
    namespace: str
    backend: str
    activate_url: str
    host: str = "0.0.0.0"
    port: int = 8080
    queue_size: int = 100
    timeout_s: float = 60.0
    ready_path: str = "/v2/health/ready"
    poll_interval_s: float = 0.25
    max_body_bytes: int = 64 * 1024 * 1024
    grace_s: float = 25.0  # under Kubernetes' default terminationGracePeriodSeconds of 30
    drain_delay_s: float = 0.0
    """After SIGTERM, seconds it keeps accepting (readiness false) before the listener closes: the
    stable Service has just moved to the model servers, and kube-proxy may still send here."""
    log_level: str = "INFO"

    @property
    def backend_base(self) -> str:
        return self.backend.rstrip("/")


def loggable(url: str) -> str:
    """A URL without user info, query or fragment: what a log line may show of a configured URL."""
    parsed = URL(url)
    return str(parsed.with_user(None).with_query(None).with_fragment(None))


def now() -> float:
    return time.monotonic()


class Controller:
    def __init__(self, config: ActivatorConfig, metrics: ActivatorMetrics, session: aiohttp.ClientSession):
        self.config = config
        self.metrics = metrics
        self.session = session
        self.gate = Gate(config.queue_size, config.timeout_s)
        self.stopping = False
        """SIGTERM came: readiness is false, requests are still accepted (the drain delay)."""
        self._changed = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- requests -------------------------------------------------------------------------------

    def admit(self) -> Admission:
        admission = self.gate.admit(now())
        self.metrics.pending.set(self.gate.pending)
        if admission is Admission.HOLD:
            # Ask at once: the activator exists to shorten the cold start, not to wait for a poll.
            self._maybe_activate()
        if admission in (Admission.HOLD, Admission.FORWARD):
            self._ensure_polling()
        return admission

    async def wait(self, arrived: float) -> Outcome:
        """Wait (held) until the request can be forwarded, times out, or the activator drains.
        The caller releases the slot afterwards, also when cancelled (the client went away)."""
        while True:
            outcome = self.gate.check(arrived, now())
            if outcome is not Outcome.WAIT:
                return outcome
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), arrived + self.config.timeout_s - now())

    def release(self) -> None:
        self.gate.release(now())
        self.metrics.pending.set(self.gate.pending)

    def backend_lost(self) -> None:
        log.info("the backend refused a connection; holding requests until it is ready again")
        self.gate.backend_lost()
        self._notify()

    # --- readiness ------------------------------------------------------------------------------

    def _notify(self) -> None:
        # Waiters hold the current event; a fresh one is for the next change.
        self._changed.set()
        self._changed = asyncio.Event()

    def _ensure_polling(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="readiness-poller")

    async def _poll(self) -> None:
        while self.gate.polling(now()):
            await self.probe_once()
            self._maybe_activate()  # retries and reminders while requests keep waiting
            await asyncio.sleep(self.config.poll_interval_s)
        self._notify()

    async def probe_once(self) -> bool:
        url = f"{self.config.backend_base}{self.config.ready_path}"
        try:
            timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
            async with self.session.get(url, timeout=timeout) as response:
                await response.read()
                ready = response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ready = False  # nothing listening yet is the normal state of a cold start
        was_ready = self.gate.ready
        duration = self.gate.probed(now(), ready=ready)
        if duration is not None:
            self.metrics.cold_start.observe(duration)
            log.info("backend ready after a cold start of %.3fs", duration)
        elif ready != was_ready:
            log.info("backend %s", "ready" if ready else "not ready")
        self._notify()
        return ready

    # --- activation -----------------------------------------------------------------------------

    def _maybe_activate(self) -> None:
        if self.gate.activation_due(now()):
            self.gate.activation_started()
            self._spawn(self._activate(self.gate.pending))

    async def _activate(self, pending: int) -> None:
        body = {"namespace": self.config.namespace, "service": self.config.service, "pending": pending}
        ok = False
        try:
            timeout = aiohttp.ClientTimeout(total=ACTIVATE_TIMEOUT_S)
            async with self.session.post(self.config.activate_url, json=body, timeout=timeout) as response:
                await response.read()
                ok = 200 <= response.status < 300
                if not ok:
                    log.warning(
                        "activation call to %s answered %d; will retry",
                        loggable(self.config.activate_url),
                        response.status,
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "activation call to %s failed (%s); will retry",
                loggable(self.config.activate_url),
                type(exc).__name__,
            )
        finally:
            self.gate.activation_finished(now(), ok=ok)
            self.metrics.activation(ok=ok)
        if ok:
            log.info("asked for a replica (%d requests held)", pending)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    # --- shutdown -------------------------------------------------------------------------------

    async def drain(self) -> None:
        """Stop holding: one last probe, so requests forward if a replica is ready (the operator
        deletes the activator just after one is), then every held request wakes to its outcome."""
        await self.probe_once()
        self.gate.drain()
        self._notify()

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._poller] if self._poller else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
