"""The real node runs real pods: the sandbox, CNI bridge, cluster DNS and termination messages work."""

from __future__ import annotations

import uuid

import pytest
from e2ekit import busybox_pod
from kubernetes import client

from support.wait import wait_for

pytestmark = pytest.mark.e2e


def terminated(core: client.CoreV1Api, namespace: str, name: str) -> client.V1ContainerStateTerminated | None:
    """The container's final state once the pod has finished (phase Succeeded or Failed)."""
    pod = core.read_namespaced_pod(name, namespace)
    if pod.status.phase not in ("Succeeded", "Failed"):
        return None
    for status in pod.status.container_statuses or []:
        if status.state.terminated is not None:
            return status.state.terminated
    return None


def test_real_node_is_labelled_and_tainted(kube: client.ApiClient) -> None:
    nodes = client.CoreV1Api(kube).list_node(label_selector="lepton.ai/node-kind=real").items
    assert nodes, "no node labelled lepton.ai/node-kind=real"
    for node in nodes:
        taints = {(t.key, t.effect) for t in node.spec.taints or []}
        assert ("lepton.ai/real-node", "NoSchedule") in taints, node.metadata.name
        ready = {c.type: c.status for c in node.status.conditions}
        assert ready.get("Ready") == "True", node.metadata.name


def test_pod_exits_with_its_code_and_message_after_reaching_another_by_dns(
    kube: client.ApiClient, namespace: str
) -> None:
    """Pod "client" fetches a token over TCP from pod "server" by its DNS name (headless Service
    subdomain), then exits 7 with the token as its termination message."""
    core = client.CoreV1Api(kube)
    token = uuid.uuid4().hex
    core.create_namespaced_service(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "echo"},
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": {"app": "server"},
                "ports": [{"name": "http", "port": 7000}],
            },
        },
    )
    serve = f"mkdir -p /tmp/www && echo {token} > /tmp/www/index.html && exec httpd -f -p 7000 -h /tmp/www"
    core.create_namespaced_pod(namespace, busybox_pod("server", serve, hostname="server", subdomain="echo"))
    host = f"server.echo.{namespace}.svc.cluster.local"
    # (busybox's wget crashes with -T; the loop bounds the retries while DNS and the server come up)
    fetch = (
        f"for i in $(seq 1 60); do wget -q -O /tmp/r http://{host}:7000/ && break; sleep 1; done; "
        "cat /tmp/r > /dev/termination-log; exit 7"
    )
    core.create_namespaced_pod(namespace, busybox_pod("client", fetch))

    def client_status() -> object:
        return core.read_namespaced_pod("client", namespace).status.to_dict()

    state = wait_for(
        lambda: terminated(core, namespace, "client"),
        timeout=120,
        what="pod client to terminate",
        seen=client_status,
    )
    assert state.exit_code == 7
    assert (state.message or "").strip() == token, f"client got {state.message!r} from {host}"
    server = core.read_namespaced_pod("server", namespace)
    client_pod = core.read_namespaced_pod("client", namespace)
    assert server.status.phase == "Running"
    assert client_pod.status.phase == "Failed"
    assert server.spec.node_name.startswith("lepton-real-")
    assert server.status.pod_ip.startswith("10.244."), server.status.pod_ip


def test_untolerated_pod_never_lands_on_a_real_node(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    pod = busybox_pod("stray", "exit 0")
    pod["spec"].pop("tolerations")
    core.create_namespaced_pod(namespace, pod)
    reason = wait_for(
        lambda: next(
            (
                c.reason
                for c in core.read_namespaced_pod("stray", namespace).status.conditions or []
                if c.type == "PodScheduled" and c.status == "False"
            ),
            None,
        ),
        timeout=30,
        what="pod stray to be reported unschedulable",
    )
    assert reason == "Unschedulable"
