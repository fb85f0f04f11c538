"""ModelVersions and InferenceServices driven through every phase the Argo CD testdata cover, each
recorded or checked against the committed testdata (argokit). Verification pods are KWOK pods
steered by the sim.lepton.ai hooks (servekit.model_version); replicas become Ready at once unless
no node can take them, which is how these scenarios hold a service short of replicas."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from argokit import Watched, condition

from integration.serving.servekit import DIGEST, Serving, inference_service, model_version
from support.wait import wait_for

pytestmark = pytest.mark.integration

MV, ISVC = "ModelVersion", "InferenceService"
MODEL, NAME = "classifier", "classifier"
NOWHERE = {"lepton.ai/test": "nowhere"}  # no node has this label: new pods stay Pending
# What `lepton-serve --verify` reports on an artifact that is not the one spec.source.digest names.
FAILURE = json.dumps(
    {
        "verified": False,
        "reason": f"digest mismatch: expected {DIGEST}, the artifact has sha256:{'cd' * 32}",
    }
)
VERIFIED = json.dumps({"verified": True, "digest": DIGEST, "format": "torch-export", "sizeBytes": 52428})


def service(replicas: int = 2, version: str = "latest", **server: Any) -> dict[str, Any]:
    body = inference_service(NAME, MODEL, version, replicas=replicas)
    body["spec"]["server"].update(server)
    return body


@pytest.fixture
def serving(kube, namespace, operator) -> Serving:
    return Serving(kube, namespace)


@pytest.mark.parametrize(
    ("case", "outcome", "phase", "how"),
    [
        (
            "verifying",
            {"exit_code": 0, "after": "600s", "message": VERIFIED},
            "Verifying",
            "its verification pod runs",
        ),
        ("ready", {}, "Ready", "its verification pod exits 0"),
        (
            "failed",
            {"exit_code": 1, "message": FAILURE},
            "Failed",
            "its verification pod reports a digest mismatch",
        ),
    ],
)
def test_model_version(serving, kube, namespace, recorder, case, outcome, phase, how):
    watched = Watched(kube, namespace, MV, f"{MODEL}-v1")
    serving.create(model_version(MODEL, "v1", **outcome))
    if phase == "Verifying":  # once the pod runs: before, the message says it waits for scheduling
        body = watched.until(
            lambda b: condition(b, "Verified").get("message", "").startswith("verifying:"),
            "Verifying with the verification pod running",
        )
    else:
        body = watched.phase(phase)
    recorder.capture(MV, case, body, how)


def test_inference_service_pending_without_a_model_version(serving, kube, namespace, recorder):
    watched = Watched(kube, namespace, ISVC, NAME)
    serving.create(service())
    recorder.capture(ISVC, "pending", watched.phase("Pending"), "no ModelVersion of its model exists")


def test_inference_service_failed_on_a_failed_version(serving, kube, namespace, recorder):
    serving.create(model_version(MODEL, "v1", exit_code=1, message=FAILURE))
    serving.wait_phase("modelversions", f"{MODEL}-v1", "Failed")
    watched = Watched(kube, namespace, ISVC, NAME)
    serving.create(service(version="v1"))
    recorder.capture(ISVC, "failed", watched.phase("Failed"), "pinned to v1, whose verification failed")


def test_inference_service_deploying_then_ready(serving, kube, namespace, recorder):
    serving.ready_version(MODEL, "v1")
    watched = Watched(kube, namespace, ISVC, NAME)
    serving.create(service())
    recorder.capture(ISVC, "deploying", watched.phase("Deploying"), "2 replicas of v1, none ready yet")
    ready = watched.until(
        lambda b: (b.get("status") or {}).get("readyReplicas") == 2 and b["status"]["phase"] == "Ready",
        "Ready with 2 ready replicas",
    )
    recorder.capture(ISVC, "ready", ready, "2 replicas of v1, both ready")


def test_inference_service_degraded_when_a_replica_finds_no_room(serving, kube, namespace, recorder):
    # Each replica takes 14 of lepton-cpu-0's 32 CPUs: two fit, a third does not.
    serving.ready_version(MODEL, "v1")
    watched = Watched(kube, namespace, ISVC, NAME)
    room = {"kubernetes.io/hostname": "lepton-cpu-0"}
    serving.create(service(nodeSelector=room, resources={"requests": {"cpu": "14"}}))
    watched.until(lambda b: (b.get("status") or {}).get("readyReplicas") == 2, "2 ready replicas")
    serving.patch_spec("inferenceservices", NAME, {"replicas": 3})
    how = "ready with 2 replicas on one node, then scaled to 3 where the node has room for 2"
    recorder.capture(ISVC, "degraded", watched.phase("Degraded"), how)


def test_inference_service_rolling_out_a_new_version(serving, kube, namespace, recorder):
    serving.ready_version(MODEL, "v1")
    watched = Watched(kube, namespace, ISVC, NAME)
    serving.create(service())
    watched.until(lambda b: (b.get("status") or {}).get("readyReplicas") == 2, "2 ready replicas")
    # Surge-only updates keep v1's pods serving while v2's cannot be placed.
    serving.patch_spec("inferenceservices", NAME, {"server": {"nodeSelector": NOWHERE}})
    serving.create(model_version(MODEL, "v2"))
    how = "serving v1, when v2 becomes Ready and its replicas find no node"
    recorder.capture(ISVC, "rolling-out", watched.phase("RollingOut"), how)


@pytest.mark.slow
def test_inference_service_scaled_to_zero_then_activating(
    serving, kube, namespace, operator, prometheus, model_server, recorder
):
    """As tests/integration/serving/test_scale_to_zero.py: a real lepton-serve, scraped by a real
    Prometheus, stands in for the replicas and answers no request."""
    serving.ready_version(MODEL, "v1")
    prometheus.add_target(
        f"{namespace}-zero",
        model_server.url.removeprefix("http://"),
        {"namespace": namespace, "service": NAME},
    )
    query = f'sum(rate(lepton_serving_requests_total{{namespace="{namespace}",service="{NAME}"}}[10s]))'
    autoscaling = {
        "minReplicas": 0,
        "maxReplicas": 2,
        "metric": "custom",
        "query": query,
        "target": 2,
        "pollSeconds": 10,
        "prometheusUrl": prometheus.url,
        "scaleToZero": {"idleSeconds": 30},
    }
    watched = Watched(kube, namespace, ISVC, NAME)
    body = service(replicas=1)
    body["spec"]["autoscaling"] = autoscaling
    serving.create(body)
    aliases = {prometheus.url: "http://prometheus.monitoring.svc:9090"}

    def routed() -> bool:
        selector = serving.core.read_namespaced_service(NAME, namespace).spec.selector
        return selector.get("app.kubernetes.io/component") == "activator"

    watched.phase("ScaledToZero", timeout=150)
    # Once the stable Service sends requests to the activator (the servers are gone then).
    wait_for(
        routed, 60, "the Service on the activator", seen=lambda: serving.status("inferenceservices", NAME)
    )
    zero = serving.get("inferenceservices", NAME)
    how = "autoscaled with scaleToZero.idleSeconds 30, after 30 s without a request"
    recorder.capture(ISVC, "scaled-to-zero", zero, how, aliases)

    activation = {"namespace": namespace, "service": NAME, "pending": 1}
    response = httpx.post(f"http://127.0.0.1:{operator.activation_port}/activate", json=activation, timeout=5)
    assert response.status_code == 202, response.text
    how = "scaled to zero, when the activator reports a held request"
    recorder.capture(ISVC, "activating", watched.phase("Activating"), how, aliases)
