"""The chart as platform teams use it: `helm install` on the cluster with a real node, `helm test`
proves the operator answers through its Service, and the operator, running in its pod under the
chart's RBAC and nothing more, reconciles a TrainingJob."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from realnode import demo, demokit
from realnode.demokit import Clock
from support.paths import REPO
from support.wait import wait_for

# The first test pays for importing the images into the node when they changed.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

RELEASE = "lepton-e2e"
SYSTEM = "lepton-e2e-system"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def release(helm: list[str], e2e_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # The operator image in the real node's containerd (reused when it is there already).
    demo.build_images(Clock(), e2e_cluster)
    values = {
        "image": {"pullPolicy": "Never"},
        # The local API server listens on 127.0.0.1 only: the operator runs on the node's network.
        "hostNetwork": True,
        "apiServer": {"host": "127.0.0.1", "port": str(e2e_cluster.ports.apiserver)},
        "ports": {"metrics": free_port(), "health": free_port(), "activation": free_port()},
        "nodeSelector": demokit.REAL_NODE_SELECTOR,
        "tolerations": [demokit.REAL_NODE_TOLERATION],
    }
    path: Path = tmp_path_factory.mktemp("chart") / "values.json"
    path.write_text(json.dumps(values))  # JSON is YAML
    install = [*helm, "install", RELEASE, str(REPO / "charts" / "lepton"), "-n", SYSTEM]
    done = subprocess.run(
        [*install, "--create-namespace", "-f", str(path), "--wait", "--timeout", "5m"],
        capture_output=True,
        text=True,
        check=False,
        timeout=400,
    )
    try:
        assert done.returncode == 0, f"helm install failed: {done.stdout}{done.stderr}"
        yield RELEASE
    finally:
        subprocess.run([*helm, "uninstall", RELEASE, "-n", SYSTEM, "--wait"], check=False, timeout=300)


def test_helm_test_proves_the_operator_answers(helm, release):
    done = subprocess.run(
        [*helm, "test", release, "-n", SYSTEM, "--timeout", "3m"],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, f"helm test failed:\n{done.stdout}{done.stderr}"
    assert "Phase:          Succeeded" in done.stdout, done.stdout


def test_the_operator_in_its_pod_reconciles_with_the_charts_rbac(release, kubectl, namespace):
    job = {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "TrainingJob",
        "metadata": {"name": "in-cluster", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "tolerations": [
                        {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "containers": [
                        {
                            "name": "trainer",
                            "image": "lepton/trainer:dev",
                            "resources": {"limits": {"nvidia.com/gpu": 8}},
                        }
                    ],
                }
            },
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(job))

    def phase() -> str | None:
        out = kubectl("get", "trainingjob", "in-cluster", "-n", namespace, "-o", "json").stdout
        return json.loads(out).get("status", {}).get("phase")

    wait_for(
        lambda: phase() in ("Admitted", "Running"),
        timeout=120,
        what="the in-cluster operator to admit the job and create its workers",
        seen=lambda: (
            phase(),
            kubectl("logs", "-n", SYSTEM, "deploy/lepton-operator", "--tail=20", check=False).stdout,
        ),
    )
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    assert sorted(p["metadata"]["name"] for p in pods) == ["in-cluster-worker-0", "in-cluster-worker-1"]
