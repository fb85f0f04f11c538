"""Instant queries over the Prometheus HTTP API (GET /api/v1/query), classified into MetricResult.

Every outcome is a value, never an exception: transport failures, timeouts, HTTP errors, bad JSON,
Prometheus's own `"status": "error"` and results of the wrong shape all become `Error(message)`, so
that the autoscaler can count them as failures and hold its replicas.

A query must give exactly one number. A vector of several series is an Error, not a sum: the
built-in queries aggregate to one series themselves, so several series means a custom query that
forgot to aggregate, and summing would be silently wrong for the levels a Value target is about
(the sum of per-pod p95 latencies or utilisations means nothing). The message says how to fix it.

aiohttp (already the operator's transport, through kopf) does the HTTP; one `PrometheusClient`
holds one connection pool, so the controller keeps one per Prometheus URL and credentials.
"""

from __future__ import annotations

import json
import math
import ssl
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from lepton.policies.metric_result import Empty, Error, MetricResult, NotFinite, Value

QUERY_PATH = "/api/v1/query"
DEFAULT_TIMEOUT_SECONDS = 5.0
_MAX_ERROR_BODY = 200


@dataclass(frozen=True)
class CaBundle:
    """Trust for an https Prometheus: a PEM file path or the PEM text itself (exactly one)."""

    path: Path | None = None
    pem: str | None = None

    def context(self) -> ssl.SSLContext:
        if (self.path is None) == (self.pem is None):
            raise ValueError("CaBundle needs exactly one of path and pem")
        if self.path is not None:
            return ssl.create_default_context(cafile=str(self.path))
        return ssl.create_default_context(cadata=self.pem)


class PrometheusClient:
    """Instant queries against one Prometheus server.

    `base_url` is the server's root (e.g. http://prometheus.monitoring:9090, or a path prefix such
    as https://host/prometheus); `token` is sent as a bearer token; `ca` verifies https.
    Use as `async with PrometheusClient(url) as prom: await prom.query("up")`, or call `close()`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        ca: CaBundle | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token.strip()}"
        self._ca = ca
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext | bool = True

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self._ca is not None:
                self._ssl = self._ca.context()
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        return self._session

    async def query(self, promql: str, *, at: float | None = None) -> MetricResult:
        """Evaluate `promql` now (or at unix time `at`) and classify the result."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        try:
            session = self._open()
            async with session.get(f"{self.base_url}{QUERY_PATH}", params=params, ssl=self._ssl) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            return Error(f"timed out after {self._timeout.total:g}s querying {self.base_url}")
        except (aiohttp.ClientError, ssl.SSLError, OSError, ValueError) as exc:
            # ValueError: a CA bundle that does not parse, or a URL aiohttp cannot use.
            return Error(f"cannot query {self.base_url}: {type(exc).__name__}: {exc}")
        return classify(status, body)


def classify(status: int, body: bytes) -> MetricResult:
    """Classify one HTTP answer of /api/v1/query (pure: exposed for tests and reuse)."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Error(f"HTTP {status}, not JSON: {_excerpt(body)}")
    if not isinstance(document, dict):
        return Error(f"HTTP {status}, unexpected JSON: {_excerpt(body)}")
    if document.get("status") == "error":
        # Prometheus answers 400 (bad query), 422 (cannot execute) or 503 (timeout) with this shape.
        return Error(f"Prometheus {document.get('errorType', 'error')}: {document.get('error', '')}")
    if status != 200 or document.get("status") != "success":
        return Error(f"HTTP {status}: {_excerpt(body)}")
    data = document.get("data")
    if not isinstance(data, dict):
        return Error("response has no data object")
    return _classify_data(data)


def _classify_data(data: dict[str, Any]) -> MetricResult:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _sample(result)
    if kind == "vector" and isinstance(result, list):
        if not result:
            return Empty()
        if len(result) > 1:
            labels = ", ".join(_labels(series) for series in result[:3])
            return Error(
                f"query returned {len(result)} series ({labels}{', ...' if len(result) > 3 else ''}); "
                "aggregate it to one, e.g. sum(...) or max(...)"
            )
        series = result[0]
        return _sample(series.get("value") if isinstance(series, dict) else None)
    return Error(f"query returned a {kind}, not an instant vector or scalar")


def _sample(pair: Any) -> MetricResult:
    # A sample is [<unix time>, "<value as text>"]; Prometheus writes NaN as "NaN", infinities "+Inf".
    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)):
        return Error(f"malformed sample {pair!r}")
    try:
        number = float(pair[1])
    except ValueError:
        return Error(f"malformed sample value {pair[1]!r}")
    if not math.isfinite(number):
        return NotFinite(pair[1])
    return Value(number)


def _labels(series: Any) -> str:
    metric = series.get("metric") if isinstance(series, dict) else None
    if not isinstance(metric, dict) or not metric:
        return "{}"
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _excerpt(body: bytes) -> str:
    text = body[:_MAX_ERROR_BODY].decode("utf-8", errors="replace").strip()
    return text + ("..." if len(body) > _MAX_ERROR_BODY else "")
