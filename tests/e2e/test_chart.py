"""The chart as platform teams use it: `helm install` on the cluster with a real node, `helm test`
proves the operator answers through its Service, and the operator, running in its pod under the
chart's RBAC and nothing more, reconciles a TrainingJob."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from e2ekit import fake_gpu_training_job, helm_release

from realnode import demo, demokit
from realnode.demokit import Clock
from support.wait import wait_for

# The first test pays for importing the images into the node when they changed.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

RELEASE = "lepton-e2e"
SYSTEM = "lepton-e2e-system"


@pytest.fixture(scope="module")
def release(
    helm: list[str], e2e_cluster: Any, no_local_operator: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    # The operator image in the real node's containerd (reused when it is there already).
    demo.build_images(Clock(), e2e_cluster)
    # On the pod network, reaching the API server through the `kubernetes` Service, as in real clusters.
    values = {
        "image": {"pullPolicy": "Never"},
        "nodeSelector": demokit.REAL_NODE_SELECTOR,
        "tolerations": [demokit.REAL_NODE_TOLERATION],
    }
    with helm_release(helm, RELEASE, SYSTEM, values, tmp_path_factory.mktemp("chart")) as release:
        yield release


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


def test_the_operator_in_its_pod_runs_a_job_to_success_with_the_charts_rbac(release, kubectl, namespace):
    # The workers (fake GPU nodes) exit 0 a few seconds after they start: rank 0's success ends it.
    exit_0 = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": "3s"}
    job = fake_gpu_training_job("in-cluster", namespace, gpus=8, annotations=exit_0)
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
    wait_for(lambda: phase() == "Succeeded", 120, "the job to succeed once its workers exit 0", seen=phase)
