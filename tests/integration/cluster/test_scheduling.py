"""kube-scheduler places pods on the fake nodes by their GPU capacity; KWOK runs what is placed."""

from __future__ import annotations

import pytest
from kubernetes import client

from support.wait import wait_for

pytestmark = pytest.mark.integration


def _pod(name: str, gpus: int | None) -> client.V1Pod:
    resources = client.V1ResourceRequirements(limits={"nvidia.com/gpu": str(gpus)}) if gpus else None
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="main", image="busybox", resources=resources)]
        ),
    )


@pytest.mark.parametrize(
    ("gpus", "node_prefix"),
    [(8, "lepton-gpu-"), (1, "lepton-gpu-"), (None, "lepton-")],
    ids=["whole-gpu-node", "one-gpu", "no-gpu"],
)
def test_pod_that_fits_runs_on_a_matching_node(kube, namespace, gpus, node_prefix):
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod(namespace, _pod("fits", gpus))
    pod = wait_for(
        lambda: (p := core.read_namespaced_pod("fits", namespace)).status.phase == "Running" and p,
        timeout=30,
        what="pod 'fits' Running",
        seen=lambda: core.read_namespaced_pod("fits", namespace).status,
    )
    assert pod.spec.node_name.startswith(node_prefix), pod.spec.node_name
    if gpus:
        node = core.read_node(pod.spec.node_name)
        assert int(node.status.allocatable["nvidia.com/gpu"]) >= gpus
        assert node.metadata.labels["nvidia.com/gpu.product"]
    assert pod.status.pod_ip, "KWOK gives running pods an IP"


def test_pod_asking_more_gpus_than_any_node_has_stays_pending_unschedulable(kube, namespace):
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod(namespace, _pod("too-big", 9))

    def unschedulable():
        status = core.read_namespaced_pod("too-big", namespace).status
        return any(c.type == "PodScheduled" and c.reason == "Unschedulable" for c in status.conditions or [])

    wait_for(
        unschedulable,
        timeout=30,
        what="PodScheduled=False reason Unschedulable",
        seen=lambda: core.read_namespaced_pod("too-big", namespace).status.conditions,
    )
    pod = core.read_namespaced_pod("too-big", namespace)
    assert pod.status.phase == "Pending"
    assert pod.spec.node_name is None
    assert "nvidia.com/gpu" in next(c.message for c in pod.status.conditions if c.type == "PodScheduled")
