"""The operator's own Prometheus metrics (prefix lepton_operator_), all defined here.

The InferenceService series (lepton_operator_inferenceservice_*, lepton_operator_canary_*) carry the
service's own `namespace` and `service` labels, as the model servers' series do, so a dashboard
joins them; a scrape job must keep them (honor_labels, which the chart's ServiceMonitor sets).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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
        self.serving = ServingGauges(r)

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

    def inference_service(self, namespace: str, name: str, snapshot: ServiceSnapshot | None) -> None:
        """Record what the last reconcile of a service wrote; None when the service is gone."""
        self.serving.record(namespace, name, snapshot)

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)


@dataclass(frozen=True)
class CanarySnapshot:
    """status.canary as written: the rollout in progress, or the last one rolled back."""

    version: str
    phase: str
    weight: int
    checks: Mapping[str, int]
    """Pass, Fail, Inconclusive, Error -> checks counted in this rollout."""
    result: str | None = None
    """The last check's verdict."""
    values: Mapping[str, float] = field(default_factory=dict)
    """Metric of the last check (`requests`, errorRate, latencyP95Ms, custom names) -> finite value."""
    thresholds: Mapping[tuple[str, str], float] = field(default_factory=dict)
    """(metric, "max" or "min") -> its bound."""


@dataclass(frozen=True)
class ServiceSnapshot:
    """What one InferenceService reconcile decided and wrote into the status."""

    phase: str
    desired: int
    """Replicas the service should run: the autoscaler's decision, else spec.replicas."""
    versions: Mapping[str, int]
    """Version -> replicas written into its Deployment."""
    ready: Mapping[str, int]
    """Version -> Ready replicas observed."""
    canary: CanarySnapshot | None = None


_SVC = ["namespace", "service"]
_VERSION = [*_SVC, "version"]


class ServingGauges:
    """The InferenceService gauges, and which series each service has, so that a series the last
    reconcile no longer sets (a version gone, a rollout finished, the service deleted) is removed
    rather than left at its last value."""

    def __init__(self, r: CollectorRegistry) -> None:
        p = f"{PREFIX}inferenceservice_"
        self.desired = Gauge(
            f"{p}desired_replicas",
            "Replicas the service should run (the autoscaler's decision, else spec.replicas).",
            _SVC,
            registry=r,
        )
        self.versions = Gauge(
            f"{p}version_replicas",
            "Replicas the operator writes into each version's Deployment.",
            _VERSION,
            registry=r,
        )
        self.ready = Gauge(
            f"{p}ready_replicas", "Ready replicas of each version's Deployment.", _VERSION, registry=r
        )
        self.phase = Gauge(f"{p}phase", "1 for the service's status.phase.", [*_SVC, "phase"], registry=r)
        c = f"{PREFIX}canary_"
        self.weight = Gauge(
            f"{c}weight",
            "status.canary.weight: percent of traffic the new version gets.",
            _VERSION,
            registry=r,
        )
        self.canary_phase = Gauge(f"{c}phase", "1 for status.canary.phase.", [*_VERSION, "phase"], registry=r)
        self.checks = Gauge(
            f"{c}checks",
            "Analysis checks of the rollout by result (status.canary "
            "passedChecks, failedChecks, inconclusiveChecks, errorChecks).",
            [*_VERSION, "result"],
            registry=r,
        )
        self.result = Gauge(
            f"{c}analysis_result",
            "1 for the result of the last analysis check.",
            [*_VERSION, "result"],
            registry=r,
        )
        self.value = Gauge(
            f"{c}analysis_value",
            "Each metric of the last analysis check (requests: the new version's requests in the interval).",
            [*_VERSION, "metric"],
            registry=r,
        )
        self.threshold = Gauge(
            f"{c}analysis_threshold",
            "The passing bound of each analysis metric.",
            [*_VERSION, "metric", "bound"],
            registry=r,
        )
        self._series: dict[tuple[str, str], set[tuple[Gauge, tuple[str, ...]]]] = {}

    def record(self, namespace: str, name: str, snapshot: ServiceSnapshot | None) -> None:
        values = self._values(namespace, name, snapshot) if snapshot is not None else {}
        key = (namespace, name)
        for gauge, labels in self._series.pop(key, set()) - set(values):
            gauge.remove(*labels)
        for (gauge, labels), value in values.items():
            gauge.labels(*labels).set(value)
        if values:
            self._series[key] = set(values)

    def _values(
        self, namespace: str, name: str, s: ServiceSnapshot
    ) -> dict[tuple[Gauge, tuple[str, ...]], float]:
        svc = (namespace, name)
        out: dict[tuple[Gauge, tuple[str, ...]], float] = {
            (self.desired, svc): s.desired,
            (self.phase, (*svc, s.phase)): 1,
        }
        out.update({(self.versions, (*svc, v)): n for v, n in s.versions.items()})
        out.update({(self.ready, (*svc, v)): n for v, n in s.ready.items()})
        canary = s.canary
        if canary is None:
            return out
        labels = (*svc, canary.version)
        out[(self.weight, labels)] = canary.weight
        out[(self.canary_phase, (*labels, canary.phase))] = 1
        out.update({(self.checks, (*labels, r)): n for r, n in canary.checks.items()})
        if canary.result is not None:
            out[(self.result, (*labels, canary.result))] = 1
        out.update({(self.value, (*labels, m)): v for m, v in canary.values.items()})
        out.update({(self.threshold, (*labels, m, b)): v for (m, b), v in canary.thresholds.items()})
        return out
