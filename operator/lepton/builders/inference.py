"""Model-server Deployments (one per served ModelVersion) and the stable Service of an
InferenceService (docs/architecture.md, "Inference pods")."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from lepton.api.inferenceservice import InferenceService
from lepton.api.modelversion import MODEL_LABEL, VERSION_LABEL, ModelVersion
from lepton.api.trainingjob import GPU_RESOURCE
from lepton.builders.artifact import (
    MODEL_DIR,
    artifact_volumes,
    fetch_container,
    model_mounts,
)
from lepton.builders.auth import token_args, token_mount, token_volume
from lepton.builders.owners import owner_reference
from lepton.builders.security import lepton_container, lepton_pod
from lepton.builders.serving_config import ServingConfig
from lepton.builders.verification import (
    COMPONENT_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MODELVERSION_UID_LABEL,
)

ISVC_LABEL = "lepton.ai/inferenceservice"
APPLIED_HASH = "lepton.ai/applied-hash"
"""Hash of what the operator last applied: a changed spec shows as a different hash, so an unchanged
object costs no request."""
SERVER_COMPONENT = "model-server"
SERVER_CONTAINER = "server"
HTTP_PORT_NAME = "http"
SERVICE_PORT = 80
DRAIN_DELAY_SECONDS = 5
"""Seconds a server keeps accepting after SIGTERM, while endpoints drop the terminating pod."""
DRAIN_TIMEOUT_SECONDS = 30


def deployment_name(isvc_name: str, version: str) -> str:
    return f"{isvc_name}-{version}"


def url_of(isvc: InferenceService, cluster_domain: str) -> str:
    return f"http://{isvc.name}.{isvc.namespace}.svc.{cluster_domain}/v2/models/{isvc.spec.model.name}"


def selector_string(isvc_name: str) -> str:
    """status.selector: every model-server pod of the service (all versions), as HPAs count them."""
    return f"{ISVC_LABEL}={isvc_name}"


def version_selector(isvc_name: str, version: str) -> dict[str, str]:
    return {ISVC_LABEL: isvc_name, VERSION_LABEL: version}


def applied_hash(body: Mapping[str, Any]) -> str:
    """A stable hash of a desired object (without the annotation carrying it)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def with_hash(body: dict[str, Any]) -> dict[str, Any]:
    body["metadata"].setdefault("annotations", {})[APPLIED_HASH] = applied_hash(body)
    return body


def server_command(isvc: InferenceService, mv: ModelVersion) -> list[str]:
    server = isvc.spec.server
    command = [
        "lepton-serve",
        "--model-dir",
        MODEL_DIR,
        "--model-name",
        isvc.spec.model.name,
        "--model-version",
        mv.spec.version,
        "--host",
        "0.0.0.0",  # the pod's own network namespace; the Service fronts it
        "--port",
        str(server.port),
        "--drain-delay-s",
        str(DRAIN_DELAY_SECONDS),
        "--drain-timeout-s",
        str(DRAIN_TIMEOUT_SECONDS),
    ]
    if isvc.spec.auth is not None:
        command += token_args(isvc.spec.auth)
    if server.batching is None:
        return [*command, "--no-batching"]
    return [
        *command,
        "--max-batch-size",
        str(server.batching.max_batch_size),
        "--max-latency-ms",
        str(server.batching.max_latency_ms),
    ]


def probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": HTTP_PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _gpus(resources: Mapping[str, Any]) -> bool:
    amounts = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
    return str(amounts.get(GPU_RESOURCE, "0")) not in ("0", "")


def server_labels(isvc: InferenceService, mv: ModelVersion) -> dict[str, str]:
    return {
        ISVC_LABEL: isvc.name,
        MODEL_LABEL: mv.spec.model,
        VERSION_LABEL: mv.spec.version,
        MODELVERSION_UID_LABEL: mv.metadata.uid or "",
        COMPONENT_LABEL: SERVER_COMPONENT,
        MANAGED_BY_LABEL: MANAGED_BY,
    }


