"""The cluster's real Prometheus answers queries and scrapes targets that tests add."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from support.ports import free_port
from support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def prometheus_url(cluster) -> str:
    return cluster.config.prometheus_url


@pytest.fixture
def exporter(cluster) -> Iterator[tuple[str, Counter]]:
    """A metrics endpoint on loopback, registered with Prometheus through file-based discovery."""
    registry = CollectorRegistry()
    job = f"test_{uuid.uuid4().hex[:8]}"
    counter = Counter("lepton_test_events", "events counted by a test", registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    target = cluster.config.prometheus_targets / f"{job}.json"
    target.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"job": job}}]))
    yield job, counter
    target.unlink(missing_ok=True)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _query(url: str, promql: str) -> list[dict]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_answers_queries(prometheus_url):
    result = _query(prometheus_url, "vector(42)")
    assert result[0]["value"][1] == "42"


def test_prometheus_scrapes_a_target_a_test_adds(prometheus_url, exporter):
    job, counter = exporter
    counter.inc(7)
    samples = wait_for(
        lambda: _query(prometheus_url, f'lepton_test_events_total{{job="{job}"}}'),
        timeout=30,
        what=f"a scraped sample of lepton_test_events_total for job {job}",
    )
    assert float(samples[0]["value"][1]) == 7.0
    assert _query(prometheus_url, f'up{{job="{job}"}}')[0]["value"][1] == "1"
