"""Training metrics: a Prometheus endpoint on rank 0, and the latest values for the final message."""

from __future__ import annotations

import logging
import math
import os
import threading
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from lepton.runtime import env
from lepton.runtime.context import context

log = logging.getLogger(__name__)

# Names with a gauge of their own; any other reported value goes to lepton_train_metric{name=...}.
_KNOWN = {
    "step": "Optimizer steps taken",
    "epoch": "Epochs completed",
    "loss": "Training loss, averaged over the last reporting interval",
    "samples_per_second": "Training throughput over all ranks",
}


class MetricsReporter:
    """Holds one registry; serves it over HTTP when a port is given (rank 0 only, by default)."""

    def __init__(self, port: int | None, addr: str) -> None:
        self.registry = CollectorRegistry()
        self.latest: dict[str, float | int] = {}
        # Made on a name's first report: a gauge never reported would read 0, and the operator
        # copies these into status.progress (a loss of 0 that nobody reported is a lie).
        self._gauges: dict[str, Gauge] = {}
        self._other = Gauge(
            "lepton_train_metric", "Other reported training metrics", ["name"], registry=self.registry
        )
        self.port: int | None = None
        self._server: Any = None
        if port:
            try:
                self._server, _ = start_http_server(port, addr=addr, registry=self.registry)
                self.port = int(self._server.server_port)
            except OSError as exc:
                # Metrics are worth less than the training run: report and carry on without them.
                log.warning("cannot serve metrics on %s:%s: %s", addr, port, exc)

    def report(self, values: dict[str, float | int]) -> None:
        for name, value in values.items():
            if not math.isfinite(value):
                continue
            self.latest[name] = value
            if name in _KNOWN:
                if name not in self._gauges:
                    self._gauges[name] = Gauge(f"lepton_train_{name}", _KNOWN[name], registry=self.registry)
                self._gauges[name].set(value)
            else:
                self._other.labels(name=name).set(value)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


_lock = threading.Lock()
_reporter: MetricsReporter | None = None


def metrics_port() -> int | None:
    """LEPTON_METRICS_PORT (default 9400); 0 turns the endpoint off."""
    port = env.get_int(env.METRICS_PORT, default=env.DEFAULT_METRICS_PORT)
    return port or None


def reporter() -> MetricsReporter:
    global _reporter  # noqa: PLW0603 - one endpoint per process, started on first use
    with _lock:
        if _reporter is None:
            port = metrics_port() if context().rank == 0 else None
            addr = os.environ.get(env.METRICS_ADDR) or env.DEFAULT_METRICS_ADDR
            _reporter = MetricsReporter(port, addr)
        return _reporter


def report_metrics(
    metrics: dict[str, Any] | None = None,
    *,
    step: int | None = None,
    epoch: int | None = None,
    loss: float | None = None,
    samples_per_second: float | None = None,
) -> None:
    """Record training progress; rank 0 exposes it at :LEPTON_METRICS_PORT/metrics. Values must be
    numbers (tensors with one element are converted); the latest go into the termination message."""
    values: dict[str, float | int] = {}
    named = {"step": step, "epoch": epoch, "loss": loss, "samples_per_second": samples_per_second}
    for name, value in {**(metrics or {}), **{k: v for k, v in named.items() if v is not None}}.items():
        number = value.item() if hasattr(value, "item") else value
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise TypeError(f"metric {name!r} must be a number, got {type(value).__name__}")
        values[str(name)] = number
    reporter().report(values)


def latest_metrics() -> dict[str, float | int]:
    return dict(reporter().latest) if _reporter is not None else {}


def reset_metrics() -> None:
    """Stop the endpoint and forget reported values (tests, or a process that trains twice)."""
    global _reporter  # noqa: PLW0603
    with _lock:
        if _reporter is not None:
            _reporter.close()
        _reporter = None
