"""Helpers of the end-to-end tests: what places a pod on a real node."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.paths import REPO

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


def fake_gpu_training_job(
    name: str, namespace: str, gpus: int, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    """A TrainingJob of two workers that land on the fake GPU nodes (KWOK runs them): what an
    operator must admit and create children for, without a real node's time. ``annotations`` go
    on the workers (KWOK's sim.lepton.ai/exit-code hook ends them)."""
    container = {
        "name": "trainer",
        "image": "lepton/trainer:dev",
        "resources": {"limits": {"nvidia.com/gpu": gpus}},
    }
    return {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"annotations": annotations or {}},
                "spec": {
                    "tolerations": [
                        {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "containers": [container],
                },
            },
        },
    }


def hostpath_claim(namespace: str, claim: str, path: str, reclaim: str = "Delete") -> list[dict[str, Any]]:
    """A PersistentVolume over a folder of this machine (the real node's) and the claim ``claim``
    bound to it: what pods on the real node read and write files through, as a shared volume."""
    volume = f"{namespace}-{claim}"
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "persistentVolumeReclaimPolicy": reclaim,
                "claimRef": {"namespace": namespace, "name": claim},
                "hostPath": {"path": path, "type": "Directory"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": volume,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    ]


@contextmanager
def helm_release(
    helm: list[str], release: str, namespace: str, values: dict[str, Any], workdir: Path
) -> Iterator[str]:
    """The project's chart installed with ``values`` (helm install --wait), uninstalled afterwards."""
    path = workdir / f"{release}-values.json"
    path.write_text(json.dumps(values))  # JSON is YAML
    install = [
        *helm,
        "install",
        release,
        str(REPO / "charts" / "lepton"),
        "-n",
        namespace,
        "--create-namespace",
    ]
    done = subprocess.run(
        [*install, "-f", str(path), "--wait", "--timeout", "5m"],
        capture_output=True,
        text=True,
        check=False,
        timeout=400,
    )
    try:
        assert done.returncode == 0, f"helm install failed: {done.stdout}{done.stderr}"
        yield release
    finally:
        subprocess.run([*helm, "uninstall", release, "-n", namespace, "--wait"], check=False, timeout=300)
