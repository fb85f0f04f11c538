"""InferenceService on the local cluster: Deployment, Service, status, scaling, servedBy."""

from __future__ import annotations

import json

import pytest
from servekit import Serving, inference_service

from support.wait import wait_for

pytestmark = pytest.mark.integration


def test_service_gets_deployment_service_and_ready_status(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    serving.create(inference_service("iris", "iris", replicas=2))
    status = serving.wait_phase("inferenceservices", "iris", "Ready")
    assert status["url"] == f"http://iris.{namespace}.svc.cluster.local/v2/models/iris"
    assert status["currentVersion"] == "v1"
    assert status["selector"] == "lepton.ai/inferenceservice=iris"
    wait_for(
        lambda: serving.status("inferenceservices", "iris").get("readyReplicas") == 2,
        timeout=30,
        what="two ready replicas in the status",
        seen=lambda: serving.status("inferenceservices", "iris"),
    )
    deployment = serving.apps.read_namespaced_deployment("iris-v1", namespace)
    assert deployment.spec.replicas == 2
    assert deployment.metadata.owner_references[0].kind == "InferenceService"
    pod = deployment.spec.template.spec
    server = pod.containers[0]
    assert server.readiness_probe.http_get.path == "/v2/health/ready"
    assert server.liveness_probe.http_get.path == "/v2/health/live"
    assert server.command[server.command.index("--max-batch-size") + 1] == "16"
    assert pod.init_containers[0].command[:2] == ["lepton-serve", "fetch"]
    assert pod.security_context.run_as_non_root is True
    service = serving.core.read_namespaced_service("iris", namespace)
    assert service.spec.selector == {"lepton.ai/inferenceservice": "iris", "lepton.ai/version": "v1"}
    assert service.spec.ports[0].port == 80
    conditions = {c["type"]: c for c in serving.status("inferenceservices", "iris")["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["observedGeneration"]) == ("True", 1)
    assert conditions["Degraded"]["status"] == "False"


def test_kubectl_scale_changes_the_deployment(kube, kubectl, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    serving.create(inference_service("iris", "iris", replicas=1))
    serving.wait_phase("inferenceservices", "iris", "Ready")
    kubectl("scale", "-n", namespace, "lisvc/iris", "--replicas=3")
    wait_for(
        lambda: serving.apps.read_namespaced_deployment("iris-v1", namespace).spec.replicas == 3,
        timeout=30,
        what="Deployment iris-v1 scaled to 3",
    )
    wait_for(
        lambda: serving.status("inferenceservices", "iris").get("readyReplicas") == 3,
        timeout=30,
        what="three ready replicas",
        seen=lambda: serving.status("inferenceservices", "iris"),
    )
    scale = json.loads(
        kubectl(
            "get", "--raw", f"/apis/lepton.ai/v1alpha1/namespaces/{namespace}/inferenceservices/iris/scale"
        ).stdout
    )
    assert scale["spec"]["replicas"] == 3
    assert scale["status"]["replicas"] == 3
    assert scale["status"]["selector"] == "lepton.ai/inferenceservice=iris"
    serving.wait_events("iris", "Scaled")


def test_served_by_follows_the_services(kube, namespace, operator):
    serving = Serving(kube, namespace)
    serving.ready_version("iris", "v1")
    serving.create(inference_service("a", "iris", "v1"))
    serving.create(inference_service("b", "iris"))

    def served_by() -> list[str]:
        return serving.status("modelversions", "iris-v1").get("servedBy") or []

    wait_for(lambda: served_by() == ["a", "b"], timeout=30, what="servedBy [a, b]", seen=served_by)
    serving.delete("inferenceservices", "a")
    wait_for(lambda: served_by() == ["b"], timeout=60, what="servedBy [b] after deleting a", seen=served_by)


def test_a_service_of_the_same_name_owned_by_another_is_not_taken_over(kube, namespace, operator):
    # A TrainingJob's headless Service, or a user's own, named like the InferenceService.
    theirs = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "iris", "labels": {"lepton.ai/job-name": "iris"}},
        "spec": {"clusterIP": "None", "selector": {"lepton.ai/job-name": "iris"}, "ports": [{"port": 29500}]},
    }
    serving = Serving(kube, namespace)
    serving.core.create_namespaced_service(namespace, theirs)
    serving.ready_version("iris", "v1")
    serving.create(inference_service("iris", "iris"))
    status = serving.wait_phase("inferenceservices", "iris", "Failed")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ServiceConflict")
    assert "Service iris exists and is not this InferenceService's" in ready["message"]
    service = serving.core.read_namespaced_service("iris", namespace)
    assert service.spec.selector == {"lepton.ai/job-name": "iris"}, "the other owner's Service was changed"
    assert not service.metadata.owner_references
