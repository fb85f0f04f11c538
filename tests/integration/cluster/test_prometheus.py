"""The cluster's real Prometheus answers queries, scrapes targets that tests add and finds annotated
pods itself (job kubernetes-pods, e2e/localcluster/prometheus.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from kubernetes import client
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


def _targets(url: str, state: str) -> list[dict]:
    response = httpx.get(f"{url}/api/v1/targets", params={"state": state}, timeout=5)
    response.raise_for_status()
    return response.json()["data"]["activeTargets" if state == "active" else "droppedTargets"]


def _annotated_pod(name: str, port: int, **spec: object) -> dict:
    """A pod with the scrape annotations and the lepton.ai/inferenceservice label the operator puts
    on model-server pods (operator/lepton/builders/inference.py)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"lepton.ai/inferenceservice": "sd-test"},
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(port),
                "prometheus.io/path": "/metrics",
            },
        },
        "spec": {"containers": [{"name": "server", "image": "server:never-pulled"}], **spec},
    }


@pytest.fixture
def unmanaged_node(kube) -> Iterator[str]:
    """A Node no kubelet and no KWOK manages (no kwok.x-k8s.io/node annotation): the test itself
    writes the status of the pods bound to it, as a kubelet would."""
    core = client.CoreV1Api(kube)
    name = f"sd-{uuid.uuid4().hex[:8]}"
    core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    yield name
    core.delete_node(name)


def test_prometheus_discovers_annotated_pods_and_skips_simulated_nodes(
    prometheus_url, kube, namespace, unmanaged_node
):
    """Job kubernetes-pods: an annotated pod is scraped at <pod IP>:<annotated port><annotated path>
    with the labels namespace, pod and inferenceservice, with no file written; the same pod on a
    KWOK node (fake IP) is discovered and dropped."""
    core = client.CoreV1Api(kube)
    registry = CollectorRegistry()
    Counter("lepton_test_discovered", "a metric of a discovered pod", registry=registry).inc(3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        core.create_namespaced_pod(namespace, _annotated_pod("served", port, nodeName=unmanaged_node))
        # The pod's IP is loopback, where the exporter listens: what a kubelet would report for a pod.
        status = {"phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}
        core.patch_namespaced_pod_status("served", namespace, {"status": status})
        sim = _annotated_pod("simulated", port, nodeSelector={"lepton.ai/node-kind": "simulated"})
        core.create_namespaced_pod(namespace, sim)

        query = f'lepton_test_discovered_total{{namespace="{namespace}",pod="served"}}'
        samples = wait_for(
            lambda: _query(prometheus_url, query),
            timeout=60,
            what=f"Prometheus to discover and scrape pod {namespace}/served ({query})",
            seen=lambda: [t["labels"] for t in _targets(prometheus_url, "active")],
        )
        labels = samples[0]["metric"]
        assert float(samples[0]["value"][1]) == 3.0
        assert labels["job"] == "kubernetes-pods"
        assert labels["instance"] == f"127.0.0.1:{port}"
        assert labels["service"] == "sd-test"

        def dropped() -> list[dict]:
            return [
                t
                for t in _targets(prometheus_url, "dropped")
                if t["discoveredLabels"].get("__meta_kubernetes_namespace") == namespace
                and t["discoveredLabels"].get("__meta_kubernetes_pod_name") == "simulated"
                and t["discoveredLabels"].get("__meta_kubernetes_pod_ip")
            ]

        found = wait_for(
            dropped, timeout=60, what=f"pod {namespace}/simulated (KWOK IP) among dropped targets"
        )
        assert found[0]["discoveredLabels"]["__meta_kubernetes_node_label_lepton_ai_node_kind"] == "simulated"
        active = [t["labels"] for t in _targets(prometheus_url, "active")]
        assert not [t for t in active if t.get("pod") == "simulated" and t.get("namespace") == namespace]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
