"""Helpers of the end-to-end tests: what places a pod on a real node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from localcluster.config import Config
from support.paths import REPO

REAL_NODE_SELECTOR = {"lepton.ai/node-kind": "real"}
REAL_NODE_TOLERATION = {"key": "lepton.ai/real-node", "operator": "Exists", "effect": "NoSchedule"}
BUSYBOX = "lepton.local/busybox:1"
SERVER_IMAGE = "lepton/server:dev"


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
    pod = {
        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [container],
    }
    return training_job(name, namespace, pod, {"annotations": annotations or {}})


def training_job(
    name: str, namespace: str, pod: dict[str, Any], pod_metadata: dict[str, Any] | None = None, **spec: Any
) -> dict[str, Any]:
    """A TrainingJob of two workers with this pod spec; ``spec`` adds to the job's spec."""
    template: dict[str, Any] = {"spec": pod}
    if pod_metadata is not None:
        template["metadata"] = pod_metadata
    return {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": 2, "template": template, **spec},
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


def host_path_claim(namespace: str, claim: str, folder: Path) -> list[dict[str, Any]]:
    """``hostpath_claim`` over a new host folder, made here and owned by uid 1000 (as the trainer
    and server images run): every worker and the verifier mount it."""
    folder.mkdir(parents=True)
    os.chown(folder, 1000, 1000)
    return hostpath_claim(namespace, claim, str(folder))


def real_training_job(
    name: str,
    namespace: str,
    command: list[str],
    *,
    mounts: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A TrainingJob of two workers of the trainer image on the real node, one CPU process each
    (gloo over the pod network), running ``command``. ``mounts``: claim name -> mount path ("" for
    a claim the operator mounts itself, as spec.checkpoint's); ``spec`` adds to the job's spec."""
    claims = mounts or {}
    container: dict[str, Any] = {
        "name": "trainer",
        "image": "lepton/trainer:dev",
        "imagePullPolicy": "Never",
        "command": command,
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}},
    }
    if any(claims.values()):
        container["volumeMounts"] = [{"name": c, "mountPath": p} for c, p in claims.items() if p]
    pod = {
        "nodeSelector": REAL_NODE_SELECTOR,
        "tolerations": [REAL_NODE_TOLERATION],
        "containers": [container],
        "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims],
    }
    return training_job(name, namespace, pod, nprocPerNode=1, **spec)


def lepton_command(cfg: Config, namespace: str, *args: str) -> list[str]:
    """`lepton ARGS` against the e2e cluster in ``namespace``; run it with ``cli_env()``."""
    return [sys.executable, "-m", "lepton.cli", "--kubeconfig", str(cfg.kubeconfig), "-n", namespace, *args]


def cli_env() -> dict[str, str]:
    """The environment that runs the command from this tree, as `pip install` would give it."""
    paths = [str(REPO / "operator"), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def lepton(cfg: Config, namespace: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `lepton ARGS` to its end as a user would: its exit code, stdout and stderr."""
    return subprocess.run(
        lepton_command(cfg, namespace, *args),
        env=cli_env(), capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
