"""Helpers of the end-to-end tests: what places a pod on a real node."""

from __future__ import annotations

from typing import Any

REAL_NODE_SELECTOR = {"lepton.ai/node-kind": "real"}
REAL_NODE_TOLERATION = {"key": "lepton.ai/real-node", "operator": "Exists", "effect": "NoSchedule"}
BUSYBOX = "lepton.local/busybox:1"


def busybox_pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    """A pod of the local busybox image on a real node, running ``sh -c script`` once."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": REAL_NODE_SELECTOR,
            "tolerations": [REAL_NODE_TOLERATION],
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": BUSYBOX,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
                }
            ],
            **spec,
        },
    }


def busybox_deployment(
    name: str, script: str, replicas: int, annotations: dict[str, str] | None = None, port: int = 8080
) -> dict[str, Any]:
    """A Deployment of the local busybox image on real nodes, running ``sh -c script``, Ready once
    it answers HTTP on ``port`` (so that Services and kube-proxy count it only from then on)."""
    spec = busybox_pod(name, script)["spec"]
    spec["restartPolicy"] = "Always"
    spec["containers"][0]["ports"] = [{"name": "http", "containerPort": port}]
    spec["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                "spec": spec,
            },
        },
    }
