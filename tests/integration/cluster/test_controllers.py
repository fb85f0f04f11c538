"""kube-controller-manager's controllers work over KWOK pods: Deployments, garbage collection,
endpoints of headless Services."""

from __future__ import annotations

import pytest
from kubernetes import client

from support.wait import wait_for

pytestmark = pytest.mark.integration

LABELS = {"app": "web"}


def _deployment(replicas: int) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=LABELS),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=LABELS),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="web", image="nginx", ports=[client.V1ContainerPort(container_port=80)]
                        )
                    ]
                ),
            ),
        ),
    )


def _running(core: client.CoreV1Api, namespace: str) -> list[client.V1Pod]:
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    return [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]


def test_deployment_gets_its_replicas_running(kube, namespace):
    apps, core = client.AppsV1Api(kube), client.CoreV1Api(kube)
    apps.create_namespaced_deployment(namespace, _deployment(3))
    wait_for(
        lambda: len(_running(core, namespace)) == 3,
        timeout=60,
        what="3 running pods of Deployment web",
        seen=lambda: [(p.metadata.name, p.status.phase) for p in core.list_namespaced_pod(namespace).items],
    )
    wait_for(
        lambda: apps.read_namespaced_deployment("web", namespace).status.available_replicas == 3,
        timeout=60,
        what="Deployment web availableReplicas=3",
        seen=lambda: apps.read_namespaced_deployment("web", namespace).status,
    )


def test_headless_service_gets_endpoints_of_ready_pods(kube, namespace):
    apps, core = client.AppsV1Api(kube), client.CoreV1Api(kube)
    discovery = client.DiscoveryV1Api(kube)
    apps.create_namespaced_deployment(namespace, _deployment(2))
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1ServiceSpec(
                cluster_ip="None", selector=LABELS, ports=[client.V1ServicePort(port=80, name="http")]
            ),
        ),
    )

    def addresses() -> list[str]:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web"
        ).items
        return sorted(a for s in slices for e in s.endpoints or [] if e.conditions.ready for a in e.addresses)

    found = wait_for(
        lambda: len(addresses()) == 2 and addresses(),
        timeout=60,
        what="2 ready endpoint addresses for Service web",
        seen=addresses,
    )
    assert found == sorted(p.status.pod_ip for p in _running(core, namespace))


def test_deleting_a_namespace_removes_its_pods(kube, namespace):
    apps, core = client.AppsV1Api(kube), client.CoreV1Api(kube)
    apps.create_namespaced_deployment(namespace, _deployment(2))
    wait_for(lambda: len(_running(core, namespace)) == 2, timeout=60, what="2 running pods")
    core.delete_namespace(namespace)

    def gone() -> bool:
        try:
            core.read_namespace(namespace)
        except client.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(
        gone,
        timeout=90,
        what=f"namespace {namespace} deleted with its pods",
        seen=lambda: [p.metadata.name for p in core.list_namespaced_pod(namespace).items],
    )
    assert core.list_namespaced_pod(namespace).items == []
