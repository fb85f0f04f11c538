"""Shadow traffic through a real Gateway on the real node: Traefik v3.6.12 has no RequestMirror in its
Gateway provider, so the operator mirrors through a TraefikService (Traefik's kubernetesCRD provider
on, its CRDs installed from the Traefik source the build compiled) that the HTTPRoute names as the
stable version's backend. Real HTTP through Traefik, the real Prometheus gating the steps.

One InferenceService, a shadow step (weight 0, mirrorPercent 50) then a weighted step: v1 serves;
v2 (bad: every answer a 500) sees only mirrored requests and is rolled back on them alone while
every client answer is v1's; v3 (good) gets half of the requests mirrored (its own request counter
against v1's), passes the shadow step's analysis and goes on to the weighted step and promotion.
Timings are printed (-s) for the README's figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families
from traefikkit import MODEL, GatewayLoad, inference_service
from traefikrun import (
    GATEWAY,
    accepted,
    backends,
    canary,
    host_operator,
    lisvc,
    route,
    serve_first,
    set_version,
    start_traefik,
)

import gatewayapi as gateway
from localcluster.config import Config
from support.kube import Kubectl, fresh_namespace
from support.operator import Operator
from support.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

HOST = "iris.mirror.test"
INTERVAL = 5
MIRROR = 50
# The shadow step lasts long enough to sample both versions' counters inside it.
STEPS = [{"weight": 0, "pauseSeconds": 15}, {"weight": 50, "pauseSeconds": 5}]
# failureLimit 1: the first failed check of the mirrored requests rolls back.
ANALYSIS = {"intervalSeconds": INTERVAL, "failureLimit": 1, "minRequests": 5, "maxErrorRate": 0.05}
RATE = 20  # requests/s through the Gateway
VERSIONS = {"v1": True, "v2": False, "v3": True}
SERVER_PORT = 8080
MIRROR_NAME = "mirror"  # the TraefikService `iris-mirror`, as traefikrun.backends names it


@pytest.fixture(scope="module")
def ns(kube: client.ApiClient) -> Iterator[str]:
    with fresh_namespace(kube, "rollout-mirror", "e2e") as name:
        yield name


@pytest.fixture(scope="module")
def traefik(e2e_cluster: Config, kubectl: Kubectl, kube: client.ApiClient, ns: str) -> Iterator[str]:
    """Traefik with its Gateway and Kubernetes CRD providers; its listener's URL."""
    yield start_traefik(e2e_cluster, kubectl, kube, ns, crd_provider=True)
    gateway.down(e2e_cluster)


@pytest.fixture(scope="module")
def operator(
    e2e_cluster: Config,
    kubectl: Kubectl,
    no_local_operator: None,
    tmp_path_factory: pytest.TempPathFactory,
    traefik: str,
) -> Iterator[Operator]:
    with host_operator(e2e_cluster, kubectl, tmp_path_factory.mktemp("operator") / "operator.log") as op:
        yield op


@pytest.fixture(scope="module")
def serving(
    e2e_cluster: Config,
    kube: client.ApiClient,
    kubectl: Kubectl,
    ns: str,
    traefik: str,
    operator: Operator,
    server_image: None,
) -> str:
    rollout = {"steps": STEPS, "analysis": ANALYSIS}
    body = inference_service("v1", {"name": GATEWAY, "sectionName": "http"}, HOST, rollout, MIRROR)
    serve_first(e2e_cluster, kube, kubectl, ns, traefik, VERSIONS, body)
    return traefik


def pod_ip(kube: client.ApiClient, ns: str, version: str) -> str | None:
    """The Ready model server of ``version`` (one replica), by its IP on the node's bridge."""
    selector = f"lepton.ai/inferenceservice={MODEL},lepton.ai/version={version}"
    for pod in client.CoreV1Api(kube).list_namespaced_pod(ns, label_selector=selector).items:
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if ready and pod.metadata.deletion_timestamp is None and pod.status.pod_ip:
            return str(pod.status.pod_ip)
    return None


def answered(ip: str, code: str | None = None) -> float:
    """The server's own count of inference requests it answered (lepton_serving_requests_total)."""
    text = httpx.get(f"http://{ip}:{SERVER_PORT}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "lepton_serving_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and (code is None or sample.labels.get("code") == code)
    )


