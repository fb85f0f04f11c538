"""TrainingJob: N torch.distributed workers of G GPUs each, admitted as a gang, restarted on failure,
recording their result as a ModelVersion."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from lepton.api.common import (
    URI_PATTERN,
    Container,
    DnsLabel,
    LeptonModel,
    ObjectBase,
    PodTemplate,
    cel,
    validations,
)
from lepton.api.initializers import Initializers
from lepton.api.trainingjob_status import (
    FINISHED_PHASES,
    MAX_REPLICAS,
    MAX_RESTART_HISTORY,
    Progress,
    ReplicaCounts,
    RestartAction,
    RestartCause,
    RestartRecord,
    TrainingJobConditionType,
    TrainingJobPhase,
    TrainingJobReason,
    TrainingJobStatus,
)

# Re-exported: the status half lives in lepton.api.trainingjob_status; callers import from here.
__all__ = [
    "FINISHED_PHASES",
    "MAX_REPLICAS",
    "MAX_RESTART_HISTORY",
    "Progress",
    "ReplicaCounts",
    "RestartAction",
    "RestartCause",
    "RestartRecord",
    "TrainingJobConditionType",
    "TrainingJobPhase",
    "TrainingJobReason",
    "TrainingJobStatus",
]

KIND = "TrainingJob"
PLURAL = "trainingjobs"
SINGULAR = "trainingjob"
SHORT_NAMES = ["tj"]

TRAINER_CONTAINER = "trainer"
DEFAULT_MASTER_PORT = 29500
GPU_RESOURCE = "nvidia.com/gpu"
# Pods are named <job>-worker-<i> and used as hostnames (DNS labels, <= 63): with at most 1000
# replicas the index has at most 3 digits, which leaves 63 - len("-worker-") - 3 = 52 for the name.
MAX_NAME_LENGTH = 52


class RestartPolicy(StrEnum):
    """When failed workers are restarted (the whole gang restarts together)."""

    ON_FAILURE = "OnFailure"
    NEVER = "Never"
    EXIT_CODE = "ExitCode"


class CleanPodPolicy(StrEnum):
    """Which pods are deleted when the job finishes."""

    RUNNING = "Running"
    ALL = "All"
    NONE = "None"


class OutputFormat(StrEnum):
    """Format in which rank 0 writes the trained model. TorchScript is deprecated and never written."""

    TORCH_EXPORT = "torch-export"
    SAFETENSORS = "safetensors"


class ElasticPolicy(LeptonModel):
    """Elastic training (torchrun --nnodes=min:max with the c10d rendezvous): the job runs with any
    number of workers between minReplicas and maxReplicas (status.size): admitted at the largest
    size that fits, grown when GPUs free up, shrunk when workers are lost with their node."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            [
                cel(
                    "self.minReplicas <= self.maxReplicas",
                    "elastic.minReplicas must be less than or equal to elastic.maxReplicas",
                    field_path=".minReplicas",
                )
            ]
        )
    )

    min_replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)]
    """Fewest workers the job runs with."""
    max_replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)]
    """Most workers the job runs with."""
    max_restarts: Annotated[int, Field(ge=0, le=100)] = 3
    """How many times torchrun restarts the worker group in place (PET_MAX_RESTARTS) before the pod fails."""

    @model_validator(mode="after")
    def _bounds(self) -> ElasticPolicy:
        if self.min_replicas > self.max_replicas:
            raise ValueError("elastic.minReplicas must be less than or equal to elastic.maxReplicas")
        return self


