"""The initializer pod of a TrainingJob: one container per initializer (dataset, model) running
`lepton-init` in parallel, writing into the job's shared volume before any worker exists
(docs/architecture.md, "Initializers")."""

from __future__ import annotations

import copy
from typing import Any

from lepton.api.trainingjob import TrainingJob
from lepton.builders.artifact import PVC_ROOT, claim_of, claim_volume_name
from lepton.builders.owners import owner_reference

INITIALIZER_LABEL = "lepton.ai/initializer-of"
"""Label of the initializer pod, naming its job. Not lepton.ai/job-name: the pod is no worker, and
the job's Service and worker listings select on that."""
DATASET_DIR_ENV = "LEPTON_DATASET_DIR"
MODEL_DIR_ENV = "LEPTON_MODEL_DIR"
DIR_ENV = {"dataset": DATASET_DIR_ENV, "model": MODEL_DIR_ENV}
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
# Pod-level fields of the template the initializer pod shares with the workers: where it may run
# (the volume may be zonal), how it pulls the image and which identity it has (for s3 access).
_SHARED_POD_FIELDS = (
    "nodeSelector",
    "tolerations",
    "affinity",
    "imagePullSecrets",
    "serviceAccountName",
    "securityContext",
    "priorityClassName",
)


def initializer_pod_name(job_name: str) -> str:
    # Job names are at most 52 characters, so "-init" keeps the pod name a DNS label.
    return f"{job_name}-init"


def initializer_violation(job: TrainingJob) -> str | None:
    """Why the job's initializers cannot run, or None: the shared volume must be one a separate
    pod can see (an emptyDir lives and dies with one pod), and the workers' directory variables
    are the operator's to set."""
    init = job.spec.initializers
    if init is None:
        return None
    raw = job.spec.template.model_dump(by_alias=True, exclude_none=True)["spec"]
    volume = next(v for v in raw.get("volumes") or [] if v.get("name") == init.volume)
    if "emptyDir" in volume or "ephemeral" in volume:
        return (
            f"initializers.volume {init.volume} is a pod-local volume: the initializer pod cannot "
            "share it with the workers; use a PersistentVolumeClaim (ReadWriteMany for several workers)"
        )
    taken = sorted({e.name for e in job.spec.trainer().env or []} & set(DIR_ENV.values()))
    if taken:
        return f"template container 'trainer' sets {', '.join(taken)}, which spec.initializers sets"
    return None


def construct_initializer_pod(job: TrainingJob) -> dict[str, Any]:
    init = job.spec.initializers
    assert init is not None, "only jobs with spec.initializers have an initializer pod"
    template = job.spec.template.model_dump(by_alias=True, exclude_none=True)
    raw_spec: dict[str, Any] = template["spec"]
    shared = next(v for v in raw_spec.get("volumes") or [] if v.get("name") == init.volume)
    volumes: list[dict[str, Any]] = [copy.deepcopy(shared)]
    image = init.image or job.spec.trainer().image
    containers = []
    for name, source in init.sources().items():
        command = ["lepton-init", "--name", name, "--source", source.uri, "--dest", init.directory(name)]
        if source.digest:
            command += ["--digest", source.digest]
        mounts: list[dict[str, Any]] = [{"name": init.volume, "mountPath": init.path}]
        claim = claim_of(source.uri)
        if claim is not None:
            command += ["--pvc-root", PVC_ROOT]
            mounts.append(_claim_mount(volumes, claim))
        container: dict[str, Any] = {
            "name": name,
            "image": image,
            "command": command,
            "volumeMounts": mounts,
            "terminationMessagePath": TERMINATION_MESSAGE_PATH,
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }
        if init.env:
            container["env"] = [e.model_dump(by_alias=True, exclude_none=True) for e in init.env]
        containers.append(container)
    pod_spec: dict[str, Any] = {k: copy.deepcopy(raw_spec[k]) for k in _SHARED_POD_FIELDS if k in raw_spec}
    pod_spec |= {"restartPolicy": "Never", "containers": containers, "volumes": volumes}
    if job.spec.scheduling.scheduler_name:
        pod_spec["schedulerName"] = job.spec.scheduling.scheduler_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": initializer_pod_name(job.name),
            "namespace": job.namespace,
            "labels": {INITIALIZER_LABEL: job.name},
            "ownerReferences": [owner_reference(job)],
        },
        "spec": pod_spec,
    }


def _claim_mount(volumes: list[dict[str, Any]], claim: str) -> dict[str, Any]:
    """Mount the source claim read-only, reusing the volume already added for it."""
    existing = next(
        (v for v in volumes if (v.get("persistentVolumeClaim") or {}).get("claimName") == claim), None
    )
    if existing is None:
        existing = {
            "name": claim_volume_name(claim),
            "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
        }
        volumes.append(existing)
    return {"name": existing["name"], "mountPath": f"{PVC_ROOT}/{claim}", "readOnly": True}


def initializer_env(job: TrainingJob) -> list[dict[str, str]]:
    """LEPTON_DATASET_DIR / LEPTON_MODEL_DIR of the trainer container."""
    init = job.spec.initializers
    if init is None:
        return []
    return [{"name": DIR_ENV[name], "value": init.directory(name)} for name in init.sources()]
