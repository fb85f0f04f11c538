"""TrainingJob: N torch.distributed workers of G GPUs each, admitted as a gang, restarted on failure,
recording their result as a ModelVersion."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from lepton.api.common import (
    URI_PATTERN,
    ConditionList,
    Container,
    DnsLabel,
    LeptonModel,
    Metrics,
    ModelSource,
    ObjectBase,
    PodTemplate,
    Timestamp,
    cel,
    validations,
)
from lepton.api.initializers import Initializers

KIND = "TrainingJob"
PLURAL = "trainingjobs"
SINGULAR = "trainingjob"
SHORT_NAMES = ["tj"]

TRAINER_CONTAINER = "trainer"
DEFAULT_MASTER_PORT = 29500
GPU_RESOURCE = "nvidia.com/gpu"
MAX_REPLICAS = 1000
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


class TrainingJobPhase(StrEnum):
    """Where a TrainingJob is in its life."""

    CREATED = "Created"
    QUEUED = "Queued"
    ADMITTED = "Admitted"
    RUNNING = "Running"
    RESTARTING = "Restarting"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"

    @property
    def finished(self) -> bool:
        return self in (TrainingJobPhase.SUCCEEDED, TrainingJobPhase.FAILED)

    @property
    def holds_admission(self) -> bool:
        """Admitted or Running: the job's GPUs are set aside for it."""
        return self in (TrainingJobPhase.ADMITTED, TrainingJobPhase.RUNNING)


TrainingJobConditionType = TrainingJobPhase
"""Condition types of a TrainingJob: one per phase (Created, Queued, Admitted, Running, Restarting,
Succeeded, Failed, Suspended), so `kubectl wait --for=condition=Succeeded tj/x` works."""

FINISHED_PHASES = frozenset({TrainingJobPhase.SUCCEEDED, TrainingJobPhase.FAILED})


class TrainingJobReason(StrEnum):
    """Reasons the operator gives in TrainingJob conditions and events (and only these)."""

    CREATED = "Created"
    WAITING_FOR_GPUS = "WaitingForGPUs"
    """Queued: the gang does not fit on the free GPUs yet (the message says what it waits for)."""
    ADMITTED = "Admitted"
    ALL_WORKERS_RUNNING = "AllWorkersRunning"
    STOPPING_WORKERS = "StoppingWorkers"
    """Rank 0 succeeded; the other workers get the success grace period to finish."""
    SUCCEEDED = "Succeeded"
    WORKER_FAILED = "WorkerFailed"
    WORKER_REPLACED = "WorkerReplaced"
    """Elastic: a lost worker is recreated while the others keep running."""
    NODE_LOST = "NodeLost"
    """Workers were lost with their node; the restart is not charged to backoffLimit."""
    RESTARTING = "Restarting"
    """Event reason of every restart (the condition says why)."""
    BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
    WORKER_RESTART_LIMIT_EXCEEDED = "WorkerRestartLimitExceeded"
    """One worker caused runPolicy.maxRestartsPerWorker charged restarts already."""
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    SUSPENDED = "Suspended"
    INVALID_SPEC = "InvalidSpec"
    CONFIG_ERROR = "ConfigError"
    """The API server refused a worker pod or the job's Service for good (400/403/422: an unknown
    PriorityClass, a ResourceQuota, a Pod Security or other admission policy); the message is its
    own. The job fails rather than retrying what cannot succeed."""
    MODEL_VERSION_CREATED = "ModelVersionCreated"
    NO_MODEL_VERSION = "NoModelVersion"
    INITIALIZING = "Initializing"
    """The initializer pod fetches the dataset and model; no worker starts and no GPU is held."""
    INITIALIZED = "Initialized"
    """Condition Initialized: everything was fetched (and verified when a digest was given)."""
    INITIALIZER_FAILED = "InitializerFailed"
    """An initializer failed (the message says why); the job fails without charging backoffLimit."""
    SOURCE_UNREACHABLE = "SourceUnreachable"
    """An initializer could not reach or find its source (no such object, HTTP error, endpoint down)."""
    DIGEST_MISMATCH = "DigestMismatch"
    """What an initializer fetched does not hash to the digest the spec gives."""


class RestartCause(StrEnum):
    """Who a worker failure is blamed on, as the restart policy classified it."""

    USER_ERROR = "UserError"
    """The program exited with 1-127: its own error."""
    INFRASTRUCTURE = "Infrastructure"
    """Killed by a signal other than SIGTERM (OOM kill, ...), or the launcher's agent failed (200)."""
    PREEMPTION = "Preemption"
    """The pod was evicted or deleted, or stopped on SIGTERM (143)."""
    NODE_LOSS = "NodeLoss"
    """The pod's node stopped being Ready (never charged to a budget)."""


class RestartAction(StrEnum):
    """What the operator did about a failure."""

    RESTART = "Restart"
    REPLACE = "Replace"
    FAIL = "Fail"


MAX_RESTART_HISTORY = 20


class ElasticPolicy(LeptonModel):
    """Elastic training (torchrun --nnodes=min:max with the c10d rendezvous): the job runs with any
    number of workers between minReplicas and maxReplicas and survives the loss of workers."""

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
    """Name of the queue the job waits in; jobs of one queue are admitted in order of priority, then age."""