class SchedulingPolicy(LeptonModel):
    """How the workers are scheduled."""

    gang: bool = True
    """Admit the job only when all its workers (minReplicas when elastic) fit at once, so partial
    gangs never hold GPUs while waiting for the rest."""
    priority_class_name: Annotated[str, StringConstraints(max_length=253)] | None = None
    """PriorityClass of the worker pods; higher-priority jobs are admitted first."""
    scheduler_name: Annotated[str, StringConstraints(max_length=253)] | None = None
    """Scheduler of the worker pods (default: the cluster's default scheduler)."""
    queue: DnsLabel | None = None
    """Name of the ClusterQueue the job waits in (its GPU quota and queueing strategy); jobs of one
    queue are admitted in order of priority, then age. Unset: the default queue (no quota,
    BestEffortFIFO). A queue that does not exist keeps the job Queued (QueueNotFound)."""
    preemptible: bool = False
    """Let a job of higher priority in the same queue that does not fit stop this one (the whole
    gang, never part of it): its workers get SIGTERM and their grace period to checkpoint, and the
    job goes back to the queue (Queued, Preempted) without spending its restart budget. Needs gang:
    true (a job that skips admission would take the freed GPUs straight back)."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            [
                cel(
                    "!has(self.preemptible) || !self.preemptible || !has(self.gang) || self.gang",
                    "scheduling.preemptible needs scheduling.gang: true (a job without gang admission "
                    "would take the freed GPUs straight back)",
                    field_path=".preemptible",
                )
            ]
        )
    )


class RunPolicy(LeptonModel):
    """How failures, deadlines and cleanup are handled."""

    backoff_limit: Annotated[int, Field(ge=0, le=100)] = 3
    """How many times the job is restarted after a retryable failure before it fails (restarts
    after node loss or a hardware fault do not count)."""
    max_restarts_per_worker: Annotated[int, Field(ge=0, le=100)] | None = None
    """How many charged restarts one worker (replica index) may cause before the job fails
    (WorkerRestartLimitExceeded); unset: only backoffLimit applies. Restarts after node loss or a
    hardware fault are never charged."""
    restart_policy: RestartPolicy = RestartPolicy.ON_FAILURE
    """When to restart: OnFailure restarts after any worker failure (up to backoffLimit); Never fails
    the job on the first worker failure; ExitCode restarts only for retryable failures: a worker
    exit code of 128-255 (killed by a signal: preemption, OOM kill, node shutdown) or a lost pod
    (evicted, node failure), while an exit code of 1-127 is the program's own error and fails the
    job at once."""
    active_deadline_seconds: Annotated[int, Field(ge=1)] | None = None
    """Seconds the job may run, counted from its start (its admission; restarts included), before it
    is failed. Admission plans with it: a job bound to end before the nodes held for a queue's
    reservation drain may run on them (backfill)."""
    ttl_seconds_after_finished: Annotated[int, Field(ge=0)] | None = None
    """Seconds after the job finishes at which it is deleted; unset keeps it."""
    clean_pod_policy: CleanPodPolicy = CleanPodPolicy.RUNNING
    """Pods deleted when the job finishes: Running (those still running; finished ones are kept for
    their logs), All, or None."""
    suspend: bool = False
    """Suspend the job: its pods are deleted (progress lives in checkpoints) and it is not admitted
    until suspend is false again."""
    termination_grace_period_seconds: Annotated[int, Field(ge=0, le=3600)] = 30
    """Seconds workers get to save a checkpoint and exit after SIGTERM when the operator stops them
    (suspend, restart, deadline, cleanup)."""


class CheckpointSpec(LeptonModel):
    """Where workers save and resume checkpoints."""

    volume: DnsLabel
    """Name of a volume in template.spec.volumes holding the checkpoints (a shared PVC for multi-node
    jobs)."""
    path: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^/")] = "/checkpoints"
    """Absolute path at which the volume is mounted into the trainer container (LEPTON_CHECKPOINT_DIR)."""


class OutputSpec(LeptonModel):
    """Where the trained model goes and which ModelVersion records it."""

    model: DnsLabel
    """Name of the model the job trains (a DNS label); the result is a ModelVersion of this model."""
    version: DnsLabel | None = None
    """Version of the new ModelVersion (a DNS label, not "latest"); defaults to the job's name."""
    uri: Annotated[str, StringConstraints(max_length=2048, pattern=URI_PATTERN)] | None = None
    """URI under which rank 0 writes the artifact (LEPTON_OUTPUT_URI), e.g. pvc://models/resnet or
    s3://bucket/models; unset lets the trainer decide and report it in its termination message."""
    format: OutputFormat = OutputFormat.TORCH_EXPORT
    """Format of the artifact: torch-export or safetensors."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            [
                cel(
                    "!has(self.version) || self.version != 'latest'",
                    "output.version must not be 'latest' (reserved for the newest version)",
                    field_path=".version",
                )
            ]
        )
    )


_TEMPLATE_RULES = [
    cel(
        f"self.spec.containers.exists(c, c.name == '{TRAINER_CONTAINER}')",
        f"template.spec.containers must include a container named '{TRAINER_CONTAINER}'",
        field_path=".spec.containers",
    ),
    cel(
        "!has(self.spec.restartPolicy) || self.spec.restartPolicy == 'Never'",
        "template.spec.restartPolicy must be Never (Lepton restarts workers, see spec.runPolicy)",
        field_path=".spec.restartPolicy",
    ),
]

_SPEC_RULES = [
    cel(
        "!has(self.elastic) || (self.elastic.minReplicas <= self.replicas"
        " && self.replicas <= self.elastic.maxReplicas)",
        "replicas must be within elastic.minReplicas and elastic.maxReplicas",
        field_path=".replicas",
    ),
    cel(
        "!has(self.checkpoint) || (has(self.template.spec.volumes)"
        " && self.template.spec.volumes.exists(v, v.name == self.checkpoint.volume))",
        "checkpoint.volume must name a volume in template.spec.volumes",
        field_path=".checkpoint.volume",
    ),
    cel(
        "!has(self.initializers) || (has(self.template.spec.volumes)"
        " && self.template.spec.volumes.exists(v, v.name == self.initializers.volume))",
        "initializers.volume must name a volume in template.spec.volumes",
        field_path=".initializers.volume",
    ),
]


class TrainingJobSpec(LeptonModel):
    """Desired state of a TrainingJob."""

    model_config = ConfigDict(json_schema_extra=validations(_SPEC_RULES))

    replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = 1
    """Number of worker pods (torchrun nodes). With elastic it must lie within minReplicas and
    maxReplicas and sizing does not read it: the job is admitted at the largest size that fits,
    from maxReplicas down to minReplicas, and status.size says how many workers it runs."""
    nproc_per_node: Annotated[int, Field(ge=1, le=128)] | None = None
    """Processes per worker pod (torchrun --nproc-per-node); unset: the pod's GPUs, or 1 without GPUs.
    WORLD_SIZE is replicas x nprocPerNode."""
    master_port: Annotated[int, Field(ge=1, le=65535)] = DEFAULT_MASTER_PORT
    """TCP port of the rendezvous on worker 0 (MASTER_PORT)."""
    template: Annotated[PodTemplate, Field(json_schema_extra=validations(_TEMPLATE_RULES))]
    """Pod template of the workers; it must have a container named 'trainer' (the operator injects the
    rendezvous environment into it) and restartPolicy Never (or unset). Its schema is core/v1
    PodTemplateSpec's: a field of the wrong type is refused when the job is applied."""
    elastic: ElasticPolicy | None = None
    """Elastic training bounds; unset runs exactly `replicas` workers."""
    scheduling: SchedulingPolicy = Field(default_factory=SchedulingPolicy)
    """Gang admission and scheduler settings."""
    run_policy: RunPolicy = Field(default_factory=RunPolicy)
    """Restart, deadline, cleanup and suspension policy."""
    checkpoint: CheckpointSpec | None = None
    """Checkpoint storage; unset means restarts begin from scratch."""
    output: OutputSpec | None = None
    """Where the model goes and which ModelVersion records it; unset records no ModelVersion."""
    initializers: Initializers | None = None
    """A dataset and/or base model fetched once, before the workers start, into a shared volume
    (condition Initialized); unset starts the workers at once."""

    @model_validator(mode="after")
    def _cross_field(self) -> TrainingJobSpec:
        if self.template.container(TRAINER_CONTAINER) is None:
            raise ValueError(_TEMPLATE_RULES[0].message)
        if self.template.spec.restart_policy not in (None, "Never"):
            raise ValueError(_TEMPLATE_RULES[1].message)
        if self.elastic and not self.elastic.min_replicas <= self.replicas <= self.elastic.max_replicas:
            raise ValueError(_SPEC_RULES[0].message)
        volumes = {v.name for v in self.template.spec.volumes or []}
        if self.checkpoint and self.checkpoint.volume not in volumes:
            raise ValueError(_SPEC_RULES[1].message)
        if self.initializers and self.initializers.volume not in volumes:
            raise ValueError(_SPEC_RULES[2].message)
        if self.output and self.output.version == "latest":
            raise ValueError("output.version must not be 'latest' (reserved for the newest version)")
        return self

    def trainer(self) -> Container:
        """The trainer container (validation guarantees there is one)."""
        container = self.template.container(TRAINER_CONTAINER)
        assert container is not None
        return container

    def gpus_per_replica(self) -> int:
        """GPUs of one worker pod: the trainer's nvidia.com/gpu limit (else request), 0 without."""
        resources = self.trainer().resources
        for amounts in (resources.limits, resources.requests) if resources else ():
            if amounts and GPU_RESOURCE in amounts:
                return int(amounts[GPU_RESOURCE])
        return 0

    def effective_nproc_per_node(self) -> int:
        """nprocPerNode, defaulting to the GPUs per pod, or 1 without GPUs."""
        return self.nproc_per_node or self.gpus_per_replica() or 1


class TrainingJob(ObjectBase):
    """A distributed PyTorch training job: `replicas` worker pods running torch.distributed, admitted as
    a gang, restarted on retryable failure; its result is recorded as a ModelVersion."""

    KIND: ClassVar[str] = KIND
    PLURAL: ClassVar[str] = PLURAL

    kind: Literal["TrainingJob"] = "TrainingJob"
    """Kind of the object: TrainingJob."""
    spec: TrainingJobSpec
    """Desired state of the job."""
    status: TrainingJobStatus | None = None
    """Observed state of the job (written by the operator)."""
