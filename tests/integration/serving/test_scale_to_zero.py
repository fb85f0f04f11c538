"""To zero on evidence and back up at once, on the local cluster: the operator's side of a cold start.

A real Prometheus scrapes a real `lepton-serve` (the service's stand-in); after idleSeconds without a
request the Deployment goes to zero, an activator Deployment appears and the stable Service selects
it, while a backend Service keeps selecting the servers. An activation (what the activator sends on
the first held request) brings a replica at once, not at the next poll; once it is Ready the Service
selects the servers again and the activator goes. The activator process itself is tested with real
requests in tests/activator."""

from __future__ import annotations

import time

import httpx
import pytest
from servekit import Serving, inference_service

from support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAME = "sleepy"
RPS = 'sum(rate(lepton_serving_requests_total{namespace="{{namespace}}",service="{{service}}"}[10s]))'
POLL_SECONDS = 10


def test_idle_goes_to_zero_behind_the_activator_and_an_activation_wakes_it_at_once(
    kube, namespace, operator, prometheus, model_server
):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    prometheus.add_target(
        f"{namespace}-zero",
        model_server.url.removeprefix("http://"),
        {"namespace": namespace, "service": NAME},
    )
    autoscaling = {
        "minReplicas": 0,
        "maxReplicas": 2,
        "metric": "custom",
        "query": RPS,
        "target": 2,
        "pollSeconds": POLL_SECONDS,
        "prometheusUrl": prometheus.url,
        "scaleToZero": {"idleSeconds": 30},
    }
    serving.create(inference_service(NAME, "iris", replicas=1, autoscaling=autoscaling))
    status = lambda: serving.status("inferenceservices", NAME)  # noqa: E731

    def deployment(name: str) -> int | None:
        found = [
            d for d in serving.apps.list_namespaced_deployment(namespace).items if d.metadata.name == name
        ]
        return int(found[0].spec.replicas) if found else None

    # No request for idleSeconds, measured as exactly 0 (the server exports its series at zero).
    wait_for(lambda: deployment(f"{NAME}-v1") == 0, 120, "the idle service at zero replicas", seen=status)
    wait_for(lambda: status().get("phase") == "ScaledToZero", 30, "phase ScaledToZero", seen=status)
    wait_for(lambda: deployment(f"{NAME}-activator") == 1, 30, "the activator Deployment", seen=status)
    stable = serving.core.read_namespaced_service(NAME, namespace)
    assert stable.spec.selector == {
        "lepton.ai/inferenceservice": NAME,
        "app.kubernetes.io/component": "activator",
    }
    backend = serving.core.read_namespaced_service(f"{NAME}-backend", namespace)
    assert backend.spec.selector == {"lepton.ai/inferenceservice": NAME, "lepton.ai/version": "v1"}
    serving.wait_events(NAME, "ActivatorRouted")

    # The activator's call: a replica is asked for at once, well before the next poll.
    asked = time.monotonic()
    body = {"namespace": namespace, "service": NAME, "pending": 3}
    response = httpx.post(f"http://127.0.0.1:{operator.activation_port}/activate", json=body, timeout=5)
    assert response.status_code == 202, response.text
    wait_for(lambda: (deployment(f"{NAME}-v1") or 0) >= 1, POLL_SECONDS, "a replica asked for", seen=status)
    woken = time.monotonic() - asked
    assert woken < POLL_SECONDS / 2, f"the activation took {woken:.1f} s: it waited for a poll"
    print(f"activation -> replicas written: {woken:.2f} s")

    # KWOK makes the replica Ready: the Service selects the servers again and the activator goes.
    wait_for(lambda: status().get("phase") == "Ready", 60, "Ready after the cold start", seen=status)
    wait_for(lambda: deployment(f"{NAME}-activator") is None, 60, "the activator removed", seen=status)
    stable = serving.core.read_namespaced_service(NAME, namespace)
    assert stable.spec.selector == {"lepton.ai/inferenceservice": NAME, "lepton.ai/version": "v1"}
    serving.wait_events(NAME, "Activated")


def test_an_activation_for_an_unknown_service_is_accepted_and_harmless(operator):
    body = {"namespace": "nowhere", "service": "nothing", "pending": 1}
    response = httpx.post(f"http://127.0.0.1:{operator.activation_port}/activate", json=body, timeout=5)
    assert response.status_code == 202
    bad = httpx.post(f"http://127.0.0.1:{operator.activation_port}/activate", content=b"{", timeout=5)
    assert bad.status_code == 400
    assert "expected JSON" in bad.json()["error"]
