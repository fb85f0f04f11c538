"""Canary rollouts through a real Gateway on the real node: Traefik v3.6.12 (its Gateway API provider,
on the host, e2e/gatewayapi.py) routes by the HTTPRoute the operator writes, straight to the
model-server pods' IPs, while the real Prometheus scrapes those pods and gates each step.

One InferenceService for the module, its versions in order: v1 serves; v2 (good) is promoted under
steady load with no failed request, then idles to zero, where the route leads to the activator,
which holds the first request through the cold start; v3 (bad: every answer a 500) is rolled back
within one interval plus 5 s of its first failing request, and the stable version's requests never
fail; v4 (good) gets no traffic and is never promoted. Timings are printed (-s) for the README's figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from traefikkit import MODEL, GatewayLoad, inference_service
from traefikrun import (
    GATEWAY,
    accepted,
    canary,
    custom,
    host_operator,
    lisvc,
    route,
    serve_first,
    set_version,
    start_traefik,
)
from traefikrun import backends as weights

import gatewayapi as gateway
from localcluster.config import Config
from support.kube import Kubectl, fresh_namespace
from support.operator import Operator
from support.wait import wait_for

# The first test also pays for the fixtures: Traefik's build when it is not cached (make test-e2e
# starts it in the background before the images; 12-28 min cold), the server image's import, the
# verification of four versions and the first model server's start on the real node.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

HOST = "iris.rollout.test"
INTERVAL = 5
PAUSE = 5
STEPS = [{"weight": 25, "pauseSeconds": PAUSE}, {"weight": 50, "pauseSeconds": PAUSE}]
# failureLimit 1: the first failed check rolls back, so "one interval plus 5 s" is the bound from the
# first failing request (Argo Rollouts would need failureLimit + 1 failed checks, Flagger threshold).
ANALYSIS = {"intervalSeconds": INTERVAL, "failureLimit": 1, "minRequests": 5, "maxErrorRate": 0.05}
RATE = 20  # requests/s through the Gateway
VERSIONS = {"v1": True, "v2": True, "v3": False, "v4": True}


@pytest.fixture(scope="module")
def ns(kube: client.ApiClient) -> Iterator[str]:
    with fresh_namespace(kube, "rollout-traefik", "e2e") as name:
        yield name


@pytest.fixture(scope="module")
def traefik(e2e_cluster: Config, kubectl: Kubectl, kube: client.ApiClient, ns: str) -> Iterator[str]:
    """Traefik on the host and a Gateway in the module's namespace; its listener's URL."""
    yield start_traefik(e2e_cluster, kubectl, kube, ns)
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
    e2e_cluster: Config, kube: client.ApiClient, kubectl: Kubectl, ns: str, server_image: None,
    traefik: str, operator: Operator,
) -> str:  # fmt: skip
    """v1 served through the Gateway, every version's ModelVersion verified; the Gateway's URL."""
    body = inference_service(
        "v1", {"name": GATEWAY, "sectionName": "http"}, HOST, {"steps": STEPS, "analysis": ANALYSIS}
    )
    serve_first(e2e_cluster, kube, kubectl, ns, traefik, VERSIONS, body)
    return traefik


def test_good_version_promoted_through_every_step_with_no_failed_request(kube, ns, serving) -> None:
    seen: list[dict[str, int]] = []

    def record() -> dict[str, int]:
        now = weights(kube, ns)
        if not seen or seen[-1] != now:
            seen.append(now)
        return now

    with GatewayLoad(serving, HOST, RATE) as load:
        set_version(kube, ns, "v2")
        patched = time.monotonic()
        first_v2 = wait_for(
            lambda: next((a.at for a in load.answers if a.version == "v2"), None), 180,
            "a first answer from v2 through Traefik", seen=lambda: (seen, canary(kube, ns)),
        )  # fmt: skip
        wait_for(
            lambda: record() == {"v2": 100} and lisvc(kube, ns)["status"].get("currentVersion") == "v2",
            120, "v2 promoted: the route all to v2", seen=lambda: (seen, canary(kube, ns)),
        )  # fmt: skip
        promoted = time.monotonic()
        # Through v1's removal: its pods drain while Traefik drops them from its configuration.
        wait_for(lambda: not kube_deployment(kube, ns, "v1"), 60, "v1's Deployment deleted")
        count = len(load.answers)
        wait_for(lambda: len(load.answers) >= count + 3 * RATE, 30, "3 s more of answers after v1 left")
    assert {"v1": 75, "v2": 25} in seen, seen
    assert {"v1": 50, "v2": 50} in seen, seen
    failures = load.failures()
    assert not failures, (
        f"{len(failures)} of {len(load.answers)} requests failed during promotion: {failures[:3]}"
    )
    versions = load.versions()
    assert versions.get("v1"), versions
    assert versions.get("v2"), versions
    print(
        f"\npromotion: patch -> first v2 answer {first_v2 - patched:.1f}s (pod start), first v2 answer -> "
        f"promoted {promoted - first_v2:.1f}s against {len(STEPS) * PAUSE}s of pauses; "
        f"{len(load.answers)} requests, 0 failed; route weights seen {seen}"
    )


def kube_deployment(kube: client.ApiClient, ns: str, version: str) -> bool:
    names = {d.metadata.name for d in client.AppsV1Api(kube).list_namespaced_deployment(ns).items}
    return f"{MODEL}-{version}" in names


def patch_spec(kube: client.ApiClient, ns: str, spec: dict[str, Any]) -> None:
    custom(kube).patch_namespaced_custom_object(
        "lepton.ai", "v1alpha1", ns, "inferenceservices", MODEL, {"spec": spec},
        _content_type="application/merge-patch+json",
    )  # fmt: skip


def test_at_zero_replicas_the_gateway_sends_requests_to_the_activator(kube, ns, serving) -> None:
    """Idle, v2 goes to zero and the route to the stable Service, which selects the activator: the
    first request through Traefik is held there and answered once a replica is up (before the route
    followed, Traefik answered 503: the version's Service had no endpoint)."""
    autoscaling = {
        "minReplicas": 0, "maxReplicas": 1, "metric": "rps", "target": 2, "pollSeconds": 2,
        "scaleToZero": {"idleSeconds": 30}, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 10}},
    }  # fmt: skip
    patch_spec(kube, ns, {"autoscaling": autoscaling})
    apps = client.AppsV1Api(kube)
    replicas = lambda: apps.read_namespaced_deployment(f"{MODEL}-v2", ns).spec.replicas  # noqa: E731
    wait_for(
        lambda: replicas() == 0 and weights(kube, ns) == {MODEL: 100} and accepted(route(kube, ns)),
        240, "zero replicas, the route to the stable Service (the activator), accepted",
        seen=lambda: (replicas(), weights(kube, ns), lisvc(kube, ns)["status"].get("phase")),
    )  # fmt: skip
    sent = time.monotonic()
    # The first request waits in the activator through the cold start (pod start, model load).
    with GatewayLoad(serving, HOST, per_second=2, timeout=150) as load:
        first = wait_for(lambda: load.answers[:1], 180, "the first answer after zero")[0]
        cold = first.at - sent
        wait_for(
            lambda: not kube_deployment(kube, ns, "activator") and replicas() == 1, 120,
            "the activator gone, one replica", seen=lambda: load.answers[-3:],
        )  # fmt: skip
        count = len(load.answers)
        wait_for(lambda: len(load.answers) >= count + 10, 30, "10 more answers after the activator left")
    assert first.code == 200, first
    failures = load.failures()
    assert not failures, f"{len(failures)} of {len(load.answers)} failed around zero: {failures[:3]}"
    assert weights(kube, ns) == {"v2": 100}
    print(
        f"\nat zero: the first request through Traefik answered 200 after {cold:.1f}s "
        "(held by the activator through the cold start)"
    )
    patch_spec(kube, ns, {"autoscaling": None})
    wait_for(lambda: lisvc(kube, ns)["status"].get("phase") == "Ready", 60, "Ready without autoscaling")


