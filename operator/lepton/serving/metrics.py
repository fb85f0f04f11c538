"""Prometheus metrics of the model server, served on ``GET /metrics``.

Names (labelled ``model`` and ``version`` unless said; the autoscaler and canary analysis query these):

- ``lepton_serving_requests_total{model,version,code}`` counter: inference requests answered, by
  HTTP status code. Requests for an unknown model count under ``model=""`` (so clients cannot
  create label values at will).
- ``lepton_serving_request_duration_seconds{model,version}`` histogram: inference request latency
  from the request's arrival to its response, all status codes.
- ``lepton_serving_batch_size{model,version}`` histogram: rows per model call (1 when unbatched).
- ``lepton_serving_inference_duration_seconds{model,version}`` histogram: time of one model call.
- ``lepton_serving_queue_depth{model,version}`` gauge: requests waiting for a batch.
- ``lepton_serving_inflight_requests{model,version}`` gauge: inference requests being handled.
- ``lepton_serving_model_ready{model,version}`` gauge: 1 when the model serves, else 0.
- ``lepton_serving_unauthorized_requests_total{code}`` counter: requests refused for a missing
  (401) or wrong (403) API token (only with ``--token-file``); not in ``requests_total``.

Each server has its own registry, so several servers can live in one process (tests).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

PREFIX = "lepton_serving_"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServingMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        labels = ("model", "version")
        self.requests = Counter(
            f"{PREFIX}requests",
            "Inference requests answered, by status code.",
            (*labels, "code"),
            registry=self.registry,
        )
        self.request_duration = Histogram(
            f"{PREFIX}request_duration_seconds",
            "Inference request latency.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            f"{PREFIX}batch_size",
            "Rows per model call.",
            labels,
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.inference_duration = Histogram(
            f"{PREFIX}inference_duration_seconds",
            "Time of one model call.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            f"{PREFIX}queue_depth", "Requests waiting for a batch.", labels, registry=self.registry
        )
        self.inflight = Gauge(
            f"{PREFIX}inflight_requests", "Inference requests being handled.", labels, registry=self.registry
        )
        self.model_ready = Gauge(
            f"{PREFIX}model_ready", "1 when the model serves requests.", labels, registry=self.registry
        )

        self.unauthorized = Counter(
            f"{PREFIX}unauthorized_requests",
            "Requests refused for a missing (401) or wrong (403) API token.",
            ("code",),
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
