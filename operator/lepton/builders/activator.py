"""What carries an InferenceService through zero replicas: an activator Deployment (lepton-activator,
from the server image) that holds requests and asks the operator for a replica, and a backend
Service that always selects the model-server pods, where the activator forwards once one is Ready.
While the service has no ready replica, its stable Service selects the activator instead."""

from __future__ import annotations

from typing import Any

from lepton.api.inferenceservice import InferenceService
from lepton.builders.artifact import bounded_name
from lepton.builders.inference import (
    DRAIN_DELAY_SECONDS,
    HTTP_PORT_NAME,
    ISVC_LABEL,
    SERVICE_PORT,
    construct_service,
    probe,
    with_hash,
)
from lepton.builders.owners import owner_reference
from lepton.builders.security import lepton_container, lepton_pod
from lepton.builders.serving_config import ServingConfig
from lepton.builders.verification import COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL

ACTIVATOR_COMPONENT = "activator"
ACTIVATOR_PORT = 8080
ACTIVATOR_HEALTH = "/-/activator/healthz"


def activator_name(isvc_name: str) -> str:
    return bounded_name(isvc_name, "activator")


def backend_name(isvc_name: str) -> str:
    return bounded_name(isvc_name, "backend")


def activator_selector(isvc_name: str) -> dict[str, str]:
    return {ISVC_LABEL: isvc_name, COMPONENT_LABEL: ACTIVATOR_COMPONENT}


def construct_activator(isvc: InferenceService, config: ServingConfig) -> dict[str, Any]:
    """One activator replica for the service; no API credentials (it asks the operator over HTTP)."""
    labels = {**activator_selector(isvc.name), MANAGED_BY_LABEL: MANAGED_BY}
    backend = f"http://{backend_name(isvc.name)}.{isvc.namespace}.svc:{SERVICE_PORT}"
    container = {
        "name": ACTIVATOR_COMPONENT,
        "image": config.activator_image or isvc.spec.server.image,
        "command": [
            "lepton-activator",
            "--service",
            isvc.name,
            "--namespace",
            isvc.namespace,
            "--backend",
            backend,
            "--activate-url",
            config.activation_url or "",
            "--port",
            str(ACTIVATOR_PORT),
            # It leaves the request path when the stable Service moves back to the servers, and is
            # deleted then: it keeps answering while kube-proxy catches up, as the servers do.
            "--drain-delay-s",
            str(DRAIN_DELAY_SECONDS),
        ],
        "ports": [{"name": HTTP_PORT_NAME, "containerPort": ACTIVATOR_PORT, "protocol": "TCP"}],
        "readinessProbe": probe(ACTIVATOR_HEALTH, 2, 3),
        "livenessProbe": probe(ACTIVATOR_HEALTH, 10, 6),
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": lepton_container(),
    }
    if isvc.spec.server.image_pull_policy:
        container["imagePullPolicy"] = isvc.spec.server.image_pull_policy
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": lepton_pod(),
        "containers": [container],
        # The drain delay, then up to the activator's 25 s for requests being forwarded.
        "terminationGracePeriodSeconds": DRAIN_DELAY_SECONDS + 30,
    }
    # Where the servers may run, the activator may too (and, as here, where only those nodes route
    # the pods' traffic, it must): the same node selector and tolerations.
    if isvc.spec.server.node_selector:
        pod_spec["nodeSelector"] = dict(isvc.spec.server.node_selector)
    if isvc.spec.server.tolerations:
        pod_spec["tolerations"] = [
            t.model_dump(by_alias=True, exclude_none=True) for t in isvc.spec.server.tolerations
        ]
    return with_hash(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": activator_name(isvc.name),
                "namespace": isvc.namespace,
                "labels": labels,
                "ownerReferences": [owner_reference(isvc)],
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": activator_selector(isvc.name)},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        }
    )


def construct_backend_service(isvc: InferenceService, version: str) -> dict[str, Any]:
    """The Service the activator forwards to: the model-server pods of ``version``, always."""
    body = construct_service(isvc, version)
    body["metadata"]["name"] = backend_name(isvc.name)
    body["metadata"]["annotations"] = {}
    return with_hash(body)


def construct_activated_service(isvc: InferenceService) -> dict[str, Any]:
    """The stable Service while no replica is ready: it selects the activator."""
    body = construct_service(isvc, "")
    body["spec"]["selector"] = activator_selector(isvc.name)
    body["metadata"]["annotations"] = {}
    return with_hash(body)
