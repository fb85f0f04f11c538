"""The operator's own Prometheus metrics (prefix lepton_operator_), all defined here."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

PREFIX = "lepton_operator_"


class Metrics:
    """One registry per operator instance, so tests can run several without clashes."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.jobs = Gauge(f"{PREFIX}trainingjobs", "TrainingJobs by phase.", ["phase"], registry=r)
        self.admissions = Counter(f"{PREFIX}admissions", "Gangs admitted.", registry=r)
        self.restarts = Counter(f"{PREFIX}restarts", "Job restarts, by reason.", ["reason"], registry=r)
        self.queue_length = Gauge(f"{PREFIX}queue_length", "TrainingJobs waiting for admission.", registry=r)
        self.reconcile_duration = Histogram(
            f"{PREFIX}reconcile_duration_seconds",
            "Duration of one TrainingJob reconcile.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.api_requests = Counter(
            f"{PREFIX}api_requests",
            "Requests to the Kubernetes API.",
            ["verb", "resource", "code"],
            registry=r,
        )
        self.api_errors = Counter(
            f"{PREFIX}api_errors",
            "Failed requests to the Kubernetes API.",
            ["verb", "resource", "code"],
            registry=r,
        )
        self.watching = Gauge(
            f"{PREFIX}watching",
            "1 once the operator's indices hold the initial listings (handlers run from then on).",
            registry=r,
        )
        self._phases: dict[str, str] = {}

    def observe_request(self, verb: str, resource: str, status: int) -> None:
        code = str(status)
        self.api_requests.labels(verb, resource, code).inc()
        # 404 on delete and 409 on create are how idempotent requests say "already done".
        if (
            status >= 400
            and not (status == 404 and verb == "delete")
            and not (status == 409 and verb == "post")
        ):
            self.api_errors.labels(verb, resource, code).inc()

    def job_phase(self, key: str, phase: str | None) -> None:
        """Record the phase of job ``key``; None when the job is gone."""
        old = self._phases.pop(key, None)
        if old is not None:
            self.jobs.labels(old).dec()
        if phase is not None:
            self._phases[key] = phase
            self.jobs.labels(phase).inc()
        self.queue_length.set(sum(1 for p in self._phases.values() if p == "Queued"))

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
