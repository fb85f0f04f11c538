"""The NetworkPolicy of an InferenceService with spec.networkPolicy (networking.k8s.io/v1): it selects
the service's model-server pods (every version; not the activator, which must take any client's
requests while no replica is ready) and admits, on the server port, only the Gateway's proxies,
the service's activator and Prometheus. The server port serves /metrics too, so Prometheus is
admitted on that one port.

Not listed and still reaching the servers: the kubelet's probes. The kubelet probes from the node
the pod runs on, and Kubernetes' NetworkPolicy documentation makes that traffic an exception that
no policy blocks (whatever the pod's or the node's address)."""

from __future__ import annotations

from typing import Any

from lepton.api.inferenceservice import InferenceService
from lepton.api.networkpolicy import PROMETHEUS_NAMESPACES, PROMETHEUS_POD_LABELS, Peer
from lepton.builders.activator import activator_selector
from lepton.builders.inference import HTTP_PORT_NAME, child_metadata, with_hash
from lepton.builders.traffic import ratio_selector

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace (Kubernetes 1.21+): namespaces are selected by name."""


def network_policy_wanted(isvc: InferenceService) -> bool:
    policy = isvc.spec.network_policy
    return policy is not None and policy.enabled


def _peer(namespaces: list[str], pod_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "namespaceSelector": {
            "matchExpressions": [
                {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(namespaces)}
            ]
        },
        "podSelector": {"matchLabels": dict(pod_labels)} if pod_labels else {},
    }


def gateway_peer(isvc: InferenceService) -> dict[str, Any]:
    """The gateway's pods: as spec.networkPolicy.gateway says, by default every pod of the Gateway's
    namespace (spec.traffic.gateway.namespace, else the service's)."""
    policy, traffic = isvc.spec.network_policy, isvc.spec.traffic
    given = (policy.gateway if policy else None) or Peer()
    default = (traffic.gateway.namespace if traffic else None) or isvc.namespace
    return _peer(given.namespaces or [default], given.pod_labels or {})


def prometheus_peer(isvc: InferenceService) -> dict[str, Any]:
    policy = isvc.spec.network_policy
    given = (policy.prometheus if policy else None) or Peer()
    labels = PROMETHEUS_POD_LABELS if given.pod_labels is None else given.pod_labels
    return _peer(given.namespaces or PROMETHEUS_NAMESPACES, labels)


def construct_network_policy(isvc: InferenceService) -> dict[str, Any]:
    """The policy `<isvc>`, owned by the service: one ingress rule per admitted source, all on the
    server's named port (so a changed spec.server.port needs no change here)."""
    port = [{"protocol": "TCP", "port": HTTP_PORT_NAME}]
    activator = {"podSelector": {"matchLabels": activator_selector(isvc.name)}}  # same namespace
    return with_hash(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": child_metadata(isvc, isvc.name),
            "spec": {
                "podSelector": {"matchLabels": ratio_selector(isvc.name)},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": [gateway_peer(isvc)], "ports": port},
                    {"from": [activator], "ports": port},
                    {"from": [prometheus_peer(isvc)], "ports": port},
                ],
            },
        }
    )
