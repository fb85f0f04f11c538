"""Chaos on a real node: its kubelet stopped and started while a TrainingJob runs there and a Service
answers from it. The containers keep running without the kubelet (containerd owns them) and the
workers exit while it is down; once it is back, what it reports must converge: the job Succeeded
with its own two pods (no new generation, no restart charged), the Service's pods the same, no child
without its owner, and no request through the ClusterIP failed. LEPTON_CHAOS_ROUNDS stops it that
many times (the job runs longer to cover them); the seed is printed (LEPTON_CHAOS_SEED)."""

from __future__ import annotations

import os
import random
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from e2ekit import BUSYBOX, REAL_NODE_SELECTOR, REAL_NODE_TOLERATION, busybox_deployment
from kubernetes import client

from localcluster import cluster as localcluster
from localcluster.config import Config
from realnode import node as realnode
from support.background import Repeating
from support.kube import Kubectl, orphans
from support.operator import Operator, running_operator
from support.paths import CRDS_DIR
from support.wait import wait_for

ROUNDS = int(os.environ.get("LEPTON_CHAOS_ROUNDS") or 1)
pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(300 + 120 * ROUNDS)]

KUBELET = "kubelet stopped and started"
SERVE = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"


@pytest.fixture(scope="module")
def operator(
    e2e_cluster: Config, kubectl: Kubectl, no_local_operator: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS_DIR))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS_DIR))
    log = tmp_path_factory.mktemp("chaos-kubelet") / "operator.log"
    with running_operator(str(e2e_cluster.kubeconfig), log) as op:
        yield op


def sleeping_job(namespace: str, seconds: int) -> dict[str, Any]:
    """Two busybox workers on the real node that sleep, then exit 0."""
    container = {
        "name": "trainer",
        "image": BUSYBOX,
        "imagePullPolicy": "Never",
        "command": ["sh", "-c", f"sleep {seconds}"],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }
    spec = {
        # busybox's image runs as root; workers run non-root (Lepton's restricted default): say who.
        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000},
        "nodeSelector": REAL_NODE_SELECTOR,
        "tolerations": [REAL_NODE_TOLERATION],
        "terminationGracePeriodSeconds": 1,
        "containers": [container],
    }
    return {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": "sleeper", "namespace": namespace},
        "spec": {"replicas": 2, "template": {"spec": spec}},
    }


class Requests(Repeating):
    """GETs to one URL, five a second from a thread, counted by outcome."""

    def __init__(self, url: str) -> None:
        super().__init__(0.2)
        self.url = url
        self.outcomes: Counter[str] = Counter()

    def step(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=5) as response:
                self.outcomes[str(response.status)] += 1
        except Exception as exc:
            self.outcomes[type(exc).__name__] += 1


def test_kubelet_stopped_and_started_under_a_job_and_a_service(
    e2e_cluster: Config, kube: client.ApiClient, namespace: str, operator: Operator
) -> None:
    seed = int(os.environ.get("LEPTON_CHAOS_SEED") or random.SystemRandom().randrange(1 << 31))
    rng = random.Random(seed)
    print(f"\nchaos seed {seed} (LEPTON_CHAOS_SEED={seed} reruns it); kubelet stops: {ROUNDS}")
    core, apps = client.CoreV1Api(kube), client.AppsV1Api(kube)
    custom, leases = client.CustomObjectsApi(kube), client.CoordinationV1Api(kube)
    apps.create_namespaced_deployment(namespace, busybox_deployment("web", SERVE, 2))
    service = core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    # Each stop is at most 25 s down plus 30 s back: the workers outlive all but the last one.
    down_for = [rng.uniform(10, 25) for _ in range(ROUNDS)]
    custom.create_namespaced_custom_object(
        "lepton.ai", "v1alpha1", namespace, "trainingjobs", sleeping_job(namespace, 40 * ROUNDS)
    )

    def job() -> dict[str, Any]:
        found = custom.get_namespaced_custom_object(
            "lepton.ai", "v1alpha1", namespace, "trainingjobs", "sleeper"
        )
        return dict(found)

    def uids(selector: str) -> dict[str, str]:
        return {
            p.metadata.name: p.metadata.uid
            for p in core.list_namespaced_pod(namespace, label_selector=selector).items
        }

    wait_for(
        lambda: (job().get("status") or {}).get("phase") == "Running", 120, "job sleeper Running", seen=job
    )
    wait_for(
        lambda: (d := apps.read_namespaced_deployment("web", namespace)).status.ready_replicas == 2 and d,
        120,
        "2 ready replicas of web",
    )
    workers, web = uids("lepton.ai/job-name=sleeper"), uids("app=web")
    url = f"http://{service.spec.cluster_ip}/"
    wait_for(lambda: urllib.request.urlopen(url, timeout=5).status == 200, 60, f"{url} answering")
    survived = 0
    with Requests(url) as sent:
        for stop in down_for:
            time.sleep(rng.uniform(5, 10))  # the fault's moment in the workers' run, not a wait for state
            assert realnode.stop_kubelet(e2e_cluster, 0), "the real node's kubelet was not running"
            time.sleep(stop)  # the outage itself
            restarted = datetime.now(UTC)
            realnode.start_kubelet(e2e_cluster, localcluster.tools_dir(), 0)
            # A short outage leaves the node Ready (the lease outlives it): back means renewed since.
            wait_for(
                lambda since=restarted: (
                    leases.read_namespaced_lease(realnode.node_name(0), "kube-node-lease").spec.renew_time
                    > since
                ),
                90,
                "the real node's lease renewed by the restarted kubelet",
            )
            survived += 1
            print(f"kubelet down {stop:.1f} s, back; requests so far: {dict(sent.outcomes)}")
        status = wait_for(
            lambda: (s := job().get("status") or {}).get("phase") == "Succeeded" and s,
            180,
            "job sleeper Succeeded once its workers' exits are reported",
            seen=job,
        )

    assert uids("lepton.ai/job-name=sleeper") == workers, "the workers were replaced"
    assert uids("app=web") == web, "the Service's pods were replaced"
    charged = {k: status.get(k) for k in ("restartCount", "nodeLossRestarts", "restartHistory")}
    assert charged == {"restartCount": 0, "nodeLossRestarts": 0, "restartHistory": None}, charged
    assert orphans(kube, namespace) == []
    assert set(sent.outcomes) == {"200"}, sent.outcomes
    print(
        f"chaos seed {seed}: faults survived with nothing lost: {{{KUBELET!r}: {survived}}}; "
        f"requests {dict(sent.outcomes)}"
    )