def test_bad_version_rolled_back_within_one_interval_and_stable_never_fails(kube, ns, serving) -> None:
    carried: list[float] = []  # when the route was seen giving v3 weight
    dropped: list[float] = []  # when it was first seen without v3 again

    def watch() -> bool:
        now = weights(kube, ns)
        if now.get("v3", 0) > 0:
            carried.append(time.monotonic())
        elif carried and not dropped:
            dropped.append(time.monotonic())
        return bool(dropped)

    with GatewayLoad(serving, HOST, RATE) as load:
        set_version(kube, ns, "v3")
        wait_for(watch, 240, "v3 given weight, then none", interval=0.1, seen=lambda: canary(kube, ns))
        status = wait_for(
            lambda: (c := canary(kube, ns)).get("phase") == "RolledBack" and c, 30, "status RolledBack",
        )  # fmt: skip
        count = len(load.answers)
        wait_for(lambda: len(load.answers) >= count + 5 * RATE, 30, "5 s more of answers after the rollback")
    failures = load.failures()
    stable = [a for a in failures if not a.from_model]
    assert not stable, f"{len(stable)} requests failed other than v3's own 500s: {stable[:3]}"
    assert failures, f"v3 never answered through Traefik: {load.versions()}"
    first, last = failures[0].at, failures[-1].at
    to_weight_zero = dropped[0] - first
    print(
        f"\nrollback: first failing request -> route weight 0 {to_weight_zero:.1f}s, -> last failing "
        f"request through Traefik {last - first:.1f}s; {len(failures)} of {len(load.answers)} requests "
        f"failed (all v3's 500s; {len(failures) / RATE:.1f} s of the full rate); "
        f"analysis {status.get('analysis')}"
    )
    assert to_weight_zero <= INTERVAL + 5, (to_weight_zero, status)
    assert last - first <= INTERVAL + 5, f"v3 kept answering {last - first:.1f}s after its first failure"
    assert status.get("reason") == "AnalysisFailed", status
    failed = [f["version"] for f in lisvc(kube, ns)["status"].get("failedVersions") or []]
    assert "v3" in failed, failed
    assert weights(kube, ns) == {"v2": 100}


def test_canary_without_traffic_is_never_promoted(kube, ns, serving) -> None:
    set_version(kube, ns, "v4")
    # Past the sum of the pauses and two more intervals, every check Inconclusive (no requests).
    status = wait_for(
        lambda: (c := canary(kube, ns)).get("version") == "v4" and c.get("inconclusiveChecks", 0) >= 4 and c,
        180, "4 inconclusive checks of v4", seen=lambda: canary(kube, ns),
    )  # fmt: skip
    assert status.get("passedChecks", 0) == 0, status
    assert status.get("step") == 0, status
    assert status.get("weight") == 25, status
    assert weights(kube, ns) == {"v2": 75, "v4": 25}, status
    assert lisvc(kube, ns)["status"].get("currentVersion") == "v2"
    assert (status.get("analysis") or {}).get("result") == "Inconclusive", status
