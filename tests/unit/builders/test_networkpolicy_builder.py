"""The NetworkPolicy of spec.networkPolicy, compared whole, and its defaults and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lepton.api import InferenceService, ModelVersion
from lepton.builders.activator import construct_activator
from lepton.builders.inference import APPLIED_HASH, applied_hash, construct_deployment
from lepton.builders.networkpolicy import construct_network_policy, network_policy_wanted
from lepton.builders.serving_config import ServingConfig

OWNER = {
    "apiVersion": "lepton.ai/v1alpha1",
    "kind": "InferenceService",
    "name": "iris",
    "uid": "isvc-uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}
GATEWAY = {"gateway": {"name": "public", "namespace": "edge"}}
PORT = [{"protocol": "TCP", "port": "http"}]


def service(**spec: Any) -> InferenceService:
    return InferenceService.model_validate(
        {
            "metadata": {"name": "iris", "namespace": "ml", "uid": "isvc-uid-1"},
            "spec": {"model": {"name": "iris"}, **spec},
        }
    )


def peer(namespaces: list[str], labels: dict[str, str] | None) -> dict[str, Any]:
    selector = {"key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}
    return {
        "namespaceSelector": {"matchExpressions": [selector]},
        "podSelector": {"matchLabels": labels} if labels else {},
    }


def without_hash(body: dict[str, Any]) -> dict[str, Any]:
    annotations = body["metadata"].pop("annotations")
    assert annotations == {APPLIED_HASH: applied_hash(body)}
    return body


def test_defaults_admit_the_gateways_namespace_the_activator_and_prometheus_on_the_server_port():
    isvc = service(traffic=GATEWAY, networkPolicy={})
    assert network_policy_wanted(isvc)
    assert without_hash(construct_network_policy(isvc)) == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "iris",
            "namespace": "ml",
            "labels": {
                "lepton.ai/inferenceservice": "iris",
                "lepton.ai/model": "iris",
                "app.kubernetes.io/managed-by": "lepton",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "podSelector": {
                "matchLabels": {
                    "lepton.ai/inferenceservice": "iris",
                    "app.kubernetes.io/component": "model-server",
                }
            },
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [peer(["edge"], None)], "ports": PORT},
                {
                    "from": [
                        {
                            "podSelector": {
                                "matchLabels": {
                                    "lepton.ai/inferenceservice": "iris",
                                    "app.kubernetes.io/component": "activator",
                                }
                            }
                        }
                    ],
                    "ports": PORT,
                },
                {"from": [peer(["monitoring"], {"app.kubernetes.io/name": "prometheus"})], "ports": PORT},
            ],
        },
    }


def ingress_from(isvc: InferenceService) -> list[dict[str, Any]]:
    return [rule["from"][0] for rule in construct_network_policy(isvc)["spec"]["ingress"]]


# (case, spec, the gateway peer, the prometheus peer)
PEERS = [
    ("a gateway in the service's own namespace",
     {"traffic": {"gateway": {"name": "public"}}, "networkPolicy": {}},
     peer(["ml"], None), peer(["monitoring"], {"app.kubernetes.io/name": "prometheus"})),
    ("gateway pods named elsewhere (Envoy Gateway)",
     {"traffic": GATEWAY, "networkPolicy": {"gateway": {
         "namespaces": ["envoy-gateway-system"],
         "podLabels": {"gateway.envoyproxy.io/owning-gateway-name": "public"}}}},
     peer(["envoy-gateway-system"], {"gateway.envoyproxy.io/owning-gateway-name": "public"}),
     peer(["monitoring"], {"app.kubernetes.io/name": "prometheus"})),
    ("no Gateway: the clients named", {"networkPolicy": {"gateway": {"namespaces": ["apps", "web"]}}},
     peer(["apps", "web"], None), peer(["monitoring"], {"app.kubernetes.io/name": "prometheus"})),
    ("prometheus elsewhere, any pod there (podLabels {})",
     {"traffic": GATEWAY, "networkPolicy": {"prometheus": {"namespaces": ["obs"], "podLabels": {}}}},
     peer(["edge"], None), peer(["obs"], None)),
    ("prometheus labels only: the default namespace stays",
     {"traffic": GATEWAY, "networkPolicy": {"prometheus": {"podLabels": {"app": "prom"}}}},
     peer(["edge"], None), peer(["monitoring"], {"app": "prom"})),
]  # fmt: skip


@pytest.mark.parametrize(("case", "spec", "gateway", "prometheus"), PEERS, ids=[p[0] for p in PEERS])
def test_peers(case, spec, gateway, prometheus):
    found = ingress_from(service(**spec))
    assert (found[0], found[2]) == (gateway, prometheus), case


def test_the_policy_selects_the_server_pods_of_every_version_and_not_the_activator():
    """Its selector against the labels the builders give the pods (the integration test checks the
    real pods)."""
    isvc = service(traffic=GATEWAY, networkPolicy={})
    selector = construct_network_policy(isvc)["spec"]["podSelector"]["matchLabels"]
    source = {"uri": "file:///m", "format": "torch-export", "digest": "sha256:" + "a" * 64}
    mv = {
        "metadata": {"name": "iris-v2", "namespace": "ml", "uid": "mv-uid"},
        "spec": {"model": "iris", "version": "v2", "source": source},
    }
    server = construct_deployment(isvc, ModelVersion.model_validate(mv), 1, ServingConfig())
    activator = construct_activator(isvc, ServingConfig())
    server_labels = server["spec"]["template"]["metadata"]["labels"]
    activator_labels = activator["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= server_labels.items()
    assert not selector.items() <= activator_labels.items()


def test_disabled_or_unset_wants_none():
    assert not network_policy_wanted(service())
    assert not network_policy_wanted(service(networkPolicy={"enabled": False}))


# (case, spec, what the message names)
REFUSED = [
    ("no gateway without spec.traffic", {"networkPolicy": {}}, "networkPolicy.gateway must be set"),
    ("a bad label key", {"traffic": GATEWAY, "networkPolicy": {"prometheus": {"podLabels": {"-x": "y"}}}},
     "podLabels keys"),
    ("a bad label value", {"traffic": GATEWAY, "networkPolicy": {"gateway": {"podLabels": {"app": "a b"}}}},
     "pattern"),
    ("a bad namespace", {"traffic": GATEWAY, "networkPolicy": {"gateway": {"namespaces": ["Edge"]}}},
     "pattern"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "spec", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(case, spec, message):
    with pytest.raises(ValidationError, match=message):
        service(**spec)


def test_disabled_needs_no_gateway():
    assert service(networkPolicy={"enabled": False}).spec.network_policy is not None
