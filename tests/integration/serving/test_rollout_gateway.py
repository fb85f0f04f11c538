"""A canary rollout through Gateway API on the local cluster: Gateway API v1.4.0's standard CRDs are
installed (no Gateway implementation: the HTTPRoute object is what is asserted), and the route's
weights, the per-version Services and the Deployment sizes are checked at each step while a real
Prometheus gates the steps on a real `lepton-serve` of the new version."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gatewaykit import gateway, gateway_api, route, weights
from rolloutkit import Servers, canary, canary_service, load, reasons, replicas, rollout_operator, servers
from servekit import Serving, inference_service, model_version

from lepton.policies.mirror import PERCENTAGE_MIRROR, REQUEST_MIRROR
from support.kube import Kubectl
from support.operator import Operator
from support.prometheus import Prometheus
from support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAME = "iris"
TRAFFIC = {"gateway": {"name": "public", "sectionName": "http"}, "hostnames": ["iris.example.com"]}


@pytest.fixture(scope="module")
def gateway_crds(kubectl: Kubectl) -> Iterator[None]:
    with gateway_api(kubectl):
        yield


@pytest.fixture(scope="module")
def operator(
    kubeconfig: str,
    lepton_crds: list[str],
    gateway_crds: None,
    prometheus: Prometheus,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:
    with rollout_operator(kubeconfig, prometheus, tmp_path_factory.mktemp("operator") / "op.log") as op:
        yield op


@pytest.fixture
def versions(
    tmp_path_factory: pytest.TempPathFactory, prometheus: Prometheus, namespace: str
) -> Iterator[Servers]:
    yield from servers(tmp_path_factory.mktemp("artifacts"), prometheus, namespace, NAME)


def selectors(serving: Serving) -> dict[str, dict[str, str]]:
    """Service name -> selector, in the test's namespace."""
    return {
        s.metadata.name: s.spec.selector
        for s in serving.core.list_namespaced_service(serving.namespace).items
    }


def test_httproute_weights_follow_the_steps_then_promote(kube, kubectl, namespace, operator, versions):
    serving = Serving(kube, namespace)
    # A Gateway whose class says it implements the mirror filter with a percentage.
    gateway(kubectl, namespace, "lepton-mirrors", "example.net/mirrors", [REQUEST_MIRROR, PERCENTAGE_MIRROR])
    versions.start(("v1", True), ("v2", True))
    serving.ready_version("iris", "v1")
    serving.create(canary_service(NAME, traffic={**TRAFFIC, "mirrorPercent": 10}))
    first = wait_for(
        lambda: weights(found := route(kube, namespace, NAME)) == {"iris-v1": 100} and found,
        60,
        "the HTTPRoute sending everything to v1",
        seen=lambda: (route(kube, namespace, NAME), serving.status("inferenceservices", NAME)),
    )
    spec = first["spec"]
    assert spec["hostnames"] == ["iris.example.com"], spec
    assert spec["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "sectionName": "http"}
    ], spec
    assert first["metadata"]["ownerReferences"][0]["kind"] == "InferenceService", first
    # The route is applied before the status write of the same reconcile: wait for the condition.
    progressing = wait_for(
        lambda: serving.condition("inferenceservices", NAME, "RolloutProgressing"),
        15,
        "a RolloutProgressing condition",
        seen=lambda: serving.status("inferenceservices", NAME),
    )
    assert "not acted on" not in progressing["message"], progressing

    seen: list[tuple[dict[str, int], int | None, int | None]] = []

    def record() -> tuple[dict[str, int], int | None, int | None]:
        now = (
            weights(route(kube, namespace, NAME)),
            replicas(serving, NAME, "v1"),
            replicas(serving, NAME, "v2"),
        )
        if not seen or seen[-1] != now:
            seen.append(now)
        return now

    with load(versions.url("v2")) as sent:
        serving.create(model_version("iris", "v2"))
        wait_for(
            lambda: record() == ({"iris-v1": 75, "iris-v2": 25}, 4, 1),
            60,
            "step 1: 25 % to v2 on the route, v1 at full size, v2 at 1 replica",
            seen=lambda: (seen, canary(serving, NAME)),
        )
        step1 = route(kube, namespace, NAME)
        assert step1 is not None
        [rule] = step1["spec"]["rules"]
        mirror = rule["filters"][0]
        assert mirror["type"] == "RequestMirror", rule
        assert mirror["requestMirror"]["backendRef"]["name"] == "iris-v2", rule
        assert mirror["requestMirror"]["percent"] == 10, rule
        backends = {
            s.metadata.name: s.spec.selector for s in serving.core.list_namespaced_service(namespace).items
        }
        assert backends["iris-v2"] == {"lepton.ai/inferenceservice": NAME, "lepton.ai/version": "v2"}, (
            backends
        )
        assert backends[NAME]["lepton.ai/version"] == "v1", backends  # in-cluster clients stay on v1
        wait_for(
            lambda: record() == ({"iris-v1": 50, "iris-v2": 50}, 4, 2),
            60,
            "step 2: 50 % to v2, v2 at 2 replicas",
            seen=lambda: (seen, canary(serving, NAME)),
        )
        wait_for(
            lambda: (
                record() == ({"iris-v2": 100}, None, 4)
                and serving.status("inferenceservices", NAME).get("currentVersion") == "v2"
            ),
            90,
            "promoted: the route sends all to v2, v1 deleted",
            seen=lambda: (seen, canary(serving, NAME)),
        )
    assert set(sent.codes) == {200}, sent.codes
    # The stable version keeps its full size until the route has moved: a rollback is only a weight.
    assert all(v1 == 4 for _, v1, v2 in seen if v2 is not None and v2 < 4), seen
    assert "filters" not in route(kube, namespace, NAME)["spec"]["rules"][0]  # no mirror once promoted
    wait_for(
        lambda: (
            "iris-v1" not in {s.metadata.name for s in serving.core.list_namespaced_service(namespace).items}
        ),
        30,
        "the Service of v1 deleted",
    )
    selector = serving.core.read_namespaced_service(NAME, namespace).spec.selector
    assert selector["lepton.ai/version"] == "v2", selector
    status = serving.status("inferenceservices", NAME)
    assert status["traffic"] == [{"version": "v2", "weight": 100}], status
    assert reasons(serving, NAME).count("CanaryStep") == 2, serving.events(NAME)


