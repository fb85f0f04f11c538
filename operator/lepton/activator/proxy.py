"""The activator's HTTP side (aiohttp): hold or forward every request, answer 503 when it cannot.

Routes:

- ``GET /-/activator/healthz``: the activator's own liveness and readiness (503 while draining).
  The ``/-/`` prefix is not a path of the Open Inference Protocol or of any model server.
- ``GET /metrics`` and ``GET /-/activator/metrics``: the activator's metrics. ``/metrics`` is not
  forwarded: the model server serves one too, but the activator is only in the path while the
  service has no ready replica, and a scrape must not wake the model.
- anything else, any method: held until the backend is ready, then forwarded with its body and
  end-to-end headers; the backend's status, headers and body come back as they are.

The activator's own errors are ``{"error": "<message>"}``; 503s carry ``Retry-After``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from lepton.activator.control import Controller, now
from lepton.activator.core import Admission, Outcome
from lepton.activator.headers import end_to_end, forwarded_for
from lepton.activator.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger(__name__)

CONTROLLER = web.AppKey("controller", Controller)
CHUNK_BYTES = 64 * 1024
# Only connecting has a deadline: inference may legitimately take long, and the client's own
# timeout bounds it. A backend that cannot be connected to is not there.
FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=2.0)
# The client library would add these when absent; a proxy sends only what the client sent.
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
_NOT_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


def _json(payload: dict[str, Any], status: int) -> web.Response:
    return web.Response(body=json.dumps(payload).encode(), status=status, content_type="application/json")


class _Routes:
    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.metrics = controller.metrics

    async def healthz(self, request: web.Request) -> web.Response:
        if self.controller.gate.draining or self.controller.stopping:
            return _json({"status": "draining"}, 503)
        return _json({"status": "ok"}, 200)

    async def metrics_page(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.exposition())
        response.headers["Content-Type"] = METRICS_CONTENT_TYPE
        return response

    def _unavailable(self, message: str) -> web.Response:
        response = _json({"error": message}, 503)
        response.headers["Retry-After"] = str(self.controller.gate.retry_after())
        return response

    async def proxy(self, request: web.Request) -> web.StreamResponse:
        response = await self._proxy(request)
        self.metrics.answered(response.status)
        return response

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        arrived = now()
        limit = self.controller.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            # Refused before holding: no point waking a model for a request it cannot get.
            return _json({"error": f"request body of {request.content_length} bytes exceeds {limit}"}, 413)
        body: bytes | None = None
        while True:  # around again only when a forward cannot connect; the timeout bounds it
            admission = self.controller.admit()
            if admission is Admission.QUEUE_FULL:
                return self._unavailable(
                    f"activator queue full: {self.controller.config.queue_size} requests already wait "
                    "for the model to start"
                )
            if admission is Admission.DRAINING:
                return self._unavailable("activator is shutting down")
            if admission is Admission.HOLD:
                try:
                    outcome = await self.controller.wait(arrived)
                finally:  # also when cancelled: a client that went away frees its slot
                    self.controller.release()
                if outcome is Outcome.TIMED_OUT:
                    return self._unavailable(
                        f"cold start took too long: no ready replica within "
                        f"{self.controller.config.timeout_s:g}s"
                    )
                if outcome is Outcome.DRAINING:
                    return self._unavailable("activator is shutting down before a replica was ready")
            if body is None:
                read = await _read_body(request)
                if isinstance(read, web.Response):
                    return read
                body = read
            try:
                return await self._forward(request, body)
            except _NOT_CONNECTED:
                # Nothing was sent: holding and retrying is safe. Once held the timeout bounds it.
                self.controller.backend_lost()
                if now() - arrived >= self.controller.config.timeout_s:
                    return self._unavailable("the backend stopped accepting connections")

    async def _forward(self, request: web.Request, body: bytes) -> web.StreamResponse:
        headers = CIMultiDict(end_to_end(request.headers.items()))
        headers.popall("Expect", None)  # the body is already here; no 100-continue to the backend
        xff = forwarded_for(request.headers.get("X-Forwarded-For"), request.remote)
        if xff:
            headers["X-Forwarded-For"] = xff
        # encoded=True: the path and query go out byte for byte (yarl would otherwise decode
        # escapes such as %2F in a query value, changing what the backend sees).
        url = URL(f"{self.controller.config.backend_base}{request.raw_path}", encoded=True)
        try:
            async with self.controller.session.request(
                request.method,
                url,
                data=body if body or request.body_exists else None,
                headers=headers,
                allow_redirects=False,
                timeout=FORWARD_TIMEOUT,
                skip_auto_headers=_NO_AUTO_HEADERS,
            ) as upstream:
                return await _relay(request, upstream)
        except _NOT_CONNECTED:
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("%s %s: the backend failed: %s", request.method, request.path, type(exc).__name__)
            return _json({"error": f"the backend failed to answer: {type(exc).__name__}"}, 502)


async def _read_body(request: web.Request) -> bytes | web.Response:
    try:
        return await request.read()  # bounded by the application's client_max_size
    except web.HTTPRequestEntityTooLarge as exc:
        return _json({"error": f"request body too large: {exc.text}"}, 413)


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    """Stream the backend's answer to the client as it comes (no buffering of large outputs)."""
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    for name, value in end_to_end(upstream.headers.items()):
        response.headers.add(name, value)
    if upstream.content_length is not None:
        response.content_length = upstream.content_length
    await response.prepare(request)
    async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
        await response.write(chunk)
    await response.write_eof()
    return response


def create_app(controller: Controller) -> web.Application:
    app = web.Application(client_max_size=controller.config.max_body_bytes)
    app[CONTROLLER] = controller
    routes = _Routes(controller)
    app.router.add_get("/-/activator/healthz", routes.healthz)
    app.router.add_get("/-/activator/metrics", routes.metrics_page)
    app.router.add_get("/metrics", routes.metrics_page)
    app.router.add_route("*", "/{tail:.*}", routes.proxy)
    return app
