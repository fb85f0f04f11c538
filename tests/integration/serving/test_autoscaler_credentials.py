"""A Secret that spec.autoscaling.prometheusAuth names and that is missing or incomplete: the
autoscaler asks no Prometheus, says so in MetricsAvailable (naming the Secret), keeps the replicas
the spec guarantees, polls at its pace (no retry storm), and reads the Secret again each round."""

from __future__ import annotations

import time

import pytest
from kubernetes import client
from servekit import Serving, inference_service

from support.wait import wait_for

pytestmark = pytest.mark.integration

AUTH = {"bearerTokenSecret": {"name": "prom-token", "key": "token"}}


@pytest.mark.parametrize(
    ("secret", "text"),
    [
        (None, "Secret prom-token does not exist"),
        ({"other": "dG9rZW4="}, "Secret prom-token has no key token"),
    ],
    ids=["missing-secret", "missing-key"],
)
def test_a_missing_credential_is_a_condition_not_a_crash_or_a_loop(kube, namespace, operator, secret, text):
    serving = Serving(kube, namespace)
    if secret is not None:
        body = client.V1Secret(metadata=client.V1ObjectMeta(name="prom-token"), data=secret)
        client.CoreV1Api(kube).create_namespaced_secret(namespace, body)
    serving.ready_version("iris", "v1")
    autoscaling = {
        "minReplicas": 2,
        "maxReplicas": 3,
        "metric": "rps",
        "target": 5,
        "pollSeconds": 1,
        "prometheusUrl": "https://127.0.0.1:9",
        "prometheusAuth": AUTH,
    }
    serving.create(inference_service("creds", "iris", replicas=1, autoscaling=autoscaling))
    condition = serving.wait_condition("inferenceservices", "creds", "MetricsAvailable", "False")
    assert condition["reason"] == "QueryFailed", condition
    assert text in condition["message"], condition
    assert serving.apps.read_namespaced_deployment("creds-v1", namespace).spec.replicas == 2

    # One round (and at most one status write) per poll, not a loop: the rounds in a row that found
    # no metric, counted in the status, grow with the polls only.
    def failures() -> int:
        return int(serving.status("inferenceservices", "creds")["autoscaler"]["memory"]["failures"])

    before, started = failures(), time.monotonic()
    time.sleep(4)  # a measurement window of about four polls, not a synchronisation
    rounds, elapsed = failures() - before, time.monotonic() - started
    assert 1 <= rounds <= elapsed / autoscaling["pollSeconds"] + 1, (rounds, elapsed)
    # The credential is read again every round: fixing it moves on to the next problem (here, no
    # Prometheus listens on that port) without a restart or an edit of the service.
    core = client.CoreV1Api(kube)
    fixed = client.V1Secret(metadata=client.V1ObjectMeta(name="prom-token"), data={"token": "dG9rZW4="})
    if secret is None:
        core.create_namespaced_secret(namespace, fixed)
    else:
        core.replace_namespaced_secret("prom-token", namespace, fixed)
    wait_for(
        lambda: (
            "prom-token" not in serving.condition("inferenceservices", "creds", "MetricsAvailable")["message"]
        ),
        timeout=30,
        what="MetricsAvailable's message to move past the fixed Secret",
        seen=lambda: serving.condition("inferenceservices", "creds", "MetricsAvailable"),
    )
