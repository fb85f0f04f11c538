"""The operator's activation endpoint: an activator holding requests for a service at zero replicas
POSTs {"namespace", "service", "pending"} here, and that service's autoscaler runs a round at once,
with the held requests as its demand, instead of at its next poll (or never: at zero replicas the
model server exports no metric to see demand in)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiohttp import web

log = logging.getLogger("lepton.activation")

PATH = "/activate"


@dataclass
class Activations:
    """Requests held per service (key: inferenceservices/<namespace>/<name>), and the events that
    wake each service's autoscaler."""

    pending: dict[str, int] = field(default_factory=dict)
    _wake: dict[str, asyncio.Event] = field(default_factory=dict)

    def ask(self, key: str, pending: int) -> None:
        self.pending[key] = max(pending, 1, self.pending.get(key, 0))
        self.event(key).set()

    def event(self, key: str) -> asyncio.Event:
        return self._wake.setdefault(key, asyncio.Event())

    def take(self, key: str) -> int | None:
        """The requests held for ``key`` since the last round, if an activator asked."""
        self.event(key).clear()
        return self.pending.pop(key, None)

    async def wait(self, key: str, timeout: float) -> None:
        """Until an activator asks for ``key`` or ``timeout`` passes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event(key).wait(), timeout=timeout)

    def forget(self, key: str) -> None:
        self.pending.pop(key, None)
        self._wake.pop(key, None)


class Endpoint:
    """The HTTP endpoint, built with the memo and started by the operator's startup handler."""

    def __init__(self, activations: Activations) -> None:
        self.activations = activations
        app = web.Application(client_max_size=4096)
        app.router.add_post(PATH, self._activate)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self, host: str, port: int) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _activate(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            namespace, service = str(body["namespace"]), str(body["service"])
            pending = int(body.get("pending") or 1)
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected JSON {namespace, service, pending}"}, status=400)
        self.activations.ask(f"inferenceservices/{namespace}/{service}", pending)
        log.info("activation of %s/%s: %d requests held", namespace, service, pending)
        return web.json_response({"accepted": True}, status=202)
