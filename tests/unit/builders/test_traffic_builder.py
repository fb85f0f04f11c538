"""The per-version Services and the HTTPRoute of a canary rollout, compared whole."""

from __future__ import annotations

from typing import Any

from lepton.api import InferenceService
from lepton.builders.inference import APPLIED_HASH, applied_hash
from lepton.builders.traffic import (
    construct_httproute,
    construct_version_service,
    ratio_selector,
    route_weights,
    version_service_name,
)

OWNER = {
    "apiVersion": "lepton.ai/v1alpha1",
    "kind": "InferenceService",
    "name": "iris",
    "uid": "isvc-uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}


def service(**spec: Any) -> InferenceService:
    return InferenceService.model_validate(
        {
            "metadata": {"name": "iris", "namespace": "ml", "uid": "isvc-uid-1"},
            "spec": {"model": {"name": "iris"}, **spec},
        }
    )


def without_hash(body: dict[str, Any]) -> dict[str, Any]:
    annotations = body["metadata"].pop("annotations")
    assert annotations == {APPLIED_HASH: applied_hash(body)}
    return body


def test_version_service_selects_that_version_only():
    assert without_hash(construct_version_service(service(), "v2")) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "iris-v2",
            "namespace": "ml",
            "labels": {
                "lepton.ai/inferenceservice": "iris",
                "lepton.ai/model": "iris",
                "app.kubernetes.io/managed-by": "lepton",
                "lepton.ai/version": "v2",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {"lepton.ai/inferenceservice": "iris", "lepton.ai/version": "v2"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def test_version_service_names_are_dns_labels_unique_and_stable():
    long_name, long_version = "s" * 52, "v" + "1" * 62
    name = version_service_name(long_name, long_version)
    assert len(name) == 63
    assert name == version_service_name(long_name, long_version)
    assert name != version_service_name(long_name, long_version[:-1] + "2")
    assert version_service_name("iris", "v2") == "iris-v2"


GATEWAY = {
    "gateway": {"name": "public", "namespace": "infra", "sectionName": "http"},
    "hostnames": ["iris.example.com"],
}


def test_httproute_splits_by_weight_and_mirrors():
    isvc = service(
        traffic={**GATEWAY, "mirrorPercent": 10}, rollout={"steps": [{"weight": 0}, {"weight": 50}]}
    )
    ref = {"group": "", "kind": "Service", "port": 80}
    assert without_hash(construct_httproute(isvc, {"v1": 80, "v2": 20}, ("v2", 10))) == {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": "iris",
            "namespace": "ml",
            "labels": {"lepton.ai/inferenceservice": "iris", "app.kubernetes.io/managed-by": "lepton"},
            "ownerReferences": [OWNER],
        },
        "spec": {
            "parentRefs": [
                {
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "name": "public",
                    "namespace": "infra",
                    "sectionName": "http",
                }
            ],
            "hostnames": ["iris.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {**ref, "name": "iris-v1", "weight": 80},
                        {**ref, "name": "iris-v2", "weight": 20},
                    ],
                    "filters": [
                        {
                            "type": "RequestMirror",
                            "requestMirror": {"backendRef": {**ref, "name": "iris-v2"}, "percent": 10},
                        }
                    ],
                }
            ],
        },
    }


def test_httproute_leaves_out_versions_at_zero_and_reads_back():
    isvc = service(traffic={"gateway": {"name": "public"}})
    route = construct_httproute(isvc, {"v1": 100, "v2": 0})
    assert [b["name"] for b in route["spec"]["rules"][0]["backendRefs"]] == ["iris-v1"]
    assert "hostnames" not in route["spec"]
    assert "filters" not in route["spec"]["rules"][0]
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public"}
    ]
    assert route_weights(route, "iris", ["v1", "v2"]) == {"v1": 100}
    split = construct_httproute(isvc, {"v1": 50, "v2": 50})
    assert route_weights(split, "iris", ["v1", "v2"]) == {"v1": 50, "v2": 50}
    assert route_weights(None, "iris", ["v1"]) is None


def test_httproute_at_zero_replicas_sends_everything_to_the_activator():
    """While no replica is ready the stable Service selects the activator: the route must lead
    there, not to the version's Service, whose endpoints are none (a Gateway would answer 503)."""
    isvc = service(traffic={"gateway": {"name": "public"}, "mirrorPercent": 10})
    route = construct_httproute(isvc, {"v1": 100}, ("v1", 10), to_activator=True)
    [rule] = route["spec"]["rules"]
    assert rule["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "iris", "port": 80, "weight": 100}
    ]
    assert "filters" not in rule  # nothing to mirror to: no candidate replica either
    assert route_weights(route, "iris", ["v1"]) == {}  # carries no version: never read as promoted
    back = construct_httproute(isvc, {"v1": 100})
    assert back["spec"]["rules"][0]["backendRefs"][0]["name"] == "iris-v1"
    assert back["metadata"]["annotations"] != route["metadata"]["annotations"]  # applied again


def test_ratio_selector_leaves_out_the_activator():
    assert ratio_selector("iris") == {
        "lepton.ai/inferenceservice": "iris",
        "app.kubernetes.io/component": "model-server",
    }
