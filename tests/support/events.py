"""Events about an object, read the way tests need them: the operator sends events after the status
write that showed a change, so a test that has just seen the status must wait for them (bounded)."""

from __future__ import annotations

import uuid

from kubernetes import client

from lepton.api.times import now
from support.wait import wait_for


def event_reasons(core: client.CoreV1Api, namespace: str, name: str) -> list[str]:
    items = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return [e.reason for e in items]


def wait_events(
    core: client.CoreV1Api, namespace: str, name: str, *reasons: str, timeout: float = 15
) -> list[str]:
    """Wait until events with every one of ``reasons`` were recorded about ``name``; all its reasons."""
    wait_for(
        lambda: set(reasons) <= set(event_reasons(core, namespace, name)),
        timeout=timeout,
        what=f"events {', '.join(reasons)} about {name}",
        seen=lambda: event_reasons(core, namespace, name),
    )
    return event_reasons(core, namespace, name)


def kubelet_event(core: client.CoreV1Api, pod: client.V1Pod, reason: str, message: str) -> None:
    """A Warning about ``pod`` as its node's kubelet writes one (FailedMount...): the stand-in for the
    kubelet on KWOK's nodes, which mount nothing. Through the real API server, as any Event."""
    at = now()
    namespace = pod.metadata.namespace
    core.create_namespaced_event(
        namespace,
        {
            "metadata": {"name": f"{pod.metadata.name}.{uuid.uuid4().hex[:12]}"},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": pod.metadata.name,
                "namespace": namespace,
                "uid": pod.metadata.uid,
            },
            "type": "Warning",
            "reason": reason,
            "message": message,
            "source": {"component": "kubelet", "host": pod.spec.node_name},
            "firstTimestamp": at,
            "lastTimestamp": at,
            "count": 1,
        },
    )


def bound_pod(core: client.CoreV1Api, namespace: str, selector: str, timeout: float = 30) -> client.V1Pod:
    """The first pod matching ``selector`` once the scheduler has bound it to a node."""

    def bound() -> client.V1Pod | None:
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        return next((p for p in pods if p.spec.node_name), None)

    return wait_for(bound, timeout, f"a pod {selector} bound to a node")
