"""The client and the built-in queries against a real Prometheus (the pinned build, from `make setup`).

The test starts its own Prometheus on a free loopback port with a temporary configuration that scrapes
only itself, so it needs no cluster. A missing binary fails the test: it is a prerequisite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from lepton.api.autoscaling import Metric
from lepton.policies.metric_result import Empty, Error, MetricResult, Value
from lepton.prom.client import PrometheusClient
from lepton.prom.queries import (
    builtin_query,
    canary_error_rate_query,
    canary_latency_p95_query,
    canary_requests_query,
    idle_requests_query,
)
from support.prometheus import Prometheus
from support.wait import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = Prometheus(tmp_path_factory.mktemp("prometheus"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def query(url: str, promql: str) -> MetricResult:
    async def run() -> MetricResult:
        async with PrometheusClient(url, timeout_seconds=5) as prom:
            return await prom.query(promql)

    return asyncio.run(run())


def test_up_is_a_value(prometheus: str):
    # Prometheus needs a moment to start and scrape itself once; until then `up` is Empty or refused.
    def up() -> MetricResult | None:
        result = query(prometheus, 'up{job="prometheus"}')
        return result if isinstance(result, Value) else None

    assert wait_for(up, timeout=60, what="Prometheus to scrape itself") == Value(1.0)


def test_several_series_and_bad_queries_are_errors(prometheus: str):
    wait_for(lambda: isinstance(query(prometheus, "up"), Value), timeout=60, what="a first scrape")
    two = query(prometheus, 'label_replace(up, "copy", "1", "", "") or up')
    assert isinstance(two, Error), two
    assert two.message.startswith("query returned 2 series"), two
    bad = query(prometheus, "sum(")
    assert isinstance(bad, Error), bad
    assert bad.message.startswith("Prometheus bad_data:"), bad


@pytest.mark.parametrize("metric", [m for m in Metric if m is not Metric.CUSTOM], ids=str)
def test_builtin_queries_parse_and_match_nothing_here(prometheus: str, metric: Metric):
    """Prometheus accepts each built-in query; with no model server scraped they give no series."""
    wait_for(lambda: isinstance(query(prometheus, "up"), Value), timeout=60, what="Prometheus to answer")
    assert query(prometheus, builtin_query(metric, "team-a", "svc", "v1")) == Empty()
    assert query(prometheus, builtin_query(metric, "team-a", "svc", window_seconds=6)) == Empty()


def test_idle_requests_query_parses(prometheus: str):
    wait_for(lambda: isinstance(query(prometheus, "up"), Value), timeout=60, what="Prometheus to answer")
    assert query(prometheus, idle_requests_query("team-a", "svc", 300)) == Empty()


@pytest.mark.parametrize(
    "render",
    [canary_requests_query, canary_error_rate_query, canary_latency_p95_query],
    ids=lambda f: f.__name__,
)
def test_canary_analysis_queries_parse_and_match_nothing_here(prometheus: str, render):
    """Prometheus accepts each analysis query; with no new version scraped there is no data (which the
    verdict reads as Inconclusive, never as a pass)."""
    wait_for(lambda: isinstance(query(prometheus, "up"), Value), timeout=60, what="Prometheus to answer")
    assert query(prometheus, render("team-a", "svc", "v2", 30)) == Empty()
