"""Model-server Deployments and the stable Service of an InferenceService, compared whole."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from lepton.api import InferenceService, ModelVersion
from lepton.builders.inference import (
    APPLIED_HASH,
    applied_hash,
    construct_deployment,
    construct_service,
    url_of,
)
from lepton.builders.serving_config import ServingConfig

MV_UID = "mv-uid-1"
ISVC_UID = "isvc-uid-1"
MODEL_DIR = "/var/lib/lepton/model"


def service(**spec: Any) -> InferenceService:
    return InferenceService.model_validate(
        {
            "metadata": {
                "name": "iris",
                "namespace": "ml",
                "uid": ISVC_UID,
                "annotations": {"sim.lepton.ai/x": "1"},
            },
            "spec": {"model": {"name": "iris"}, **spec},
        }
    )


def version(uri: str = "file:///models/iris/v2") -> ModelVersion:
    return ModelVersion.model_validate(
        {
            "metadata": {"name": "iris-v2", "namespace": "ml", "uid": MV_UID},
            "spec": {"model": "iris", "version": "v2", "source": {"uri": uri}},
        }
    )


LABELS = {
    "lepton.ai/inferenceservice": "iris",
    "lepton.ai/model": "iris",
    "lepton.ai/version": "v2",
    "lepton.ai/modelversion-uid": MV_UID,
    "app.kubernetes.io/component": "model-server",
    "app.kubernetes.io/managed-by": "lepton",
}
OWNER = {
    "apiVersion": "lepton.ai/v1alpha1",
    "kind": "InferenceService",
    "name": "iris",
    "uid": ISVC_UID,
    "controller": True,
    "blockOwnerDeletion": True,
}
SECURE = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def expected_deployment() -> dict[str, Any]:
    command = ["lepton-serve", "--model-dir", MODEL_DIR, "--model-name", "iris", "--model-version", "v2"]
    command += ["--host", "0.0.0.0", "--port", "8080", "--drain-delay-s", "5", "--drain-timeout-s", "30"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "iris-v2", "namespace": "ml", "labels": LABELS, "ownerReferences": [OWNER]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"lepton.ai/inferenceservice": "iris", "lepton.ai/version": "v2"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "revisionHistoryLimit": 2,
            "template": {
                "metadata": {
                    "labels": LABELS,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": "8080",
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "runAsGroup": 1000,
                        "fsGroup": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 40,
                    "initContainers": [
                        {
                            "name": "fetch",
                            "image": "lepton/server:dev",
                            "command": [
                                "lepton-serve",
                                "fetch",
                                "--source",
                                "file:///models/iris/v2",
                                "--dest",
                                MODEL_DIR,
                                "--pvc-root",
                                "/mnt/pvc",
                            ],
                            "volumeMounts": [
                                {"name": "model", "mountPath": MODEL_DIR},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                            "securityContext": SECURE,
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                        }
                    ],
                    "containers": [
                        {
                            "name": "server",
                            "image": "lepton/server:dev",
                            "command": [*command, "--no-batching"],
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "readinessProbe": probe("/v2/health/ready", 5, 3),
                            "livenessProbe": probe("/v2/health/live", 10, 6),
                            "startupProbe": probe("/v2/health/live", 5, 60),
                            "volumeMounts": [
                                {"name": "model", "mountPath": MODEL_DIR, "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                            "securityContext": SECURE,
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                        }
                    ],
                    "volumes": [{"name": "model", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def _pod(d: dict[str, Any]) -> dict[str, Any]:
    return d["spec"]["template"]["spec"]


def _batching(d: dict[str, Any]) -> None:
    server = _pod(d)["containers"][0]
    server["command"][-1:] = ["--max-batch-size", "16", "--max-latency-ms", "4"]


def _gpu(d: dict[str, Any]) -> None:
    pod = _pod(d)
    pod["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": 1, "memory": "8Gi"}}
    pod["nodeSelector"] = {"nvidia.com/gpu.product": "H100"}
    pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def _gpu_tolerating_dedicated_nodes(d: dict[str, Any]) -> None:
    _gpu(d)
    _pod(d)["tolerations"].insert(
        0, {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
    )


def _custom_server(d: dict[str, Any]) -> None:
    pod = _pod(d)
    server, fetch = pod["containers"][0], pod["initContainers"][0]
    for container in (server, fetch):
        container["image"] = "registry/server:2"
        container["imagePullPolicy"] = "Always"
    server["env"] = [{"name": "OMP_NUM_THREADS", "value": "2"}]
    fetch["env"] = [{"name": "OMP_NUM_THREADS", "value": "2"}]
    server["ports"][0]["containerPort"] = 9000
    server["command"][server["command"].index("8080")] = "9000"
    d["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] = "9000"
    d["spec"]["replicas"] = 0


def _pvc_and_copied(d: dict[str, Any]) -> None:
    pod = _pod(d)
    pod["initContainers"][0]["command"][3] = "pvc://models/iris/v2"
    pod["initContainers"][0]["volumeMounts"].append(
        {"name": "pvc-models", "mountPath": "/mnt/pvc/models", "readOnly": True}
    )
    pod["volumes"].append(
        {"name": "pvc-models", "persistentVolumeClaim": {"claimName": "models", "readOnly": True}}
    )
    d["spec"]["template"]["metadata"]["annotations"]["sim.lepton.ai/x"] = "1"


@pytest.mark.parametrize(
    ("spec", "mv", "replicas", "config", "change"),
    [
        ({}, version(), 2, ServingConfig(), lambda d: None),
        (
            {"server": {"batching": {"maxBatchSize": 16, "maxLatencyMs": 4}}},
            version(),
            2,
            ServingConfig(),
            _batching,
        ),
        (
            {
                "server": {
                    "resources": {"limits": {"nvidia.com/gpu": 1, "memory": "8Gi"}},
                    "nodeSelector": {"nvidia.com/gpu.product": "H100"},
                }
            },
            version(),
            2,
            ServingConfig(),
            _gpu,
        ),
        (
            {
                "server": {
                    "resources": {"limits": {"nvidia.com/gpu": 1, "memory": "8Gi"}},
                    "nodeSelector": {"nvidia.com/gpu.product": "H100"},
                    "tolerations": [
                        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"},
                        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                    ],
                }
            },
            version(),
            2,
            ServingConfig(),
            _gpu_tolerating_dedicated_nodes,
        ),
        (
            {
                "server": {
                    "image": "registry/server:2",
                    "imagePullPolicy": "Always",
                    "port": 9000,
                    "env": [{"name": "OMP_NUM_THREADS", "value": "2"}],
                }
            },
            version(),
            0,
            ServingConfig(),
            _custom_server,
        ),
        (
            {},
            version("pvc://models/iris/v2"),
            2,
            ServingConfig(pod_annotation_prefixes=("sim.lepton.ai/",)),
            _pvc_and_copied,
        ),
    ],
    ids=[
        "defaults",
        "batching",
        "gpu-and-node-selector",
        "own-tolerations-and-gpu-kept-once",
        "custom-server-scaled-to-zero",
        "pvc-and-copied-annotations",
    ],
)
def test_deployment(spec, mv, replicas, config, change: Callable[[dict[str, Any]], None]):
    expected = copy.deepcopy(expected_deployment())
    change(expected)
    built = construct_deployment(service(**spec), mv, replicas, config)
    digest = built["metadata"]["annotations"].pop(APPLIED_HASH)
    del built["metadata"]["annotations"]
    assert built == expected
    assert digest == applied_hash(expected)


def test_hash_changes_with_what_is_applied():
    config = ServingConfig()
    one = construct_deployment(service(), version(), 1, config)["metadata"]["annotations"][APPLIED_HASH]
    two = construct_deployment(service(), version(), 2, config)["metadata"]["annotations"][APPLIED_HASH]
    again = construct_deployment(service(), version(), 1, config)["metadata"]["annotations"][APPLIED_HASH]
    assert one != two
    assert one == again


def test_service_selects_one_version():
    built = construct_service(service(), "v2")
    built["metadata"].pop("annotations")
    assert built == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "iris",
            "namespace": "ml",
            "labels": {
                "lepton.ai/inferenceservice": "iris",
                "lepton.ai/model": "iris",
                "app.kubernetes.io/managed-by": "lepton",
            },
            "ownerReferences": [OWNER],
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {"lepton.ai/inferenceservice": "iris", "lepton.ai/version": "v2"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def test_url_is_the_cluster_dns_name_of_the_model():
    assert url_of(service(), "cluster.local") == "http://iris.ml.svc.cluster.local/v2/models/iris"
    assert url_of(service(), "corp.example") == "http://iris.ml.svc.corp.example/v2/models/iris"
