"""The ModelVersion recording a finished job's result, from rank 0's termination message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lepton.api.modelversion import MODEL_LABEL, VERSION_LABEL, model_version_name
from lepton.api.trainingjob import TrainingJob
from lepton.builders.workers import JOB_LABEL

MAX_TERMINATION_MESSAGE = 4096


@dataclass(frozen=True)
class TrainingResult:
    metrics: dict[str, float]
    artifact: dict[str, str] | None


class ResultError(ValueError):
    """Rank 0's termination message is not the JSON object the contract describes."""


def parse_termination_message(message: str | None) -> TrainingResult:
    if not message or not message.strip():
        raise ResultError("rank 0 wrote no termination message")
    if len(message.encode()) > MAX_TERMINATION_MESSAGE:
        raise ResultError(f"termination message is longer than {MAX_TERMINATION_MESSAGE} bytes")
    try:
        data = json.loads(message)
    except json.JSONDecodeError as exc:
        raise ResultError(f"termination message is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ResultError("termination message is not a JSON object")
    raw_metrics = data.get("metrics") or {}
    if not isinstance(raw_metrics, dict):
        raise ResultError("termination message: metrics is not an object")
    metrics = {
        str(k): float(v)
        for k, v in raw_metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    artifact = data.get("artifact")
    if artifact is not None and not (isinstance(artifact, dict) and isinstance(artifact.get("uri"), str)):
        raise ResultError("termination message: artifact must be an object with a uri")
    clean = {k: str(v) for k, v in artifact.items() if k in ("uri", "digest", "format")} if artifact else None
    return TrainingResult(metrics=metrics, artifact=clean)


def model_version_for(job: TrainingJob) -> tuple[str, str, str] | None:
    """(object name, model, version) of the job's ModelVersion, or None when spec.output is unset."""
    output = job.spec.output
    if output is None:
        return None
    version = output.version or job.name
    return model_version_name(output.model, version), output.model, version


def construct_model_version(job: TrainingJob, result: TrainingResult) -> dict[str, Any] | None:
    """The ModelVersion of a succeeded job. Not owned by the job: models outlive their training."""
    names = model_version_for(job)
    output = job.spec.output
    if names is None or output is None or result.artifact is None:
        return None
    name, model, version = names
    source: dict[str, str] = {
        "uri": result.artifact["uri"],
        "format": result.artifact.get("format") or output.format.value,
    }
    if result.artifact.get("digest"):
        source["digest"] = result.artifact["digest"]
    spec: dict[str, Any] = {
        "model": model,
        "version": version,
        "source": source,
        "framework": "pytorch",
        "origin": {"trainingJob": {"name": job.name, "uid": job.metadata.uid}},
    }
    if result.metrics:
        spec["metrics"] = result.metrics
    return {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {
            "name": name,
            "namespace": job.namespace,
            "labels": {MODEL_LABEL: model, VERSION_LABEL: version, JOB_LABEL: job.name},
        },
        "spec": spec,
    }
