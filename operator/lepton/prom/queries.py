"""PromQL for the autoscaler's metrics (pure: strings in, strings out, no I/O).

Label convention. The model server labels its own series `model` and `version` (serving/metrics.py).
The operator's server pods carry `lepton.ai/inferenceservice`, `lepton.ai/model` and
`lepton.ai/version` and the annotations `prometheus.io/scrape|port|path` (builders/inference.py).
The queries here expect a Prometheus pod scrape job that adds three target labels:

    namespace <- __meta_kubernetes_namespace
    pod       <- __meta_kubernetes_pod_name
    service   <- __meta_kubernetes_pod_label_lepton_ai_inferenceservice

that is, in prometheus.yml:

    - job_name: lepton-inference
      kubernetes_sd_configs: [{role: pod}]
      relabel_configs:
        - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], regex: "true",
           action: keep}
        - {source_labels: [__meta_kubernetes_pod_label_lepton_ai_inferenceservice], regex: ".+",
           action: keep}
        - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
        - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
        - {source_labels: [__meta_kubernetes_pod_label_lepton_ai_inferenceservice],
           target_label: service}
        (plus the usual __address__ / __metrics_path__ rewrites from the prometheus.io annotations)

The version is NOT relabelled from the pod: the series already carry `version` from the server, and
a target label of the same name would push the server's to `exported_version`.

GPU utilisation comes from NVIDIA's DCGM exporter, whose `DCGM_FI_DEV_GPU_UTIL` series name the pod
using each GPU in `namespace` and `pod` (its Kubernetes mode). Its scrape job must keep those
(honor_labels: true, as the exporter's Helm chart's ServiceMonitor does); the query joins them to
the service's pods through `lepton_serving_model_ready`, which has the same two labels.

Windows. `window_seconds` is the averaging window: the controller asks for the stable window (60 s)
and, for burst mode, the burst window (6 s). A rate needs two samples inside its window, so a burst
query over 6 s needs a scrape interval of 3 s or less; with a longer interval it returns no series,
which the policy reads as "no burst", never as a reason to scale down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lepton.api.autoscaling import Metric
from lepton.api.rollout import Analysis
from lepton.policies.rollout_analysis import ERROR_RATE, LATENCY_P95

PREFIX = "lepton_serving_"
REQUESTS = f"{PREFIX}requests_total"
LATENCY_BUCKETS = f"{PREFIX}request_duration_seconds_bucket"
INFLIGHT = f"{PREFIX}inflight_requests"
QUEUE_DEPTH = f"{PREFIX}queue_depth"
MODEL_READY = f"{PREFIX}model_ready"
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"

NAMESPACE_LABEL = "namespace"
SERVICE_LABEL = "service"
VERSION_LABEL = "version"
POD_LABEL = "pod"

STABLE_WINDOW_SECONDS = 60
BURST_WINDOW_SECONDS = 6

_PLACEHOLDER = re.compile(r"\{\{\s*(namespace|service|version)\s*\}\}")


def escape_label_value(value: str) -> str:
    """`value` for use inside a double-quoted PromQL label matcher (PromQL follows Go's string
    escapes: backslash, double quote and newline must be escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def selector(namespace: str, service: str, version: str | None = None) -> str:
    """The label matchers of one service's server series (all versions when `version` is None)."""
    matchers = [
        f'{NAMESPACE_LABEL}="{escape_label_value(namespace)}"',
        f'{SERVICE_LABEL}="{escape_label_value(service)}"',
    ]
    if version is not None:
        matchers.append(f'{VERSION_LABEL}="{escape_label_value(version)}"')
    return "{" + ",".join(matchers) + "}"


def builtin_query(
    metric: Metric,
    namespace: str,
    service: str,
    version: str | None = None,
    *,
    window_seconds: int = STABLE_WINDOW_SECONDS,
) -> str:
    """The PromQL of a built-in metric for one service, giving one series:

    - rps: requests per second, all replicas together (all status codes: a server answering 5xx
      still does the work);
    - concurrency / queueDepth: requests in flight / waiting, summed over replicas and averaged over
      the window;
    - latencyP95: the service-wide 95th percentile latency in milliseconds;
    - gpuUtilization: the mean utilisation (%) of the GPUs used by the service's pods.
    """
    sel = selector(namespace, service, version)
    window = f"[{window_seconds}s]"
    if metric == Metric.RPS:
        return f"sum(rate({REQUESTS}{sel}{window}))"
    if metric == Metric.CONCURRENCY:
        return f"sum(avg_over_time({INFLIGHT}{sel}{window}))"
    if metric == Metric.QUEUE_DEPTH:
        return f"sum(avg_over_time({QUEUE_DEPTH}{sel}{window}))"
    if metric == Metric.LATENCY_P95:
        return f"histogram_quantile(0.95, sum by (le) (rate({LATENCY_BUCKETS}{sel}{window}))) * 1000"
    if metric == Metric.GPU_UTILIZATION:
        pods = f"max by ({NAMESPACE_LABEL}, {POD_LABEL}) ({MODEL_READY}{sel})"
        return f"avg(avg_over_time({GPU_UTIL}{window}) and on({NAMESPACE_LABEL}, {POD_LABEL}) {pods})"
    raise ValueError(f"{metric} is not a built-in metric; use custom_query")


def idle_requests_query(namespace: str, service: str, idle_seconds: int) -> str:
    """Requests the service answered in the last `idle_seconds` (all versions): the evidence for
    scaling to zero, which needs exactly 0, never an empty result."""
    return f"sum(increase({REQUESTS}{selector(namespace, service)}[{idle_seconds}s]))"


def custom_query(template: str, namespace: str, service: str, version: str | None = None) -> str:
    """`template` with {{namespace}}, {{service}} and {{version}} replaced by the escaped values
    (meant to sit inside double quotes: `{service="{{service}}"}`). {{version}} with no serving
    version becomes the empty string, which matches only series without a `version` label (no
    server series): better no data than another version's."""
    values: Mapping[str, str] = {
        "namespace": escape_label_value(namespace),
        "service": escape_label_value(service),
        "version": escape_label_value(version or ""),
    }
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _candidate(namespace: str, service: str, version: str) -> str:
    # Analysis is of the new version alone: a selector without `version` would blend in the stable
    # pods and could pass a bad canary (argo-rollouts#1700).
    if not version:
        raise ValueError("canary analysis needs the new version's label value")
    return selector(namespace, service, version)


def canary_requests_query(namespace: str, service: str, version: str, window_seconds: int) -> str:
    """Requests the new version answered in the last `window_seconds` (all status codes): fewer than
    minRequests make a check Inconclusive."""
    return f"sum(increase({REQUESTS}{_candidate(namespace, service, version)}[{window_seconds}s]))"


def canary_error_rate_query(namespace: str, service: str, version: str, window_seconds: int) -> str:
    """The fraction of the new version's requests answered 5xx in the last `window_seconds`. A server
    that never answered 5xx has no such series, hence `or vector(0)`: no 5xx is a rate of 0, not "no
    data". With no requests at all the division gives NaN (NotFinite), which reads as Inconclusive."""
    base = _candidate(namespace, service, version)
    errors = base[:-1] + ',code=~"5.."}'
    window = f"[{window_seconds}s]"
    return (
        f"(sum(increase({REQUESTS}{errors}{window})) or vector(0)) / sum(increase({REQUESTS}{base}{window}))"
    )


def canary_latency_p95_query(namespace: str, service: str, version: str, window_seconds: int) -> str:
    """The new version's 95th percentile latency in milliseconds over the last `window_seconds`."""
    _candidate(namespace, service, version)
    return builtin_query(Metric.LATENCY_P95, namespace, service, version, window_seconds=window_seconds)


def canary_custom_query(template: str, namespace: str, service: str, version: str) -> str:
    """A custom check's PromQL with {{version}} the NEW version (never the stable one)."""
    _candidate(namespace, service, version)
    return custom_query(template, namespace, service, version)


@dataclass(frozen=True)
class CanaryQuery:
    """One analysis metric: its name in status, its PromQL and its passing range."""

    name: str
    promql: str
    max: float | None = None
    min: float | None = None


def canary_queries(
    analysis: Analysis, namespace: str, service: str, version: str
) -> tuple[str, list[CanaryQuery]]:
    """The request-count query and the checks of one analysis interval of `version`: the 5xx rate,
    the p95 latency when maxLatencyP95Ms is set, and the custom checks. Run each, wrap its result in
    policies.rollout_analysis.Check, and give them to `verdict`."""
    window = analysis.interval_seconds
    checks = [
        CanaryQuery(
            ERROR_RATE,
            canary_error_rate_query(namespace, service, version, window),
            max=analysis.max_error_rate,
        )
    ]
    if analysis.max_latency_p95_ms is not None:
        checks.append(
            CanaryQuery(
                LATENCY_P95,
                canary_latency_p95_query(namespace, service, version, window),
                max=analysis.max_latency_p95_ms,
            )
        )
    for custom in analysis.custom or []:
        promql = canary_custom_query(custom.query, namespace, service, version)
        checks.append(CanaryQuery(custom.name, promql, max=custom.max, min=custom.min))
    return canary_requests_query(namespace, service, version, window), checks