RPS = 'sum(rate(lepton_serving_requests_total{namespace="{{namespace}}",service="{{service}}"}[10s]))'


def test_at_zero_replicas_the_route_leads_to_the_activator_and_back(
    kube, namespace, operator, versions, prometheus
):
    """A Gateway routes to its backends' endpoints itself: at zero replicas the version's Service has
    none, so the route must name the stable Service, which selects the activator then."""
    serving = Serving(kube, namespace)
    versions.start(("v1", True))
    serving.ready_version("iris", "v1")
    autoscaling = {
        "minReplicas": 0, "maxReplicas": 2, "metric": "custom", "query": RPS, "target": 2,
        "pollSeconds": 2, "prometheusUrl": prometheus.url, "scaleToZero": {"idleSeconds": 30},
    }  # fmt: skip
    serving.create(inference_service(NAME, "iris", replicas=1, autoscaling=autoscaling, traffic=TRAFFIC))
    status = lambda: (weights(route(kube, namespace, NAME)), serving.status("inferenceservices", NAME))  # noqa: E731
    wait_for(
        lambda: weights(route(kube, namespace, NAME)) == {"iris-v1": 100}, 60, "the route to v1", seen=status
    )
    wait_for(
        lambda: replicas(serving, NAME, "v1") == 0 and weights(route(kube, namespace, NAME)) == {NAME: 100},
        120,
        "zero replicas, the route to the stable Service (the activator)",
        seen=status,
    )
    assert selectors(serving)[NAME] == {
        "lepton.ai/inferenceservice": NAME,
        "app.kubernetes.io/component": "activator",
    }
    assert "iris-v1" in selectors(serving)  # kept: the route goes back to it
    body = {"namespace": namespace, "service": NAME, "pending": 1}
    response = httpx.post(f"http://127.0.0.1:{operator.activation_port}/activate", json=body, timeout=5)
    assert response.status_code == 202, response.text
    # KWOK makes the replica Ready: the route and the stable Service go back to the servers.
    wait_for(
        lambda: (
            weights(route(kube, namespace, NAME)) == {"iris-v1": 100}
            and selectors(serving)[NAME].get("lepton.ai/version") == "v1"
        ),
        60,
        "the route back to v1's Service once a replica is Ready",
        seen=status,
    )
