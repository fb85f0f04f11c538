"""The activator's Deployment and the two Services of a service that may scale to zero."""

from __future__ import annotations

from typing import Any

from lepton.api import InferenceService
from lepton.api.common import Toleration
from lepton.builders.activator import (
    construct_activated_service,
    construct_activator,
    construct_backend_service,
)
from lepton.builders.serving_config import ServingConfig


def service() -> InferenceService:
    return InferenceService.model_validate(
        {
            "apiVersion": "lepton.ai/v1alpha1",
            "kind": "InferenceService",
            "metadata": {"name": "iris", "namespace": "team", "uid": "u-1"},
            "spec": {
                "model": {"name": "iris"},
                "autoscaling": {
                    "minReplicas": 0,
                    "maxReplicas": 2,
                    "metric": "rps",
                    "target": 2,
                    "scaleToZero": {"idleSeconds": 60},
                },
            },
        }
    )


CONFIG = ServingConfig(activation_url="http://lepton-operator.lepton-system.svc:8082/activate")


def flag(container: dict[str, Any], name: str) -> str:
    command = container["command"]
    return str(command[command.index(name) + 1])


def test_the_activator_forwards_to_the_backend_service_and_asks_the_operator() -> None:
    pod = construct_activator(service(), CONFIG)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert flag(container, "--backend") == "http://iris-backend.team.svc:80"
    assert flag(container, "--activate-url") == CONFIG.activation_url
    assert pod["automountServiceAccountToken"] is False  # it asks the operator over HTTP, not the API


def test_it_keeps_answering_after_sigterm_while_kube_proxy_moves_the_service_away() -> None:
    pod = construct_activator(service(), CONFIG)["spec"]["template"]["spec"]
    delay = float(flag(pod["containers"][0], "--drain-delay-s"))
    assert delay >= 3, "kube-proxy programs a changed Service within about a second, often later"
    # The delay and the activator's 25 s for requests being forwarded fit in the grace period.
    assert pod["terminationGracePeriodSeconds"] >= delay + 25


def test_the_stable_service_selects_the_activator_and_the_backend_the_servers() -> None:
    isvc = service()
    stable = construct_activated_service(isvc)
    backend = construct_backend_service(isvc, "v1")
    activator = construct_activator(isvc, CONFIG)
    assert stable["metadata"]["name"] == "iris"
    assert stable["spec"]["selector"] == activator["spec"]["selector"]["matchLabels"]
    assert backend["metadata"]["name"] == "iris-backend"
    assert backend["spec"]["selector"]["lepton.ai/version"] == "v1"


def test_the_activator_runs_where_the_servers_may_run() -> None:
    """The servers' node selector and tolerations: on a cluster where only some nodes route pod
    traffic (the local real node beside KWOK's fake ones), an activator elsewhere is unreachable."""
    isvc = service()
    isvc.spec.server.node_selector = {"lepton.ai/node-kind": "real"}
    isvc.spec.server.tolerations = [Toleration(key="lepton.ai/real-node", operator="Exists")]
    pod = construct_activator(isvc, CONFIG)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"lepton.ai/node-kind": "real"}
    assert pod["tolerations"] == [{"key": "lepton.ai/real-node", "operator": "Exists"}]
    assert "nodeSelector" not in construct_activator(service(), CONFIG)["spec"]["template"]["spec"]