def mirror_service(kube: client.ApiClient, ns: str) -> dict[str, Any] | None:
    try:
        return dict(
            client.CustomObjectsApi(kube).get_namespaced_custom_object(
                "traefik.io", "v1alpha1", ns, "traefikservices", f"{MODEL}-mirror"
            )
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def mirroring(kube: client.ApiClient, ns: str, version: str) -> str:
    """Wait for the shadow step: the route all to the TraefikService, accepted by Traefik, which
    mirrors to ``version``'s Ready replica; that replica's IP."""
    wait_for(
        lambda: backends(kube, ns) == {MIRROR_NAME: 100} and accepted(route(kube, ns)), 240,
        f"the route to the TraefikService mirroring to {version}, accepted by Traefik",
        seen=lambda: (backends(kube, ns), route(kube, ns).get("status"), canary(kube, ns)),
    )  # fmt: skip
    found = mirror_service(kube, ns)
    assert found is not None
    [mirror] = found["spec"]["mirroring"]["mirrors"]
    assert (found["spec"]["mirroring"]["name"], mirror["name"], mirror["percent"]) == (
        f"{MODEL}-v1", f"{MODEL}-{version}", MIRROR,
    ), found  # fmt: skip
    return wait_for(lambda: pod_ip(kube, ns, version), 60, f"{version}'s Ready pod")


def test_bad_candidate_rolled_back_on_mirrored_requests_alone(kube, ns, serving) -> None:
    first_failure: list[float] = []  # when v2's own counter first showed a 500
    removed: list[float] = []  # when the route was first seen without the TraefikService

    with GatewayLoad(serving, HOST, RATE) as load:
        set_version(kube, ns, "v2")
        ip = mirroring(kube, ns, "v2")

        def watch() -> bool:
            if not first_failure and answered(ip, "500") > 0:
                first_failure.append(time.monotonic())
            if first_failure and not removed and MIRROR_NAME not in backends(kube, ns):
                removed.append(time.monotonic())
            return bool(removed)

        wait_for(watch, 120, "v2 failing mirrored requests, then the mirror removed", interval=0.1,
                 seen=lambda: (answered(ip), backends(kube, ns), canary(kube, ns)))  # fmt: skip
        status = wait_for(
            lambda: (c := canary(kube, ns)).get("phase") == "RolledBack" and c, 30, "status RolledBack",
        )  # fmt: skip
        mirrored_500s = answered(ip, "500")
        count = len(load.answers)
        wait_for(lambda: len(load.answers) >= count + 3 * RATE, 30, "3 s more of answers after the rollback")
    failures = load.failures()
    assert not failures, f"{len(failures)} of {len(load.answers)} client requests failed: {failures[:3]}"
    assert load.versions() == {"v1": len(load.answers)}, load.versions()
    assert status.get("reason") == "AnalysisFailed", status
    assert backends(kube, ns) == {"v1": 100}
    wait_for(lambda: mirror_service(kube, ns) is None, 30, "the TraefikService deleted after the rollback")
    to_removal = removed[0] - first_failure[0]
    print(
        f"\nshadow rollback: first mirrored failing request -> mirror removed from the route "
        f"{to_removal:.1f}s; v2 answered {mirrored_500s:.0f} mirrored requests (all 500); "
        f"{len(load.answers)} client requests, 0 failed, all from v1; analysis {status.get('analysis')}"
    )
    assert to_removal <= INTERVAL + 5, (to_removal, status)


def test_good_candidate_passes_the_shadow_step_then_the_weighted_steps(kube, ns, serving) -> None:
    with GatewayLoad(serving, HOST, RATE) as load:
        set_version(kube, ns, "v3")
        ip3 = mirroring(kube, ns, "v3")
        ip1 = pod_ip(kube, ns, "v1")
        assert ip1 is not None
        before = (answered(ip1), answered(ip3))
        count = len(load.answers)
        wait_for(lambda: len(load.answers) >= count + 5 * RATE, 30, "5 s of requests in the shadow step")
        after = (answered(ip1), answered(ip3))
        still_shadow = backends(kube, ns) == {MIRROR_NAME: 100}
        # The last moment the route is known to have been the shadow step's: a read that began then
        # still found it so, and Traefik routes by what the API server held, never ahead of it. A
        # request answered before then was routed by the shadow step; one answered after the read
        # that found v3 weighted may have been routed by the next step already.
        shadow_seen = [time.monotonic()]

        def passed() -> bool:
            asked = time.monotonic()
            found = backends(kube, ns)
            if found == {MIRROR_NAME: 100}:
                shadow_seen[0] = asked
            return "v3" in found

        wait_for(passed, 120, "the shadow step passed: v3 given weight", seen=lambda: canary(kube, ns))
        shadow_end = shadow_seen[0]
        weighted = backends(kube, ns)
        promoted = lambda: lisvc(kube, ns)["status"].get("currentVersion") == "v3"  # noqa: E731
        wait_for(lambda: backends(kube, ns) == {"v3": 100} and promoted(), 120, "v3 promoted: all to v3",
                 seen=lambda: canary(kube, ns))  # fmt: skip
        count = len(load.answers)
        wait_for(lambda: len(load.answers) >= count + 2 * RATE, 30, "2 s more of answers after promotion")
    assert still_shadow, "the shadow step ended inside the sample: lengthen its pause"
    stable, mirrored = after[0] - before[0], after[1] - before[1]
    share = mirrored / stable
    assert 0.4 <= share <= 0.6, f"v3 answered {mirrored:.0f} mirrored requests for v1's {stable:.0f}"
    shadowed = [a for a in load.answers if a.at < shadow_end]
    assert {a.version for a in shadowed} == {"v1"}, "a client got an answer from v3 in the shadow step"
    failures = load.failures()
    assert not failures, f"{len(failures)} of {len(load.answers)} client requests failed: {failures[:3]}"
    assert weighted == {MIRROR_NAME: 50, "v3": 50}, weighted  # the weighted step keeps mirroring v1's share
    assert load.versions().get("v3"), load.versions()
    wait_for(lambda: mirror_service(kube, ns) is None, 30, "the TraefikService deleted after the promotion")
    print(
        f"\nshadow pass: v3 answered {mirrored:.0f} mirrored requests while v1 answered {stable:.0f} "
        f"({share:.2f}, mirrorPercent {MIRROR}); {len(load.answers)} client requests, 0 failed"
    )
