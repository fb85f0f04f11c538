"""The autoscaler on the local cluster, against a real Prometheus scraping a real `lepton-serve`.

The service's replicas are KWOK pods (no process behind them), so the test starts one real model
server as the traffic's stand-in and registers it with a Prometheus of its own through file-based
discovery, labelled as the pod scrape job labels a service's pods (namespace, service). Load on it
raises the Deployment's replicas; silence lowers them after the window; Prometheus stopped holds
them, sets MetricsAvailable=False, and they recover when Prometheus answers again.
"""

from __future__ import annotations

import time

import pytest
from servekit import INPUT, Serving, inference_service

from support.servers import Load
from support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAME = "auto"
# Requests per second per replica over a 10 s window: short, so the test sees scaling in seconds.
RPS = 'sum(rate(lepton_serving_requests_total{namespace="{{namespace}}",service="{{service}}"}[10s]))'


def replicas(serving: Serving) -> int:
    deployment = serving.apps.read_namespaced_deployment(f"{NAME}-v1", serving.namespace)
    return int(deployment.spec.replicas)


def test_load_scales_up_silence_scales_down_and_an_outage_holds(
    kube, namespace, operator, prometheus, model_server
):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    host, port = model_server.url.removeprefix("http://").split(":")
    prometheus.add_target(namespace, f"{host}:{port}", {"namespace": namespace, "service": NAME})
    autoscaling = {
        "minReplicas": 1,
        "maxReplicas": 4,
        "metric": "custom",
        "query": RPS,
        "target": 2,
        "pollSeconds": 1,
        "failureThreshold": 2,
        "prometheusUrl": prometheus.url,
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 5}},
    }
    serving.create(inference_service(NAME, "iris", replicas=1, autoscaling=autoscaling))
    status = lambda: serving.status("inferenceservices", NAME)  # noqa: E731
    wait_for(
        lambda: serving.condition("inferenceservices", NAME, "MetricsAvailable").get("status") == "True",
        timeout=60,
        what="MetricsAvailable=True once Prometheus has scraped the server",
        seen=status,
    )
    assert replicas(serving) == 1

    # 10 requests/s against a target of 2 per replica: ceil(10 / 2) = 5, capped at maxReplicas 4.
    with Load(model_server.url, INPUT, per_second=10) as load:
        wait_for(
            lambda: replicas(serving) == 4, 60, "the Deployment at maxReplicas 4 under load", seen=status
        )
    assert load.failures == 0
    autoscaler = status()["autoscaler"]
    assert (autoscaler["desiredReplicas"], autoscaler["metric"], autoscaler["target"]) == (4, "custom", 2)
    assert autoscaler["lastScaleTime"]
    serving.wait_events(NAME, "ScaledUp")
    scaled_up = [m for _, reason, m in serving.events(NAME) if reason == "ScaledUp"]
    assert "target 2" in scaled_up[0], scaled_up  # the event carries the decision's inputs

    # Silence: the 10 s rate falls to 0 and, after the 5 s scale-down window, replicas go to minReplicas.
    wait_for(lambda: replicas(serving) == 1, 90, "the Deployment back at minReplicas 1", seen=status)
    serving.wait_events(NAME, "ScaledDown")

    # Load again, then Prometheus goes away: replicas are held (never lowered), the condition says why.
    with Load(model_server.url, INPUT, per_second=10):
        wait_for(lambda: replicas(serving) >= 3, 60, "scaled up again under load", seen=status)
        held = replicas(serving)
        prometheus.stop()
        wait_for(
            lambda: serving.condition("inferenceservices", NAME, "MetricsAvailable").get("status") == "False",
            timeout=30,
            what="MetricsAvailable=False while Prometheus is down",
            seen=status,
        )
    condition = serving.condition("inferenceservices", NAME, "MetricsAvailable")
    assert condition["reason"] == "QueryFailed", condition
    assert "query: sum(rate(lepton_serving_requests_total" in condition["message"], condition
    # The load has stopped, but nothing can show it: several polls later the replicas are still held.
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        assert replicas(serving) >= held, f"replicas lowered without data: {status()}"
        time.sleep(1)
    serving.wait_events(NAME, "MetricsUnavailable")

    prometheus.start()
    wait_for(
        lambda: serving.condition("inferenceservices", NAME, "MetricsAvailable").get("status") == "True",
        timeout=60,
        what="MetricsAvailable=True again once Prometheus answers",
        seen=status,
    )
    serving.wait_events(NAME, "MetricsRecovered")
    wait_for(lambda: replicas(serving) == 1, 90, "idle replicas lowered again after recovery", seen=status)


def test_no_prometheus_to_ask_is_a_condition_not_a_crash(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    autoscaling = {"minReplicas": 2, "maxReplicas": 3, "metric": "rps", "target": 5, "pollSeconds": 1}
    serving.create(inference_service("noprom", "iris", replicas=1, autoscaling=autoscaling))
    condition = serving.wait_condition("inferenceservices", "noprom", "MetricsAvailable", "False")
    assert "LEPTON_PROMETHEUS_URL" in condition["message"], condition
    # minReplicas is spec, not data: it applies without any metric.
    deployment = serving.apps.read_namespaced_deployment("noprom-v1", namespace)
    assert deployment.spec.replicas == 2


def test_a_deleted_services_daemons_end_by_themselves_not_by_kopf_cancelling_them(kube, namespace, operator):
    # Both of a service's daemons run here (autoscaler and rollout clock). kopf signals them at the
    # deletion and cancels those still running once their cancellation backoff is over ("... is
    # cancelled. Will escalate."): a daemon sleeping without watching its stop flag was cancelled at
    # every deletion (the soak logged one warning per deleted service).
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    autoscaling = {"minReplicas": 1, "maxReplicas": 2, "metric": "rps", "target": 5, "pollSeconds": 30}
    serving.create(inference_service("gone", "iris", replicas=1, autoscaling=autoscaling))
    serving.wait_condition("inferenceservices", "gone", "MetricsAvailable", "False")
    before = operator.log_path.stat().st_size
    serving.delete("inferenceservices", "gone")
    wait_for(
        lambda: not serving.exists("inferenceservices", "gone"),
        30,
        "the service deleted (kopf removes its finalizer once its daemons ended)",
    )
    with operator.log_path.open("rb") as log:
        log.seek(before)
        # kopf's warning does not name the object; with the fix no daemon of any object is cancelled.
        cancelled = [
            line for line in log.read().decode(errors="replace").splitlines() if "is cancelled" in line
        ]
    assert cancelled == [], f"kopf cancelled the deleted service's daemons: {cancelled}"
