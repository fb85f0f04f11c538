"""The PromQL of the built-in metrics, the scale-to-zero evidence and custom placeholders (pure)."""

from __future__ import annotations

import pytest

from lepton.api.autoscaling import Metric
from lepton.prom.queries import (
    builtin_query,
    canary_custom_query,
    canary_error_rate_query,
    canary_latency_p95_query,
    canary_requests_query,
    custom_query,
    escape_label_value,
    idle_requests_query,
)

SEL = '{namespace="team-a",service="classifier",version="v3"}'

BUILTIN = [
    (Metric.RPS, f"sum(rate(lepton_serving_requests_total{SEL}[60s]))"),
    (Metric.CONCURRENCY, f"sum(avg_over_time(lepton_serving_inflight_requests{SEL}[60s]))"),
    (Metric.QUEUE_DEPTH, f"sum(avg_over_time(lepton_serving_queue_depth{SEL}[60s]))"),
    (
        Metric.LATENCY_P95,
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(lepton_serving_request_duration_seconds_bucket{SEL}[60s]))) * 1000",
    ),
    (
        Metric.GPU_UTILIZATION,
        "avg(avg_over_time(DCGM_FI_DEV_GPU_UTIL[60s]) and on(namespace, pod) "
        f"max by (namespace, pod) (lepton_serving_model_ready{SEL}))",
    ),
]


@pytest.mark.parametrize(("metric", "expected"), BUILTIN, ids=[m.value for m, _ in BUILTIN])
def test_builtin_query(metric: Metric, expected: str):
    assert builtin_query(metric, "team-a", "classifier", "v3") == expected


def test_burst_window_and_all_versions():
    assert (
        builtin_query(Metric.RPS, "team-a", "classifier", window_seconds=6)
        == 'sum(rate(lepton_serving_requests_total{namespace="team-a",service="classifier"}[6s]))'
    )


def test_custom_is_not_builtin():
    with pytest.raises(ValueError, match="custom_query"):
        builtin_query(Metric.CUSTOM, "a", "b")


def test_idle_requests_query_counts_all_versions():
    assert (
        idle_requests_query("team-a", "classifier", 600)
        == 'sum(increase(lepton_serving_requests_total{namespace="team-a",service="classifier"}[600s]))'
    )


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("plain", "plain"), ('a"b', 'a\\"b'), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb"), ('\\"', '\\\\\\"')],
)
def test_escape_label_value(raw: str, escaped: str):
    assert escape_label_value(raw) == escaped


@pytest.mark.parametrize(
    ("scenario", "template", "version", "expected"),
    [
        (
            "all three placeholders",
            'sum(rate(gw_requests{ns="{{namespace}}",svc="{{service}}",v="{{version}}"}[1m]))',
            "v3",
            'sum(rate(gw_requests{ns="team-a",svc="classifier",v="v3"}[1m]))',
        ),
        ("spaces inside the braces", "x{s='{{ service }}'}", None, "x{s='classifier'}"),
        ("no serving version yet: empty, matching no server series", 'x{v="{{version}}"}', None, 'x{v=""}'),
        ("values are escaped", 'x{v="{{version}}"}', 'v"} or vector(1e9) #', 'x{v="v\\"} or vector(1e9) #"}'),
        ("unknown placeholders stay", "x{a='{{pod}}'}", None, "x{a='{{pod}}'}"),
    ],
    ids=lambda v: v if isinstance(v, str) and " " in v else "",
)
def test_custom_query(scenario: str, template: str, version: str | None, expected: str):
    assert custom_query(template, "team-a", "classifier", version) == expected, scenario


CANARY = '{namespace="team-a",service="classifier",version="v4"}'


def test_canary_analysis_queries_are_scoped_to_the_new_version():
    assert canary_requests_query("team-a", "classifier", "v4", 30) == (
        f"sum(increase(lepton_serving_requests_total{CANARY}[30s]))"
    )
    errors = '{namespace="team-a",service="classifier",version="v4",code=~"5.."}'
    assert canary_error_rate_query("team-a", "classifier", "v4", 30) == (
        f"(sum(increase(lepton_serving_requests_total{errors}[30s])) or vector(0))"
        f" / sum(increase(lepton_serving_requests_total{CANARY}[30s]))"
    )
    assert canary_latency_p95_query("team-a", "classifier", "v4", 45) == (
        "histogram_quantile(0.95, sum by (le) "
        f"(rate(lepton_serving_request_duration_seconds_bucket{CANARY}[45s]))) * 1000"
    )
    template = 'avg(gpu_memory{namespace="{{namespace}}",svc="{{ service }}",version="{{version}}"})'
    assert canary_custom_query(template, "team-a", "classifier", "v4") == (
        'avg(gpu_memory{namespace="team-a",svc="classifier",version="v4"})'
    )


@pytest.mark.parametrize(
    "render",
    [canary_requests_query, canary_error_rate_query, canary_latency_p95_query],
    ids=lambda f: f.__name__,
)
def test_canary_queries_refuse_a_missing_version(render):
    # Without the version matcher the stable pods would be analysed too (argo-rollouts#1700).
    with pytest.raises(ValueError, match="new version"):
        render("team-a", "classifier", "", 30)
    with pytest.raises(ValueError, match="new version"):
        canary_custom_query("up", "team-a", "classifier", "")


def test_canary_queries_of_an_analysis():
    from lepton.api.rollout import Analysis
    from lepton.prom.queries import CanaryQuery, canary_queries

    analysis = Analysis.model_validate(
        {
            "intervalSeconds": 20,
            "maxErrorRate": 0.01,
            "maxLatencyP95Ms": 250,
            "custom": [{"name": "accuracy", "query": 'acc{version="{{version}}"}', "min": 0.9}],
        }
    )
    requests, checks = canary_queries(analysis, "team-a", "classifier", "v4")
    assert requests == canary_requests_query("team-a", "classifier", "v4", 20)
    assert checks == [
        CanaryQuery("errorRate", canary_error_rate_query("team-a", "classifier", "v4", 20), max=0.01),
        CanaryQuery("latencyP95Ms", canary_latency_p95_query("team-a", "classifier", "v4", 20), max=250),
        CanaryQuery("accuracy", 'acc{version="v4"}', min=0.9),
    ]
    _, only_rate = canary_queries(Analysis(), "team-a", "classifier", "v4")
    assert [c.name for c in only_rate] == ["errorRate"]
