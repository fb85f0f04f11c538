"""The verification Job of a ModelVersion, compared whole, per scenario."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from lepton.api import ModelVersion
from lepton.builders.artifact import bounded_name
from lepton.builders.serving_config import ServingConfig
from lepton.builders.verification import construct_verification_job, verification_job_name

DIGEST = "sha256:" + "0f" * 32
UID = "11111111-2222-3333-4444-555555555555"


def model_version(
    uri: str = "file:///models/iris/v1", *, digest: str | None = DIGEST, **meta: Any
) -> ModelVersion:
    source: dict[str, Any] = {"uri": uri, "format": "torch-export"}
    if digest:
        source["digest"] = digest
    return ModelVersion.model_validate(
        {
            "metadata": {"name": "iris-v1", "namespace": "ml", "uid": UID, **meta},
            "spec": {"model": "iris", "version": "v1", "source": source},
        }
    )


LABELS = {
    "lepton.ai/model": "iris",
    "lepton.ai/version": "v1",
    "lepton.ai/modelversion-uid": UID,
    "app.kubernetes.io/component": "model-verification",
    "app.kubernetes.io/managed-by": "lepton",
}
SECURE = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def expected_job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "iris-v1-verify",
            "namespace": "ml",
            "labels": LABELS,
            "ownerReferences": [
                {
                    "apiVersion": "lepton.ai/v1alpha1",
                    "kind": "ModelVersion",
                    "name": "iris-v1",
                    "uid": UID,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 900,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "runAsGroup": 1000,
                        "fsGroup": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "initContainers": [
                        {
                            "name": "fetch",
                            "image": "lepton/server:dev",
                            "command": [
                                "lepton-serve",
                                "fetch",
                                "--source",
                                "file:///models/iris/v1",
                                "--dest",
                                "/var/lib/lepton/model",
                                "--pvc-root",
                                "/mnt/pvc",
                            ],
                            "volumeMounts": [
                                {"name": "model", "mountPath": "/var/lib/lepton/model"},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                            "securityContext": SECURE,
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                        }
                    ],
                    "containers": [
                        {
                            "name": "verify",
                            "image": "lepton/server:dev",
                            "command": [
                                "lepton-serve",
                                "--verify",
                                "--model-dir",
                                "/var/lib/lepton/model",
                                "--device",
                                "cpu",
                                "--expect-digest",
                                DIGEST,
                            ],
                            "volumeMounts": [
                                {"name": "model", "mountPath": "/var/lib/lepton/model", "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                            "securityContext": SECURE,
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                        }
                    ],
                    "volumes": [{"name": "model", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def _pvc(job: dict[str, Any]) -> None:
    pod = job["spec"]["template"]["spec"]
    pod["initContainers"][0]["command"][3] = "pvc://models/iris/v1"
    pod["initContainers"][0]["volumeMounts"].append(
        {"name": "pvc-models", "mountPath": "/mnt/pvc/models", "readOnly": True}
    )
    pod["volumes"].append(
        {"name": "pvc-models", "persistentVolumeClaim": {"claimName": "models", "readOnly": True}}
    )


def _no_digest(job: dict[str, Any]) -> None:
    del job["spec"]["template"]["spec"]["containers"][0]["command"][-2:]


def _configured(job: dict[str, Any]) -> None:
    pod = job["spec"]["template"]
    pod["metadata"]["annotations"] = {"sim.lepton.ai/exit-code": "1", "team": "ml"}
    pod["spec"]["nodeSelector"] = {"pool": "cpu"}
    pod["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    for container in (*pod["spec"]["initContainers"], *pod["spec"]["containers"]):
        container["image"] = "registry/lepton-server:1"
    job["spec"]["activeDeadlineSeconds"] = 60
    job["spec"]["ttlSecondsAfterFinished"] = 30


CONFIGURED = ServingConfig(
    verify_image="registry/lepton-server:1",
    verify_pod_annotations={"team": "ml"},
    verify_tolerations=({"key": "k", "operator": "Exists"},),
    verify_node_selector={"pool": "cpu"},
    verify_deadline_seconds=60,
    verify_ttl_seconds=30,
    pod_annotation_prefixes=("sim.lepton.ai/",),
)


@pytest.mark.parametrize(
    ("mv", "config", "change"),
    [
        (model_version(), ServingConfig(), lambda job: None),
        (model_version("pvc://models/iris/v1"), ServingConfig(), _pvc),
        (model_version(digest=None), ServingConfig(), _no_digest),
        (
            model_version(annotations={"sim.lepton.ai/exit-code": "1", "other/key": "x"}),
            CONFIGURED,
            _configured,
        ),
    ],
    ids=["file-source", "pvc-source", "no-digest", "operator-settings-and-copied-annotations"],
)
def test_verification_job(mv: ModelVersion, config: ServingConfig, change: Callable[[dict[str, Any]], None]):
    expected = copy.deepcopy(expected_job())
    change(expected)
    assert construct_verification_job(mv, config) == expected


def test_job_names_stay_short_and_distinct():
    long_a = ModelVersion.model_validate(
        {
            "metadata": {"name": "m" * 60 + "-a"},
            "spec": {"model": "m", "version": "a", "source": {"uri": "file:///x"}},
        }
    )
    long_b = long_a.model_copy(
        update={"metadata": long_a.metadata.model_copy(update={"name": "m" * 60 + "-b"})}
    )
    a, b = verification_job_name(long_a), verification_job_name(long_b)
    assert len(a) <= 63
    assert a.endswith("-verify")
    assert a != b
    assert verification_job_name(long_a) == a
    assert bounded_name("short", "verify") == "short-verify"
