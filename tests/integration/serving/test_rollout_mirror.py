"""Shadow traffic as the operator decides it from the Gateway's class, against the real API server:
Gateway API's CRDs and Traefik's TraefikService CRD are installed, and each test's GatewayClass
carries the status.supportedFeatures an implementation would publish (none runs here; the
end-to-end module test_rollout_mirror_traefik.py sends real requests through Traefik). Real
`lepton-serve` processes and Prometheus gate the steps: the load a Gateway would mirror is sent to
the new version's server directly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gatewaykit import gateway, gateway_api, route, weights
from kubernetes import client
from rolloutkit import Servers, canary, load, reasons, rollout_operator, servers
from servekit import Serving, inference_service, model_version

from lepton.policies.mirror import TRAEFIK_CONTROLLER
from support.kube import Kubectl
from support.operator import Operator
from support.prometheus import Prometheus
from support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAME = "iris"
TRAFFIC = {"gateway": {"name": "public", "sectionName": "http"}, "mirrorPercent": 50}
# The shadow step outlasts the grace before the route names a TraefikService (5 s) by enough to see it.
SHADOW = [{"weight": 0, "pauseSeconds": 15}, {"weight": 50, "pauseSeconds": 5}]
ANALYSIS = {"intervalSeconds": 5, "minRequests": 5, "failureLimit": 2, "maxErrorRate": 0.05}
# What Traefik v3.6.12 publishes (its extended HTTPRoute features): no mirror among them.
TRAEFIK_FEATURES = ["HTTPRoute", "HTTPRouteHostRewrite", "HTTPRouteMethodMatching", "HTTPRoutePathRewrite"]


@pytest.fixture(scope="module")
def gateway_crds(kubectl: Kubectl) -> Iterator[None]:
    with gateway_api(kubectl, traefik_services=True):
        yield


@pytest.fixture(scope="module")
def operator(
    kubeconfig: str, lepton_crds: list[str], gateway_crds: None, prometheus: Prometheus,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:  # fmt: skip
    with rollout_operator(kubeconfig, prometheus, tmp_path_factory.mktemp("operator") / "op.log") as op:
        yield op


@pytest.fixture
def versions(
    tmp_path_factory: pytest.TempPathFactory, prometheus: Prometheus, namespace: str
) -> Iterator[Servers]:
    yield from servers(tmp_path_factory.mktemp("artifacts"), prometheus, namespace, NAME)


def shadow_service() -> dict[str, Any]:
    rollout = {"strategy": "Canary", "steps": SHADOW, "analysis": ANALYSIS}
    return inference_service(NAME, "iris", replicas=2, rollout=rollout, traffic=TRAFFIC)


def mirror_service(kube: client.ApiClient, namespace: str) -> dict[str, Any] | None:
    try:
        return dict(
            client.CustomObjectsApi(kube).get_namespaced_custom_object(
                "traefik.io", "v1alpha1", namespace, "traefikservices", f"{NAME}-mirror"
            )
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_traefik_mirrors_through_a_traefikservice_removed_after_promotion(kube, kubectl, namespace, operator,
                                                                          versions):  # fmt: skip
    serving = Serving(kube, namespace)
    gateway(kubectl, namespace, "lepton-traefik-like", TRAEFIK_CONTROLLER, TRAEFIK_FEATURES)
    versions.start(("v1", True), ("v2", True))
    serving.ready_version("iris", "v1")
    serving.create(shadow_service())
    wait_for(lambda: weights(route(kube, namespace, NAME)) == {"iris-v1": 100}, 60, "the route to v1")
    with load(versions.url("v2")):
        serving.create(model_version("iris", "v2"))
        found = wait_for(
            lambda: weights(r := route(kube, namespace, NAME)) == {"iris-mirror": 100} and r, 60,
            "the shadow step: the route all to the TraefikService",
            seen=lambda: (route(kube, namespace, NAME), canary(serving, NAME)),
        )  # fmt: skip
        [rule] = found["spec"]["rules"]
        assert rule["backendRefs"] == [
            {"group": "traefik.io", "kind": "TraefikService", "name": "iris-mirror", "weight": 100}
        ], rule
        assert "filters" not in rule, rule  # never the filter Traefik refuses
        service = mirror_service(kube, namespace)
        assert service is not None, "the route names a TraefikService that does not exist"
        assert service["spec"]["mirroring"] == {
            "kind": "Service", "name": "iris-v1", "port": 80, "mirrorBody": True,
            "mirrors": [{"kind": "Service", "name": "iris-v2", "port": 80, "percent": 50}],
        }, service  # fmt: skip
        assert service["metadata"]["ownerReferences"][0]["kind"] == "InferenceService", service
        wait_for(
            lambda: weights(route(kube, namespace, NAME)) == {"iris-mirror": 50, "iris-v2": 50}, 60,
            "the shadow step passed on v2's own requests: 50 % to v2, v1's share still mirrored",
            seen=lambda: canary(serving, NAME),
        )  # fmt: skip
        wait_for(
            lambda: serving.status("inferenceservices", NAME).get("currentVersion") == "v2", 90,
            "v2 promoted",
            seen=lambda: canary(serving, NAME),
        )  # fmt: skip
    assert weights(route(kube, namespace, NAME)) == {"iris-v2": 100}
    wait_for(lambda: mirror_service(kube, namespace) is None, 30, "the TraefikService deleted once unnamed")
    assert "MirrorUnsupported" not in reasons(serving, NAME)


def test_a_class_without_the_mirror_features_gets_no_mirror_and_the_shadow_step_holds(
    kube, kubectl, namespace, operator, versions
):
    serving = Serving(kube, namespace)
    gateway(kubectl, namespace, "lepton-no-mirror", "example.net/plain", ["HTTPRoute"])
    versions.start(("v1", True), ("v2", True))
    serving.ready_version("iris", "v1")
    serving.create(shadow_service())
    # No load: with nothing mirrored, no request would reach v2.
    serving.create(model_version("iris", "v2"))
    held = wait_for(
        lambda: (c := canary(serving, NAME)).get("phase") == "Holding" and c, 60, "the shadow step held",
        seen=lambda: canary(serving, NAME),
    )  # fmt: skip
    progressing = serving.wait_condition("inferenceservices", NAME, "RolloutProgressing", "False")
    assert held.get("reason") == "MirrorUnsupported", held
    assert (progressing["status"], progressing["reason"]) == ("False", "MirrorUnsupported"), progressing
    assert "GatewayClass lepton-no-mirror (controller example.net/plain)" in progressing["message"], (
        progressing
    )
    assert "HTTPRouteRequestMirror and HTTPRouteRequestPercentageMirror" in progressing["message"], (
        progressing
    )
    [rule] = route(kube, namespace, NAME)["spec"]["rules"]
    assert "filters" not in rule, rule
    assert weights(route(kube, namespace, NAME)) == {"iris-v1": 100}, rule
    assert mirror_service(kube, namespace) is None
    serving.wait_events(NAME, "MirrorUnsupported")
    # Promoted by hand past the shadow step, the weighted step goes on (unmirrored).
    client.CustomObjectsApi(kube).patch_namespaced_custom_object(
        "lepton.ai", "v1alpha1", namespace, "inferenceservices", NAME,
        {"metadata": {"annotations": {"lepton.ai/promote": "v2:0"}}},
        _content_type="application/merge-patch+json",
    )  # fmt: skip
    wait_for(
        lambda: weights(route(kube, namespace, NAME)) == {"iris-v1": 50, "iris-v2": 50}, 60,
        "the weighted step after the promotion by hand", seen=lambda: canary(serving, NAME),
    )  # fmt: skip
