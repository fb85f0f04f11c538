"""Every pod Lepton makes passes the restricted Pod Security profile: the objects the builders make
(worker pod, verification Job, model-server and activator Deployments) are created in a namespace
that enforces and warns at `restricted`, and their controllers' pods are admitted there."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lepton.api import InferenceService, ModelVersion, TrainingJob
from lepton.builders.activator import construct_activator
from lepton.builders.inference import construct_deployment
from lepton.builders.serving_config import ServingConfig
from lepton.builders.verification import construct_verification_job
from lepton.builders.workers import construct_worker_pod
from support.wait import wait_for

pytestmark = pytest.mark.integration

RESTRICTED = ("pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/warn=restricted")
CONFIG = ServingConfig(activation_url="http://lepton-operator.lepton-system.svc:8081/activate")


def objects(namespace: str) -> dict[str, dict[str, Any]]:
    """What the operator would create for a job, a version and a service in ``namespace``."""
    meta = {"namespace": namespace, "uid": "00000000-0000-0000-0000-000000000001"}
    tj = TrainingJob.model_validate(
        {
            "metadata": {"name": "train", **meta},
            "spec": {
                "output": {"model": "iris", "uri": "pvc://models/iris"},
                "template": {"spec": {"containers": [{"name": "trainer", "image": "lepton/trainer:dev"}]}},
            },
        }
    )
    mv = ModelVersion.model_validate(
        {
            "metadata": {"name": "iris-v1", **meta},
            "spec": {"model": "iris", "version": "v1", "source": {"uri": "pvc://models/iris/v1"}},
        }
    )
    isvc = InferenceService.model_validate(
        {"metadata": {"name": "iris", **meta}, "spec": {"model": {"name": "iris"}}}
    )
    built = {
        "worker": construct_worker_pod(tj, 0, 0),
        "verification": construct_verification_job(mv, CONFIG),
        "server": construct_deployment(isvc, mv, 1, CONFIG),
        "activator": construct_activator(isvc, CONFIG),
    }
    for body in built.values():
        # Their owners do not exist here: the garbage collector would take them away.
        body["metadata"].pop("ownerReferences")
    return built


def pods_of(kubectl, namespace: str, selector: dict[str, str]) -> list[dict[str, Any]]:
    labels = ",".join(f"{k}={v}" for k, v in selector.items())
    out = kubectl("get", "pods", "-n", namespace, "-l", labels, "-o", "json").stdout
    return list(json.loads(out)["items"])


def test_every_pod_lepton_makes_is_admitted_by_the_restricted_profile(kubectl, namespace):
    kubectl("label", "namespace", namespace, *RESTRICTED)
    # The control: a pod with no security context is refused here.
    bare = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bare", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    refused = kubectl("create", "-f", "-", input=json.dumps(bare), check=False)
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr

    built = objects(namespace)
    for what, body in built.items():
        out = kubectl("create", "-f", "-", input=json.dumps(body), check=False)
        assert out.returncode == 0, f"{what}: {out.stderr}"
        # For Jobs and Deployments the API server judges the pod template too, as a warning.
        assert "PodSecurity" not in out.stderr, f"{what}: {out.stderr}"

    # The controllers' pods (created by kube-controller-manager under the same policy).
    selectors = {
        "worker": {"lepton.ai/job-name": "train"},
        "verification": {"app.kubernetes.io/component": "model-verification"},
        "server": {"app.kubernetes.io/component": "model-server"},
        "activator": {"app.kubernetes.io/component": "activator"},
    }
    for what, selector in selectors.items():
        pods = wait_for(
            lambda selector=selector: pods_of(kubectl, namespace, selector),
            60,
            f"the {what} pod",
            seen=lambda: kubectl("get", "events", "-n", namespace).stdout,
        )
        spec = pods[0]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, what
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, what
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (what, container["name"])
            assert context["capabilities"] == {"drop": ["ALL"]}, (what, container["name"])
            assert context["readOnlyRootFilesystem"] is True, (what, container["name"])
