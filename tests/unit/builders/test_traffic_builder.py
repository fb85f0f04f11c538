"""The per-version Services and the HTTPRoute of a canary rollout, compared whole."""

from __future__ import annotations

from typing import Any

from lepton.api import InferenceService
from lepton.builders.inference import APPLIED_HASH, applied_hash
from lepton.builders.traffic import (
    MirrorMode,
    construct_httproute,
    construct_mirror_service,
    construct_version_service,
    mirror_service_name,
    names_mirror_service,
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


def test_httproute_mirrors_everything_without_a_percent():
    """At 100 % the filter carries no percent: only HTTPRouteRequestMirror is needed then."""
    isvc = service(traffic={**GATEWAY, "mirrorPercent": 100}, rollout={"steps": [{"weight": 0}]})
    [rule] = construct_httproute(isvc, {"v1": 100, "v2": 0}, ("v2", 100))["spec"]["rules"]
    assert rule["filters"] == [
        {
            "type": "RequestMirror",
            "requestMirror": {"backendRef": {"group": "", "kind": "Service", "name": "iris-v2", "port": 80}},
        }
    ]


def test_traefik_mirrors_through_a_traefikservice_in_place_of_the_stable_backend():
    isvc = service(
        traffic={**GATEWAY, "mirrorPercent": 50}, rollout={"steps": [{"weight": 0}, {"weight": 50}]}
    )
    ref = {"group": "", "kind": "Service", "port": 80}
    traefik = {"group": "traefik.io", "kind": "TraefikService", "name": "iris-mirror"}
    shadow = construct_httproute(isvc, {"v1": 100, "v2": 0}, ("v2", 50), mode=MirrorMode.TRAEFIK_SERVICE)
    [rule] = shadow["spec"]["rules"]
    assert rule["backendRefs"] == [{**traefik, "weight": 100}]
    assert "filters" not in rule  # Traefik v3.6 refuses a route with the RequestMirror filter
    weighted = construct_httproute(isvc, {"v1": 50, "v2": 50}, ("v2", 50), mode=MirrorMode.TRAEFIK_SERVICE)
    assert weighted["spec"]["rules"][0]["backendRefs"] == [
        {**traefik, "weight": 50},
        {**ref, "name": "iris-v2", "weight": 50},
    ]
    # Read back, the TraefikService's share is the stable version's (make before break).
    assert route_weights(shadow, "iris", ["v1", "v2"], "v1") == {"v1": 100}
    assert route_weights(weighted, "iris", ["v1", "v2"], "v1") == {"v1": 50, "v2": 50}
    assert names_mirror_service(weighted, "iris")
    # No mirror (ended, or at zero replicas): plain Services only, and nothing names it.
    for plain in (
        construct_httproute(isvc, {"v1": 100}, None, mode=MirrorMode.TRAEFIK_SERVICE),
        construct_httproute(
            isvc, {"v1": 100}, ("v2", 50), to_activator=True, mode=MirrorMode.TRAEFIK_SERVICE
        ),
    ):
        assert not names_mirror_service(plain, "iris")
    # The new version carrying everything (the end of a promotion) has nothing beside it to wrap.
    full = construct_httproute(isvc, {"v2": 100}, ("v2", 50), mode=MirrorMode.TRAEFIK_SERVICE)
    assert full["spec"]["rules"][0]["backendRefs"] == [{**ref, "name": "iris-v2", "weight": 100}]


def test_the_traefikservice_mirrors_the_candidate_with_bodies():
    isvc = service(traffic={**GATEWAY, "mirrorPercent": 50})
    assert without_hash(construct_mirror_service(isvc, "v1", "v2", 50)) == {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {
            "name": "iris-mirror",
            "namespace": "ml",
            "labels": {"lepton.ai/inferenceservice": "iris", "app.kubernetes.io/managed-by": "lepton"},
            "ownerReferences": [OWNER],
        },
        "spec": {
            "mirroring": {
                "kind": "Service",
                "name": "iris-v1",
                "port": 80,
                "mirrorBody": True,
                "mirrors": [{"kind": "Service", "name": "iris-v2", "port": 80, "percent": 50}],
            }
        },
    }
    changed = construct_mirror_service(isvc, "v1", "v2", 25)["metadata"]["annotations"]
    assert changed != construct_mirror_service(isvc, "v1", "v2", 50)["metadata"]["annotations"]
    assert len(mirror_service_name("s" * 70)) == 63
    # A version named "mirror" has a Service of the same name: another kind, read apart.
    route = construct_httproute(isvc, {"v1": 60, "mirror": 40})
    assert route_weights(route, "iris", ["v1", "mirror"], "v1") == {"v1": 60, "mirror": 40}
    assert not names_mirror_service(route, "iris")
