"""Prometheus metrics of the activator, served on its own ``GET /metrics``.

Every metric carries ``namespace`` and ``service`` (the InferenceService it fronts): one activator
runs per scaled-to-zero service, so these add no cardinality, and they make the series mean the
same whatever the scrape configuration adds (pod labels are a scrape-config choice).

- ``lepton_activator_cold_start_seconds`` histogram: from the first request held in a cold start
  to the backend answering ready.
- ``lepton_activator_requests_total{code}`` counter: requests the activator answered, by status,
  whether the backend's answer passed on or the activator's own 503/502.
- ``lepton_activator_pending_requests`` gauge: requests held now.
- ``lepton_activator_activations_total{result}`` counter: calls to the activation endpoint,
  ``ok`` (2xx) or ``error`` (anything else, including no answer).

The registry is the activator's own, not the process-global one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

PREFIX = "lepton_activator_"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Cold starts run from a second (model cached, image present) to minutes (image pull, big model).
COLD_START_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class ActivatorMetrics:
    def __init__(self, namespace: str, service: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("namespace", "service")
        values = (namespace, service)
        self.cold_start = Histogram(
            f"{PREFIX}cold_start_seconds",
            "Time from the first held request of a cold start to the backend answering ready.",
            labels,
            buckets=COLD_START_BUCKETS,
            registry=self.registry,
        ).labels(*values)
        self._requests = Counter(
            f"{PREFIX}requests",
            "Requests answered by the activator, by status code.",
            (*labels, "code"),
            registry=self.registry,
        )
        self.pending = Gauge(
            f"{PREFIX}pending_requests", "Requests held for the backend.", labels, registry=self.registry
        ).labels(*values)
        self._activations = Counter(
            f"{PREFIX}activations",
            "Calls to the operator's activation endpoint, by result.",
            (*labels, "result"),
            registry=self.registry,
        )
        self._values = values
        for result in ("ok", "error"):  # both series exist from the start, so rate() sees the first
            self._activations.labels(*values, result)

    def answered(self, code: int) -> None:
        self._requests.labels(*self._values, str(code)).inc()

    def activation(self, *, ok: bool) -> None:
        self._activations.labels(*self._values, "ok" if ok else "error").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
