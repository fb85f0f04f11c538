"""The operator's own Prometheus metrics (prefix lepton_operator_), all defined here."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

PREFIX = "lepton_operator_"
# Phases before admission: the wait ends when the job leaves them for any phase but Suspended.
_WAITING = frozenset({"Created", "Queued"})


class Metrics:
    """One registry per operator instance, so tests can run several without clashes."""

    def __init__(
        self, registry: CollectorRegistry | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self._clock = clock
        r = self.registry
        self.jobs = Gauge(f"{PREFIX}trainingjobs", "TrainingJobs by phase.", ["phase"], registry=r)
        self.admissions = Counter(f"{PREFIX}admissions", "Gangs admitted.", registry=r)
        self.restarts = Counter(f"{PREFIX}restarts", "Job restarts, by reason.", ["reason"], registry=r)
        self.queue_length = Gauge(f"{PREFIX}queue_length", "TrainingJobs waiting for admission.", registry=r)
        self.admission_wait = Histogram(
            f"{PREFIX}admission_wait_seconds",
            "Time a TrainingJob waited from this operator first seeing it unadmitted to its admission.",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600),
            registry=r,
        )
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
        self.gpu_faulty_nodes = Gauge(
            f"{PREFIX}gpu_faulty_nodes",
            "Nodes kept out of admission for GPU faults, by kind: unhealthy (a health agent's "
            "condition) or degraded (allocatable nvidia.com/gpu below capacity).",
            ["kind"],
            registry=r,
        )
        self._phases: dict[str, str] = {}
        self._waiting_since: dict[str, float] = {}

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
        # Measured from when this operator first saw the job waiting (its clock, not the object's
        # creationTimestamp: a restarted operator must not count its own downtime as queueing). A
        # job that fits is admitted on its first reconcile: it waited 0 s.
        if phase in _WAITING:
            self._waiting_since.setdefault(key, self._clock())
        else:
            since = self._waiting_since.pop(key, None)
            if since is not None and phase not in (None, "Suspended"):
                self.admission_wait.observe(self._clock() - since)
            elif since is None and old is None and phase == "Admitted":
                self.admission_wait.observe(0.0)
        if phase is not None:
            self._phases[key] = phase
            self.jobs.labels(phase).inc()
        self.queue_length.set(sum(1 for p in self._phases.values() if p == "Queued"))

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
