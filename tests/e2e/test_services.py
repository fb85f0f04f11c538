"""Services route and Prometheus finds pods, as in real clusters: kube-proxy (iptables) load-balances
a ClusterIP Service over its ready replicas, and Prometheus scrapes an annotated replica the moment
it runs, with no target file written (e2e/realnode/proxy.py, e2e/localcluster/prometheus.py)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from e2ekit import busybox_deployment
from kubernetes import client

from localcluster.config import Config
from support.wait import wait_for

pytestmark = pytest.mark.e2e

# Each replica answers its own name on / and a one-line metrics page (text/plain by its extension).
SERVE = (
    "mkdir -p /www && hostname > /www/index.html && echo 'lepton_e2e_info 1' > /www/metrics.txt && "
    "exec httpd -f -p 8080 -h /www"
)
SCRAPE = {"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics.txt"}


def ready_pods(core: client.CoreV1Api, namespace: str, app: str) -> dict[str, client.V1Pod]:
    pods = core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    return {
        p.metadata.name: p
        for p in pods
        if p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    }


def pods_seen(core: client.CoreV1Api, namespace: str, app: str) -> list[str]:
    pods = core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    return [f"{p.metadata.name} {p.status.phase} on {p.spec.node_name} ip {p.status.pod_ip}" for p in pods]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode().strip())


def query(cfg: Config, promql: str) -> list[dict[str, Any]]:
    url = f"{cfg.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    return list(json.loads(get(url))["data"]["result"])


def test_cluster_ip_spreads_requests_over_both_ready_replicas(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    client.AppsV1Api(kube).create_namespaced_deployment(namespace, busybox_deployment("web", SERVE, 2))
    service = core.create_namespaced_service(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
        },
    )
    url = f"http://{service.spec.cluster_ip}/"

    def both_ready() -> set[str] | None:
        names = set(ready_pods(core, namespace, "web"))
        return names if len(names) == 2 else None

    names = wait_for(
        both_ready,
        timeout=120,
        what="2 ready replicas of deployment web",
        seen=lambda: pods_seen(core, namespace, "web"),
    )
    # Pods turn Ready before the EndpointSlice lists them and kube-proxy writes its rules (at most
    # once a second): wait, bounded, until the ClusterIP has led to each replica once.
    reached: set[str] = set()

    def reached_both() -> bool:
        reached.add(get(url))
        return reached == names

    wait_for(reached_both, timeout=30, what=f"answers from both replicas through {url}", seen=lambda: reached)
    # Then every request is a new connection sent to a replica chosen at random: 40 requests all
    # landing on one of the two has a chance of 2**-39.
    answers = [get(url) for _ in range(40)]
    assert set(answers) == names, f"answers through {url}: {sorted(set(answers))}, replicas: {sorted(names)}"


def test_prometheus_scrapes_each_new_replica_by_itself(
    kube: client.ApiClient, namespace: str, e2e_cluster: Config
) -> None:
    core = client.CoreV1Api(kube)
    apps = client.AppsV1Api(kube)
    apps.create_namespaced_deployment(namespace, busybox_deployment("scraped", SERVE, 1, SCRAPE))

    def scraped(pod: str) -> list[dict[str, Any]]:
        return query(e2e_cluster, f'up{{namespace="{namespace}",pod="{pod}"}} == 1')

    first = wait_for(
        lambda: next(iter(ready_pods(core, namespace, "scraped")), None),
        timeout=120,
        what="a ready replica of deployment scraped",
        seen=lambda: pods_seen(core, namespace, "scraped"),
    )
    series = wait_for(lambda: scraped(first), timeout=60, what=f"Prometheus to scrape pod {first} (up == 1)")
    assert series[0]["metric"]["job"] == "kubernetes-pods", series

    apps.patch_namespaced_deployment_scale("scraped", namespace, {"spec": {"replicas": 2}})
    second = wait_for(
        lambda: next((p for p in ready_pods(core, namespace, "scraped") if p != first), None),
        timeout=120,
        what="a second ready replica after scaling deployment scraped to 2",
        seen=lambda: pods_seen(core, namespace, "scraped"),
    )
    ready_at = time.monotonic()
    wait_for(
        lambda: scraped(second), timeout=60, what=f"Prometheus to scrape the added pod {second} (up == 1)"
    )
    print(f"\nadded replica {second}: ready -> first scrape seen in {time.monotonic() - ready_at:.1f}s")
    sample = query(e2e_cluster, f'lepton_e2e_info{{namespace="{namespace}",pod="{second}"}}')
    assert [s["value"][1] for s in sample] == ["1"], sample
    targets = list(e2e_cluster.prometheus_targets.glob("*.json"))
    assert not [t for t in targets if namespace in t.read_text()], (
        f"a target file names {namespace}: {targets}"
    )
