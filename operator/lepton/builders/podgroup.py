"""PodGroups for the gang schedulers Lepton cooperates with (Volcano, scheduler-plugins coscheduler)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from lepton.api.trainingjob import TrainingJob
from lepton.builders.owners import owner_reference


@dataclass(frozen=True)
class PodGroupKind:
    group: str
    version: str
    plural: str = "podgroups"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


class GangScheduler(enum.Enum):
    VOLCANO = PodGroupKind("scheduling.volcano.sh", "v1beta1")
    COSCHEDULING = PodGroupKind("scheduling.x-k8s.io", "v1alpha1")


# schedulerName values that mean "this gang scheduler" in their usual deployments.
SCHEDULER_NAMES: dict[str, GangScheduler] = {
    "volcano": GangScheduler.VOLCANO,
    "scheduler-plugins-scheduler": GangScheduler.COSCHEDULING,
    "coscheduler": GangScheduler.COSCHEDULING,
}


def gang_scheduler(job: TrainingJob) -> GangScheduler | None:
    name = job.spec.scheduling.scheduler_name
    return SCHEDULER_NAMES.get(name) if name else None


def construct_pod_group(job: TrainingJob, scheduler: GangScheduler) -> dict[str, Any]:
    spec = job.spec
    min_member = spec.elastic.min_replicas if spec.elastic else spec.replicas
    body_spec: dict[str, Any] = {"minMember": min_member}
    if scheduler is GangScheduler.VOLCANO:
        gpus = spec.gpus_per_replica() * min_member
        if gpus:
            body_spec["minResources"] = {"nvidia.com/gpu": str(gpus)}
        if spec.scheduling.queue:
            body_spec["queue"] = spec.scheduling.queue
        if spec.scheduling.priority_class_name:
            body_spec["priorityClassName"] = spec.scheduling.priority_class_name
    kind = scheduler.value
    return {
        "apiVersion": kind.api_version,
        "kind": "PodGroup",
        "metadata": {
            "name": job.name,
            "namespace": job.namespace,
            "labels": {"lepton.ai/job-name": job.name},
            "ownerReferences": [owner_reference(job)],
        },
        "spec": body_spec,
    }