class RunPolicy(LeptonModel):
    """How failures, deadlines and cleanup are handled."""

    backoff_limit: Annotated[int, Field(ge=0, le=100)] = 3
    """How many times the job is restarted after a retryable failure before it fails."""
    max_restarts_per_worker: Annotated[int, Field(ge=0, le=100)] | None = None
    """How many charged restarts one worker (replica index) may cause before the job fails
    (WorkerRestartLimitExceeded); unset: only backoffLimit applies. Restarts after node loss are
    never charged."""
    restart_policy: RestartPolicy = RestartPolicy.ON_FAILURE
    """When to restart: OnFailure restarts after any worker failure (up to backoffLimit); Never fails
    the job on the first worker failure; ExitCode restarts only for retryable failures: a worker
    exit code of 128-255 (killed by a signal: preemption, OOM kill, node shutdown) or a lost pod
    (evicted, node failure), while an exit code of 1-127 is the program's own error and fails the
    job at once."""
    active_deadline_seconds: Annotated[int, Field(ge=1)] | None = None
    """Seconds the job may run, counted from its start (restarts included), before it is failed."""
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
    """Number of worker pods (torchrun nodes). With elastic, the number started with."""
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


class ReplicaCounts(LeptonModel):
    """Worker pods by state."""

    active: Annotated[int, Field(ge=0)] = 0
    """Worker pods pending or running."""
    ready: Annotated[int, Field(ge=0)] = 0
    """Worker pods running and ready."""
    succeeded: Annotated[int, Field(ge=0)] = 0
    """Worker pods that exited with code 0."""
    failed: Annotated[int, Field(ge=0)] = 0
    """Worker pods that failed in the current attempt."""


class RestartRecord(LeptonModel):
    """One worker failure the operator acted on: the failures that started a restart, a
    replacement or the job's failure (peers failing in their collectives after it are not listed)."""

    time: Timestamp
    """When the worker failed (its exit time, else when the operator saw it)."""
    cause: RestartCause
    """UserError, Infrastructure, Preemption or NodeLoss."""
    action: RestartAction
    """Restart (the whole group), Replace (elastic: this worker only) or Fail (the job)."""
    worker: Annotated[int, Field(ge=0)]
    """Replica index of the worker."""
    attempt: Annotated[int, Field(ge=0)]
    """Restart attempt the worker belonged to."""
    pod: Annotated[str, StringConstraints(max_length=253)] | None = None
    """Name of the worker's pod."""
    node: Annotated[str, StringConstraints(max_length=253)] | None = None
    """Node the pod ran on."""
    exit_code: int | None = None
    """The trainer's exit code; unset when the pod was lost without exiting."""
    reason: Annotated[str, StringConstraints(max_length=256)] | None = None
    """The pod's own reason (Error, OOMKilled, Evicted, node NotReady, ...)."""
    charged: bool = False
    """Whether this failure was charged to backoffLimit and maxRestartsPerWorker."""


class Progress(LeptonModel):
    """Training progress rank 0 reports (lepton.runtime.report_metrics), read by the operator from
    its metrics endpoint while the job runs."""

    step: Annotated[int, Field(ge=0)] | None = None
    """Optimizer steps taken."""
    epoch: float | None = None
    """Epochs completed."""
    loss: float | None = None
    """Latest training loss."""
    samples_per_second: float | None = None
    """Training throughput over all ranks."""
    last_update: Timestamp
    """When the operator last read these values from rank 0; kept, with the values, while rank 0
    cannot be reached."""


class TrainingJobStatus(LeptonModel):
    """Observed state of a TrainingJob, written by the operator."""

    phase: TrainingJobPhase | None = None
    """Where the job is: Created, Queued, Admitted, Running, Restarting, Succeeded, Failed or Suspended."""
    conditions: ConditionList | None = None
    """Conditions of the job (types: Created, Queued, Admitted, Running, Restarting, Succeeded,
    Failed, Suspended, and Initialized when spec.initializers is set)."""
    replicas: ReplicaCounts | None = None
    """Worker pods by state."""
    restart_count: Annotated[int, Field(ge=0)] = 0
    """How many times the job has been restarted."""
    node_loss_restarts: Annotated[int, Field(ge=0)] = 0
    """How many of those restarts followed the loss of a node; they do not count against
    backoffLimit."""
    restart_history: Annotated[list[RestartRecord], Field(max_length=MAX_RESTART_HISTORY)] | None = None
    """The latest worker failures the operator acted on (at most 20, oldest first)."""
    worker_restarts: (
        Annotated[dict[str, Annotated[int, Field(ge=0)]], Field(max_length=MAX_REPLICAS)] | None
    ) = None
    """Charged restarts each worker caused, by replica index (for maxRestartsPerWorker)."""
    progress: Progress | None = None
    """Latest training progress from rank 0 (step, epoch, loss, samplesPerSecond, lastUpdate)."""
    gpus: Annotated[int, Field(ge=0)] | None = None
    """GPUs the job holds (replicas x GPUs per pod) while admitted."""
    admission_message: Annotated[str, StringConstraints(max_length=4096)] | None = None
    """Why the job is (not yet) admitted, e.g. which resources are short."""
    start_time: Timestamp | None = None
    """When the job was first admitted."""
    completion_time: Timestamp | None = None
    """When the job succeeded or failed."""
    last_restart_time: Timestamp | None = None
    """When the job was last restarted (the backoff between restarts counts from here)."""
    model_version: str | None = None
    """Name of the ModelVersion recording the job's result."""
    artifact: ModelSource | None = None
    """The artifact rank 0 reported in its termination message."""
    metrics: Metrics | None = None
    """Final metrics reported by rank 0 (e.g. loss, accuracy)."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """metadata.generation the status was computed from."""


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
