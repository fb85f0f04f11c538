"""Open Inference Protocol v2 over HTTP (aiohttp): decode, call the data plane, encode.

Every error a handler raises becomes ``{"error": "<message>"}`` with the status from
:func:`lepton.serving.errors.http_status` (aiohttp's own HTTP errors keep their status); only a
server bug is a 500.

With token files (:mod:`lepton.serving.auth`), every path but health and ``/metrics`` needs
``Authorization: Bearer <token>``: 401 without one, 403 with a wrong one. Refused requests are
counted apart (``lepton_serving_unauthorized_requests_total``), never in the request counter the
autoscaler and the canary analysis read: unauthenticated traffic neither scales nor fails a rollout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client.metrics import Counter, Gauge, Histogram

from lepton.serving.auth import TokenFiles, bearer_token
from lepton.serving.codec import HEADER_LENGTH, decode_request, encode_response
from lepton.serving.dataplane import DataPlane
from lepton.serving.errors import PayloadTooLarge, ServingError, http_status
from lepton.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class InflightTracker:
    """Counts requests being handled so shutdown can wait for them to finish."""

    active: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()

    def enter(self) -> None:
        self.active += 1
        self.idle.clear()

    def leave(self) -> None:
        self.active -= 1
        if self.active == 0:
            self.idle.set()


DATAPLANE = web.AppKey("dataplane", DataPlane)
TRACKER = web.AppKey("tracker", InflightTracker)
MAX_BODY = web.AppKey("max_body_bytes", int)
AUTH = web.AppKey("auth", TokenFiles)
OPEN_PATHS = frozenset({"/v2/health/live", "/v2/health/ready", "/metrics"})
"""Probes and Prometheus carry no token."""


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(payload).encode(), status=status, content_type="application/json")


def error_response(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


def serving_error_response(exc: ServingError) -> web.Response:
    return error_response(http_status(exc), str(exc))


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    tracker = request.app[TRACKER]
    tracker.enter()
    try:
        response = await handler(request)
    except ServingError as exc:
        response = serving_error_response(exc)
    except web.HTTPException as exc:  # aiohttp's own: unknown route (404), wrong method (405), ...
        if exc.empty_body:
            raise
        response = error_response(exc.status, exc.reason)
        if "Allow" in exc.headers:  # 405 names the methods that would work
            response.headers["Allow"] = exc.headers["Allow"]
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        response = error_response(500, "internal server error")
    finally:
        tracker.leave()
    if request.app[DATAPLANE].draining:
        response.force_close()  # keep-alive clients reconnect elsewhere once this one drains
    return response


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Installed only when the server has token files: without them no request pays for it."""
    if request.path in OPEN_PATHS:
        return await handler(request)
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        response = error_response(401, "this endpoint needs an API token: Authorization: Bearer <token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="lepton-serve"'
    elif not request.app[AUTH].tokens.accepts(token):
        response = error_response(403, "the API token was refused")
    else:
        return await handler(request)
    request.app[DATAPLANE].metrics.unauthorized.labels(str(response.status)).inc()
    return response


def _token_poller(files: TokenFiles) -> Callable[[web.Application], AsyncIterator[None]]:
    """Re-reads the token files while the app runs (the kubelet rewrites a mounted Secret on change)."""

    async def poll_forever() -> None:
        while True:
            await asyncio.sleep(files.poll_s)
            files.poll(time.monotonic())

    async def context(app: web.Application) -> AsyncIterator[None]:
        files.poll(time.monotonic())  # before the first request: never serve without the tokens
        task = asyncio.create_task(poll_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


async def _read_body(request: web.Request) -> bytes:
    limit = request.app[MAX_BODY]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            f"request body of {request.content_length} bytes exceeds the limit of {limit} bytes"
        )
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes") from None


class _Routes:
    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane
        metrics = dataplane.metrics
        self._requests: Counter = metrics.requests
        self._duration: Histogram = metrics.request_duration
        self._inflight: Gauge = metrics.inflight

    async def server_metadata(self, request: web.Request) -> web.Response:
        return json_response(self.dataplane.server_metadata().model_dump())

    async def live(self, request: web.Request) -> web.Response:
        return json_response({"live": self.dataplane.live()})

    async def ready(self, request: web.Request) -> web.Response:
        ready = self.dataplane.ready()
        return json_response({"ready": ready}, 200 if ready else 503)

    async def model_metadata(self, request: web.Request) -> web.Response:
        name, version = request.match_info["name"], request.match_info.get("version")
        metadata = await self.dataplane.model_metadata(name, version)
        return json_response(metadata.model_dump())

    async def model_ready(self, request: web.Request) -> web.Response:
        name, version = request.match_info["name"], request.match_info.get("version")
        ready = self.dataplane.model_ready(name, version)
        return json_response({"name": name, "ready": ready}, 200 if ready else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.dataplane.metrics.exposition())
        response.headers["Content-Type"] = METRICS_CONTENT_TYPE
        return response

    async def infer(self, request: web.Request) -> web.Response:
        start = time.perf_counter()
        name, version = request.match_info["name"], request.match_info.get("version")
        try:
            model = self.dataplane.model(name, version)
        except ServingError as exc:
            self._requests.labels("", "", str(http_status(exc))).inc()
            raise
        labels = (model.name, model.version)
        inflight = self._inflight.labels(*labels)
        inflight.inc()
        status = 500
        try:
            with model.incoming():
                body = await _read_body(request)
                decoded = decode_request(body, request.headers.get(HEADER_LENGTH))
            outputs = await model.infer(decoded)
            payload, header_length = encode_response(model.name, model.version, decoded.request, outputs)
            if header_length is None:
                response = web.Response(body=payload, content_type="application/json")
            else:
                response = web.Response(body=payload, content_type="application/octet-stream")
                response.headers[HEADER_LENGTH] = str(header_length)
            status = 200
            return response
        except ServingError as exc:
            status = http_status(exc)
            raise
        finally:
            inflight.dec()
            self._requests.labels(*labels, str(status)).inc()
            self._duration.labels(*labels).observe(time.perf_counter() - start)


def create_app(
    dataplane: DataPlane, *, max_body_bytes: int = 64 * 1024 * 1024, auth: TokenFiles | None = None
) -> web.Application:
    middlewares = [_errors] if auth is None else [_errors, _authenticate]
    app = web.Application(client_max_size=max_body_bytes, middlewares=middlewares)
    if auth is not None:
        app[AUTH] = auth
        app.cleanup_ctx.append(_token_poller(auth))
    app[DATAPLANE] = dataplane
    app[TRACKER] = InflightTracker()
    app[MAX_BODY] = max_body_bytes
    routes = _Routes(dataplane)
    model = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    app.router.add_get("/v2", routes.server_metadata)
    app.router.add_get("/v2/health/live", routes.live)
    app.router.add_get("/v2/health/ready", routes.ready)
    for prefix in (model, versioned):
        app.router.add_get(prefix, routes.model_metadata)
        app.router.add_get(f"{prefix}/ready", routes.model_ready)
        app.router.add_post(f"{prefix}/infer", routes.infer)
    app.router.add_get("/metrics", routes.metrics)
    return app