def construct_deployment(
    isvc: InferenceService, mv: ModelVersion, replicas: int, config: ServingConfig
) -> dict[str, Any]:
    """The model-server Deployment of ``mv`` with ``replicas`` replicas, owned by the service.

    Surge-only rolling updates (maxUnavailable 0) keep a changed server spec without downtime too.
    """
    server = isvc.spec.server
    resources = server.resources.model_dump(by_alias=True, exclude_none=True) if server.resources else {}
    labels = server_labels(isvc, mv)
    container: dict[str, Any] = {
        "name": SERVER_CONTAINER,
        "image": server.image,
        "command": server_command(isvc, mv),
        "ports": [{"name": HTTP_PORT_NAME, "containerPort": server.port, "protocol": "TCP"}],
        "readinessProbe": probe("/v2/health/ready", 5, 3),
        "livenessProbe": probe("/v2/health/live", 10, 6),
        # Loading and warming up a large model may take minutes; liveness starts counting after it.
        "startupProbe": probe("/v2/health/live", 5, 60),
        "volumeMounts": model_mounts(),
        "securityContext": lepton_container(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if server.image_pull_policy:
        container["imagePullPolicy"] = server.image_pull_policy
    if isvc.spec.auth is not None:  # the server container only: the fetch init container needs none
        container["volumeMounts"].append(token_mount())
    if resources:
        container["resources"] = resources
    env = [e.model_dump(by_alias=True, exclude_none=True) for e in server.env or []]
    if env:
        container["env"] = env
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": lepton_pod(),
        "terminationGracePeriodSeconds": DRAIN_DELAY_SECONDS + DRAIN_TIMEOUT_SECONDS + 5,
        "initContainers": [
            fetch_container(mv.spec.source.uri, server.image, server.image_pull_policy, copy.deepcopy(env))
        ],
        "containers": [container],
        "volumes": artifact_volumes(mv.spec.source.uri),
    }
    if isvc.spec.auth is not None:
        pod_spec["volumes"].append(token_volume(isvc.spec.auth))
    if server.node_selector:
        pod_spec["nodeSelector"] = dict(server.node_selector)
    tolerations = [t.model_dump(by_alias=True, exclude_none=True) for t in server.tolerations or []]
    if _gpus(resources) and not any(t.get("key") == GPU_RESOURCE for t in tolerations):
        # GPU nodes are commonly tainted so that only pods asking for GPUs land there.
        tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    if tolerations:
        pod_spec["tolerations"] = tolerations
    annotations = {
        **config.copied_annotations(isvc.metadata.annotations),
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(server.port),
        "prometheus.io/path": "/metrics",
    }
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment_name(isvc.name, mv.spec.version),
            "namespace": isvc.namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(isvc)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": version_selector(isvc.name, mv.spec.version)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "revisionHistoryLimit": 2,
            "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod_spec},
        },
    }
    return with_hash(body)


def child_metadata(
    isvc: InferenceService, name: str, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """metadata of a child owned by the service, labelled so the serving controllers watch it."""
    return {
        "name": name,
        "namespace": isvc.namespace,
        "labels": {
            ISVC_LABEL: isvc.name,
            MODEL_LABEL: isvc.spec.model.name,
            MANAGED_BY_LABEL: MANAGED_BY,
            **(labels or {}),
        },
        "ownerReferences": [owner_reference(isvc)],
    }


def service_body(
    isvc: InferenceService, name: str, selector: Mapping[str, str], labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A ClusterIP Service of the service's model servers on port 80, owned by the service."""
    return with_hash(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": child_metadata(isvc, name, labels),
            "spec": {
                "type": "ClusterIP",
                "selector": dict(selector),
                "ports": [
                    {
                        "name": HTTP_PORT_NAME,
                        "port": SERVICE_PORT,
                        "targetPort": HTTP_PORT_NAME,
                        "protocol": "TCP",
                    }
                ],
            },
        }
    )


def construct_service(isvc: InferenceService, version: str) -> dict[str, Any]:
    """The stable Service `<isvc>` on port 80, selecting the pods of ``version`` only: switching
    versions is one selector change."""
    return service_body(isvc, isvc.name, version_selector(isvc.name, version))
