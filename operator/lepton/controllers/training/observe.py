"""What the controller keeps from watched objects: compact, comparable values for kopf indices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lepton.api.times import epoch_of
from lepton.api.trainingjob import GPU_RESOURCE, TRAINER_CONTAINER
from lepton.builders.initializer import INITIALIZER_LABEL
from lepton.builders.required import PINNED_ANNOTATION
from lepton.builders.workers import ATTEMPT_LABEL, INDEX_LABEL, JOB_LABEL
from lepton.controllers.kit.pod_start import pod_start
from lepton.policies.gpu_health import DISRUPTION_TARGET, NodeHealth
from lepton.policies.initializers import InitContainer, InitPod
from lepton.policies.placement import Placement, Taint, Toleration
from lepton.policies.status import PodState

TERMINAL_PHASES = ("Succeeded", "Failed")


def _quantity(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def pod_gpus(spec: Mapping[str, Any]) -> int:
    total = 0
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        amounts = resources.get("limits") or {}
        if GPU_RESOURCE not in amounts:
            amounts = resources.get("requests") or {}
        total += _quantity(amounts.get(GPU_RESOURCE, 0))
    return total


def pod_state(body: Mapping[str, Any]) -> PodState | None:
    """The worker's state, or None when the pod is not a well-labelled worker."""
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    labels = meta.get("labels") or {}
    try:
        index, attempt = int(labels[INDEX_LABEL]), int(labels[ATTEMPT_LABEL])
    except (KeyError, ValueError):
        return None
    phase = status.get("phase") or "Pending"
    statuses = status.get("containerStatuses") or []
    trainer = next(
        (c for c in statuses if c.get("name") == TRAINER_CONTAINER), statuses[0] if statuses else {}
    )
    terminated = ((trainer.get("state") or {}).get("terminated")) or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    exit_code = terminated.get("exitCode") if terminated else None
    reason = status.get("reason") or terminated.get("reason") or ""
    if status.get("reason") == "Evicted":
        exit_code = None  # an evicted pod did not fail by itself, whatever its container reports
    message = terminated.get("message") if index == 0 else None
    disruption = next(
        (
            str(c.get("reason") or "")
            for c in status.get("conditions") or []
            if c.get("type") == DISRUPTION_TARGET and c.get("status") == "True"
        ),
        None,
    )
    unschedulable = any(
        c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable"
        for c in status.get("conditions") or []
    )
    return PodState(
        name=str(meta.get("name")),
        index=index,
        attempt=attempt,
        phase=phase,
        node=spec.get("nodeName"),
        ready=ready,
        exit_code=int(exit_code) if exit_code is not None else None,
        reason=str(reason),
        termination_message=message,
        deleting=meta.get("deletionTimestamp") is not None,
        finished_at=epoch_of(terminated.get("finishedAt")),
        start=pod_start(body),
        gpus=pod_gpus(spec),
        ip=status.get("podIP") or None,
        disruption=disruption,
        pinned=(meta.get("annotations") or {}).get(PINNED_ANNOTATION),
        unschedulable=unschedulable,
        version=meta.get("resourceVersion"),
    )


def pod_job_key(body: Mapping[str, Any]) -> str | None:
    """namespace/job of a worker or initializer pod."""
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    job = labels.get(JOB_LABEL) or labels.get(INITIALIZER_LABEL)
    return f"{meta.get('namespace')}/{job}" if job else None


def init_pod_state(body: Mapping[str, Any]) -> InitPod:
    """The initializer pod: its phase and, per initializer container, how far it got."""
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    containers = []
    for entry in status.get("containerStatuses") or []:
        state = entry.get("state") or {}
        terminated = state.get("terminated")
        if terminated:
            code = terminated.get("exitCode")
            containers.append(
                InitContainer(
                    str(entry.get("name")),
                    "terminated",
                    int(code) if code is not None else None,
                    terminated.get("message"),
                )
            )
        else:
            containers.append(
                InitContainer(str(entry.get("name")), "running" if "running" in state else "waiting")
            )
    return InitPod(
        name=str(meta.get("name")),
        phase=status.get("phase") or "Pending",
        deleting=meta.get("deletionTimestamp") is not None,
        reason=str(status.get("reason") or ""),
        containers=tuple(sorted(containers, key=lambda c: c.name)),
    )


def bound_gpus(body: Mapping[str, Any]) -> tuple[str, int] | None:
    """(node, GPUs) for a pod that holds GPUs on a node: bound and not finished."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    node = spec.get("nodeName")
    if not node or status.get("phase") in TERMINAL_PHASES:
        return None
    gpus = pod_gpus(spec)
    return (str(node), gpus) if gpus > 0 else None


@dataclass(frozen=True)
class NodeInfo:
    name: str
    allocatable_gpus: int
    ready: bool
    unschedulable: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    ready_changed: float | None = None  # lastTransitionTime of the Ready condition
    capacity_gpus: int = 0
    problems: Mapping[str, str] = field(default_factory=dict)
    """Conditions other than Ready that are True (type -> reason): what health agents report."""

    @property
    def health(self) -> NodeHealth:
        return NodeHealth(self.name, self.capacity_gpus, self.allocatable_gpus, self.problems)


def node_info(body: Mapping[str, Any]) -> NodeInfo:
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    conditions = status.get("conditions") or []
    condition: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    ready = condition.get("status") == "True"
    taints = tuple(
        Taint(str(t.get("key", "")), str(t.get("value", "")), str(t.get("effect", "")))
        for t in spec.get("taints") or []
    )
    return NodeInfo(
        name=str(meta.get("name")),
        allocatable_gpus=_quantity((status.get("allocatable") or {}).get(GPU_RESOURCE, 0)),
        ready=ready,
        unschedulable=bool(spec.get("unschedulable")),
        labels=dict(meta.get("labels") or {}),
        taints=taints,
        ready_changed=epoch_of(condition.get("lastTransitionTime")),
        capacity_gpus=_quantity((status.get("capacity") or {}).get(GPU_RESOURCE, 0)),
        # Only True conditions are kept: a healthy node's index value stays small.
        problems={
            str(c.get("type")): str(c.get("reason") or "")
            for c in conditions
            if c.get("type") != "Ready" and c.get("status") == "True"
        },
    )


def placement(pod_spec: Mapping[str, Any]) -> Placement:
    tolerations = [
        Toleration(
            key=str(t.get("key") or ""),
            operator=str(t.get("operator") or "Equal"),
            value=str(t.get("value") or ""),
            effect=str(t.get("effect") or ""),
        )
        for t in pod_spec.get("tolerations") or []
    ]
    return Placement.of(pod_spec.get("nodeSelector") or {}, tolerations)
