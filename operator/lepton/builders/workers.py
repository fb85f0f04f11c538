"""Worker pods and the headless Service of a TrainingJob (docs/architecture.md, "Training pods")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lepton.api.trainingjob import TRAINER_CONTAINER, TrainingJob
from lepton.builders.artifact import PVC_ROOT, claim_of, claim_volume_name
from lepton.builders.env import worker_env
from lepton.builders.initializer import initializer_env
from lepton.builders.owners import owner_reference
from lepton.builders.prefer import preferring
from lepton.builders.required import PINNED_ANNOTATION, avoiding, pinnable, pinning
from lepton.builders.security import merged_container, merged_pod

JOB_LABEL = "lepton.ai/job-name"
INDEX_LABEL = "lepton.ai/replica-index"
ATTEMPT_LABEL = "lepton.ai/restart-attempt"
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
TMP_VOLUME = "lepton-tmp"
"""The trainer's writable /tmp under a read-only root: torchrun's log folders, the s3 output's
staging copy, torch's compile caches (the trainer image's HOME is /tmp too)."""
TMP_DIR = "/tmp"  # noqa: S108 - an emptyDir, not the host's /tmp
# Volcano and the scheduler-plugins coscheduler find a pod's PodGroup through these.
VOLCANO_GROUP_ANNOTATION = "scheduling.k8s.io/group-name"
COSCHEDULING_GROUP_LABEL = "scheduling.x-k8s.io/pod-group"
# Rank 0's progress endpoint (lepton.runtime.metrics): the trainer's own LEPTON_METRICS_PORT, else
# the runtime's default; "0" turns it off. The operator polls it for status.progress.
METRICS_PORT_ENV = "LEPTON_METRICS_PORT"
DEFAULT_METRICS_PORT = 9400
METRICS_PATH = "/metrics"


def metrics_port(job: TrainingJob) -> int | None:
    """The port rank 0 serves its metrics on, None when the trainer turned the endpoint off (or set
    it from a reference the operator cannot read)."""
    for var in job.spec.trainer().env or []:
        if var.name == METRICS_PORT_ENV:
            value = var.value or ""
            return int(value) if value.isdigit() and 0 < int(value) <= 65535 else None
    return DEFAULT_METRICS_PORT


def worker_name(job_name: str, index: int) -> str:
    return f"{job_name}-worker-{index}"


def job_selector(job_name: str) -> dict[str, str]:
    return {JOB_LABEL: job_name}


def construct_worker_pod(
    job: TrainingJob,
    index: int,
    attempt: int,
    *,
    pod_group: str | None = None,
    avoid_nodes: Sequence[str] = (),
    place_on: str | None = None,
) -> dict[str, Any]:
    """The pod of worker ``index`` in restart attempt ``attempt``.

    The template is kept as the user wrote it (nodeSelector, tolerations, affinity, volumes, GPU
    resources...); the operator adds identity, DNS name, rendezvous environment and termination
    message settings, and forces restartPolicy Never because restarts are the operator's job.
    Security contexts default to the restricted profile, the trainer's root filesystem to read-only
    with a writable /tmp; what the template sets itself wins (lepton.builders.security).
    ``pod_group`` names the PodGroup for Volcano or the coscheduler when one is used;
    ``avoid_nodes`` are nodes the pod must not be scheduled on (faulty GPUs, held nodes:
    builders.required); ``place_on`` the node admission placed it on: the pod is pinned there
    (builders.required) unless the template asks what admission does not model (``pinnable``) or
    a gang scheduler (``pod_group``) reports every pod of a waiting gang unschedulable: then it
    only prefers the node (builders.prefer).
    """
    spec = job.spec
    template = spec.template.model_dump(by_alias=True, exclude_none=True)
    meta = template.get("metadata") or {}
    # model_dump made the template afresh: its spec is this pod's own to change.
    pinned = pod_group is None and not spec.scheduling.priority_class_name and pinnable(template["spec"])
    pin = place_on if pinned else None
    pod_spec: dict[str, Any] = avoiding(template["spec"], avoid_nodes)
    pod_spec = pinning(pod_spec, pin) if pin else preferring(pod_spec, place_on)
    name = worker_name(job.name, index)

    labels = {
        **(meta.get("labels") or {}),
        JOB_LABEL: job.name,
        INDEX_LABEL: str(index),
        ATTEMPT_LABEL: str(attempt),
    }
    # Only the operator's own pin carries the annotation (one copied into a template would make
    # every unschedulable worker look like a pin to undo).
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != PINNED_ANNOTATION}
    if pin:
        annotations[PINNED_ANNOTATION] = pin
    if pod_group is not None:
        labels[COSCHEDULING_GROUP_LABEL] = pod_group
        annotations[VOLCANO_GROUP_ANNOTATION] = pod_group
    port = metrics_port(job)
    if port is not None and index == 0 and "prometheus.io/scrape" not in annotations:
        # Only rank 0 serves (worker 0: its node rank is 0, and torch's c10d rendezvous ranks nodes
        # by their sorted host names, worker-0 first); annotating the others would only add targets
        # that are always down.
        annotations |= {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": METRICS_PATH,
        }

    pod_spec["hostname"] = name
    pod_spec["subdomain"] = job.name
    pod_spec["restartPolicy"] = "Never"
    pod_spec["terminationGracePeriodSeconds"] = spec.run_policy.termination_grace_period_seconds
    if spec.scheduling.scheduler_name:
        pod_spec["schedulerName"] = spec.scheduling.scheduler_name
    if spec.scheduling.priority_class_name:
        pod_spec["priorityClassName"] = spec.scheduling.priority_class_name

    pod_spec["securityContext"] = merged_pod(pod_spec.get("securityContext"))
    for container in pod_spec.get("initContainers") or []:
        container["securityContext"] = merged_container(container.get("securityContext"), False)
    for container in pod_spec["containers"]:
        trainer = container["name"] == TRAINER_CONTAINER
        # Only the trainer's runtime (lepton-train) is known to write nowhere but its volumes and
        # /tmp; a sidecar's image may write anywhere.
        container["securityContext"] = merged_container(container.get("securityContext"), trainer)
        if not trainer:
            continue
        if container["securityContext"].get("readOnlyRootFilesystem") and not _mounted(container, TMP_DIR):
            _mount(container, _tmp_volume(pod_spec), TMP_DIR)
        user_env = list(container.get("env") or [])
        container["env"] = user_env + worker_env(job, index, attempt) + initializer_env(job)
        container["terminationMessagePath"] = TERMINATION_MESSAGE_PATH
        # On a crash with an empty message, the log tail explains the failure in the pod status.
        container["terminationMessagePolicy"] = "FallbackToLogsOnError"
        if port is not None:
            _declare_port(container, port)
        if spec.checkpoint:
            _mount(container, spec.checkpoint.volume, spec.checkpoint.path)
        claim = claim_of(spec.output.uri) if spec.output and spec.output.uri else None
        if claim is not None:
            # The trainer writes pvc://<claim>/<path> under <PVC_ROOT>/<claim> (lepton.runtime.output).
            _mount(container, _claim_volume(pod_spec, claim), f"{PVC_ROOT}/{claim}")
        if spec.initializers:
            # What the initializer pod fetched, shared by every worker: read-only, so one worker
            # cannot change the data under the others.
            _mount(container, spec.initializers.volume, spec.initializers.path, read_only=True)

    metadata: dict[str, Any] = {
        "name": name,
        "namespace": job.namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(job)],
    }
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}


def _declare_port(container: dict[str, Any], port: int) -> None:
    """Declare the metrics port unless the user declared it already (under any name)."""
    ports = list(container.get("ports") or [])
    if any(p.get("containerPort") == port for p in ports):
        return
    name = "metrics" if all(p.get("name") != "metrics" for p in ports) else "lepton-metrics"
    container["ports"] = [*ports, {"name": name, "containerPort": port, "protocol": "TCP"}]


def _mount(container: dict[str, Any], volume: str, path: str, *, read_only: bool = False) -> None:
    """Mount ``volume`` at ``path`` unless the user already mounted something there."""
    if not _mounted(container, path):
        mounts = container.get("volumeMounts") or []
        mount = {"name": volume, "mountPath": path, **({"readOnly": True} if read_only else {})}
        container["volumeMounts"] = [*mounts, mount]


def _mounted(container: dict[str, Any], path: str) -> bool:
    return any(m.get("mountPath") == path for m in container.get("volumeMounts") or [])


def _tmp_volume(pod_spec: dict[str, Any]) -> str:
    volumes = list(pod_spec.get("volumes") or [])
    if not any(v.get("name") == TMP_VOLUME for v in volumes):
        volumes.append({"name": TMP_VOLUME, "emptyDir": {}})
    pod_spec["volumes"] = volumes
    return TMP_VOLUME


def _claim_volume(pod_spec: dict[str, Any], claim: str) -> str:
    """The name of the pod's volume for ``claim``: the user's own when the template has one."""
    volumes = list(pod_spec.get("volumes") or [])
    for volume in volumes:
        if (volume.get("persistentVolumeClaim") or {}).get("claimName") == claim:
            return str(volume["name"])
    name = claim_volume_name(claim)
    volumes.append({"name": name, "persistentVolumeClaim": {"claimName": claim}})
    pod_spec["volumes"] = volumes
    return name


def construct_service(job: TrainingJob) -> dict[str, Any]:
    """Headless Service giving worker 0 the DNS name <job>-worker-0.<job>.<ns>.svc, ready or not: the
    rendezvous needs its address before any worker is ready.

    It selects worker 0 alone: that is the one name the workers look up (MASTER_ADDR, the c10d
    endpoint); they find each other through the rendezvous store, as torchrun does. Selecting every
    worker made the endpoints controllers rewrite the Service's Endpoints and EndpointSlice at each
    worker's start, about 13 API writes per 4-worker job, more than the operator's own requests."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": job.name,
            "namespace": job.namespace,
            "labels": {JOB_LABEL: job.name},
            "ownerReferences": [owner_reference(job)],
        },
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {**job_selector(job.name), INDEX_LABEL: "0"},
            "ports": [
                {"name": "rendezvous", "port": job.spec.master_port, "targetPort": job.spec.master_port}
            ],
        },
    }
