"""The Job that verifies a ModelVersion: fetch the artifact, check its digest, load and warm it up
(`lepton-serve --verify`); its pod's termination message says how it went."""

from __future__ import annotations

from typing import Any

from lepton.api.modelversion import MODEL_LABEL, VERSION_LABEL, ModelVersion
from lepton.builders.artifact import (
    MODEL_DIR,
    artifact_volumes,
    bounded_name,
    fetch_container,
    model_mounts,
)
from lepton.builders.owners import owner_reference
from lepton.builders.security import lepton_container, lepton_pod
from lepton.builders.serving_config import ServingConfig

MODELVERSION_UID_LABEL = "lepton.ai/modelversion-uid"
"""On verification Jobs, their pods and model-server Deployments: the ModelVersion they are for (its
uid: names may be longer than a label value, and a re-created version is another object)."""
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "lepton"
VERIFY_COMPONENT = "model-verification"
VERIFY_CONTAINER = "verify"


def verification_job_name(mv: ModelVersion) -> str:
    return bounded_name(mv.name, "verify")


def verification_labels(mv: ModelVersion) -> dict[str, str]:
    return {
        MODEL_LABEL: mv.spec.model,
        VERSION_LABEL: mv.spec.version,
        MODELVERSION_UID_LABEL: mv.metadata.uid or "",
        COMPONENT_LABEL: VERIFY_COMPONENT,
        MANAGED_BY_LABEL: MANAGED_BY,
    }


def verify_command(mv: ModelVersion) -> list[str]:
    command = ["lepton-serve", "--verify", "--model-dir", MODEL_DIR, "--device", "cpu"]
    if mv.spec.source.digest:
        command += ["--expect-digest", mv.spec.source.digest]
    return command


def construct_verification_job(mv: ModelVersion, config: ServingConfig) -> dict[str, Any]:
    """A one-shot Job (no retries: a corrupt artifact stays corrupt) owned by the ModelVersion."""
    uri = mv.spec.source.uri
    labels = verification_labels(mv)
    annotations = {**config.verify_pod_annotations, **config.copied_annotations(mv.metadata.annotations)}
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": lepton_pod(),
        "initContainers": [fetch_container(uri, config.verify_image)],
        "containers": [
            {
                "name": VERIFY_CONTAINER,
                "image": config.verify_image,
                "command": verify_command(mv),
                "volumeMounts": model_mounts(),
                "securityContext": lepton_container(),
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "FallbackToLogsOnError",
            }
        ],
        "volumes": artifact_volumes(uri),
    }
    if config.verify_node_selector:
        pod_spec["nodeSelector"] = dict(config.verify_node_selector)
    if config.verify_tolerations:
        pod_spec["tolerations"] = [dict(t) for t in config.verify_tolerations]
    template_meta: dict[str, Any] = {"labels": labels}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": verification_job_name(mv),
            "namespace": mv.namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(mv)],
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": config.verify_deadline_seconds,
            "ttlSecondsAfterFinished": config.verify_ttl_seconds,
            "template": {"metadata": template_meta, "spec": pod_spec},
        },
    }
