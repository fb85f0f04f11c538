"""The CRDs as users meet them on a real API server: defaults, kubectl explain, categories, printer
columns, the scale subresource, and status conditions that `kubectl wait` understands."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_manifests import INFERENCESERVICE, MODELVERSION, TRAININGJOB, dump

from lepton.api import (
    InferenceServiceSpec,
    ModelVersionSpec,
    ReplicaCounts,
    TrainingJob,
    TrainingJobPhase,
    TrainingJobReason,
    TrainingJobSpec,
    TrainingJobStatus,
    set_condition,
)

pytestmark = pytest.mark.integration


def create_all(kubectl, namespace: str) -> None:
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input="---\n".join(dump(d) for d in (TRAININGJOB, MODELVERSION, INFERENCESERVICE)),
    )


def read(kubectl, namespace: str, resource: str) -> dict[str, Any]:
    return json.loads(kubectl("get", resource, "-n", namespace, "-o", "json").stdout)


def test_defaults_are_applied_by_the_server_and_match_the_models(lepton_crds, kubectl, namespace):
    create_all(kubectl, namespace)
    job = read(kubectl, namespace, "tj/job")["spec"]
    assert job["replicas"] == 1
    assert job["masterPort"] == 29500
    assert "nprocPerNode" not in job
    assert job["scheduling"] == {"gang": True, "preemptible": False}
    assert job["runPolicy"] == {
        "backoffLimit": 3,
        "restartPolicy": "OnFailure",
        "cleanPodPolicy": "Running",
        "suspend": False,
        "terminationGracePeriodSeconds": 30,
    }
    service = read(kubectl, namespace, "lisvc/svc")["spec"]
    assert service["model"] == {"name": "classifier", "version": "latest"}
    assert service["server"] == {"image": "lepton/server:dev", "port": 8080}
    assert service["rollout"]["strategy"] == "Canary"
    assert service["rollout"]["steps"] == [
        {"weight": 20, "pauseSeconds": 60},
        {"weight": 50, "pauseSeconds": 60},
    ]
    version = read(kubectl, namespace, "mv/classifier-v1")["spec"]
    assert version["source"]["format"] == "torch-export"
    assert version["framework"] == "pytorch"
    # The server's defaults and the models' defaults are the same source of truth.
    for model, spec in ((TrainingJobSpec, job), (InferenceServiceSpec, service), (ModelVersionSpec, version)):
        assert model.model_validate(spec).model_dump(by_alias=True, exclude_none=True, mode="json") == spec


def test_nested_defaults_apply_inside_objects_the_user_gives(lepton_crds, kubectl, namespace):
    doc = json.loads(json.dumps(INFERENCESERVICE))
    doc["spec"]["autoscaling"] = {"maxReplicas": 3, "target": 5}
    kubectl("apply", "-n", namespace, "-f", "-", input=dump(doc))
    autoscaling = read(kubectl, namespace, "lisvc/svc")["spec"]["autoscaling"]
    assert autoscaling["minReplicas"] == 1
    assert autoscaling["metric"] == "rps"
    assert autoscaling["tolerance"] == 0.1
    assert autoscaling["pollSeconds"] == 5
    assert autoscaling["failureThreshold"] == 3
    # HPA's behavior defaults are applied by the operator (Autoscaling.rules), not written by the server.
    assert "behavior" not in autoscaling


def test_kubectl_explain_prints_field_descriptions(lepton_crds, kubectl):
    out = kubectl("explain", "trainingjob.spec.runPolicy").stdout
    assert "Restart, deadline, cleanup and suspension policy." in out
    for field, words in {
        "backoffLimit": "restarted after a retryable failure",
        "restartPolicy": "exit code of 128-255",
        "cleanPodPolicy": "Pods deleted when the job finishes",
        "terminationGracePeriodSeconds": "save a checkpoint",
    }.items():
        assert field in out
        assert words in " ".join(out.split()), f"{field}: {words!r} not in {out}"
    template = " ".join(kubectl("explain", "tj.spec.template").stdout.split())
    assert "Its schema is core/v1 PodTemplateSpec's: a field of the wrong type is refused" in template


def test_category_lepton_lists_all_three_kinds(lepton_crds, kubectl, namespace):
    create_all(kubectl, namespace)
    # ClusterQueues are in the category too, but cluster-scoped: other tests' may be listed.
    listed = kubectl("get", "lepton", "-n", namespace, "-o", "name").stdout.split()
    names = {n for n in listed if not n.startswith("clusterqueue.")}
    assert names == {
        "trainingjob.lepton.ai/job",
        "modelversion.lepton.ai/classifier-v1",
        "inferenceservice.lepton.ai/svc",
    }
    short = set(kubectl("get", "tj,mv,lisvc", "-n", namespace, "-o", "name").stdout.split())
    assert short == names


@pytest.mark.parametrize(
    ("resource", "header"),
    [
        (
            "tj",
            [
                "NAME",
                "PHASE",
                "READY",
                "WORKERS",
                "SIZE",
                "GPUS",
                "RESTARTS",
                "STEP",
                "LOSS",
                "POSITION",
                "WAITING",
                "FOR",
                "AGE",
            ],
        ),
        ("mv", ["NAME", "MODEL", "VERSION", "PHASE", "AGE"]),
        (
            "lisvc",
            ["NAME", "MODEL", "VERSION", "READY", "DESIRED", "AUTOSCALED", "CANARY", "PHASE", "URL", "AGE"],
        ),
    ],
)
def test_printer_columns(lepton_crds, kubectl, namespace, resource: str, header: list[str]):
    create_all(kubectl, namespace)
    lines = kubectl("get", resource, "-n", namespace).stdout.splitlines()
    assert lines[0].split() == header
    assert len(lines) == 2


def test_kubectl_scale_changes_spec_replicas(lepton_crds, kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=dump(INFERENCESERVICE))
    kubectl("scale", "lisvc/svc", "-n", namespace, "--replicas=3")
    assert read(kubectl, namespace, "lisvc/svc")["spec"]["replicas"] == 3
    scale = json.loads(
        kubectl("get", "lisvc/svc", "-n", namespace, "--subresource=scale", "-o", "json").stdout
    )
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 3


def test_status_written_from_the_models_is_accepted_and_kubectl_wait_sees_conditions(
    lepton_crds, kubectl, namespace
):
    kubectl("apply", "-n", namespace, "-f", "-", input=dump(TRAININGJOB))
    job = TrainingJob.model_validate(read(kubectl, namespace, "tj/job"))
    conditions = set_condition([], TrainingJobPhase.RUNNING, False, TrainingJobReason.SUCCEEDED)
    conditions = set_condition(
        conditions, TrainingJobPhase.SUCCEEDED, True, TrainingJobReason.SUCCEEDED, "all workers exited 0",
        observed_generation=job.metadata.generation,
    )  # fmt: skip
    status = TrainingJobStatus(
        phase=TrainingJobPhase.SUCCEEDED,
        conditions=conditions,
        replicas=ReplicaCounts(succeeded=1),
        gpus=0,
        metrics={"loss": 0.01, "epoch": 10},
        observed_generation=job.metadata.generation,
    )
    patch = json.dumps({"status": status.model_dump(by_alias=True, exclude_none=True, mode="json")})
    kubectl("patch", "tj/job", "-n", namespace, "--subresource=status", "--type=merge", "-p", patch)
    kubectl("wait", "--for=condition=Succeeded", "tj/job", "-n", namespace, "--timeout=20s")
    stored = TrainingJob.model_validate(read(kubectl, namespace, "tj/job"))
    assert stored.status == status
    row = kubectl("get", "tj/job", "-n", namespace, "--no-headers").stdout.split()
    assert row[1:6] == ["Succeeded", "0", "1", "0", "0"]
