"""What a TrainingJob reports: its phases and condition reasons, the restart history, rank 0's
progress and the status as a whole (the spec is in lepton.api.trainingjob, which re-exports these)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from lepton.api.common import ConditionList, LeptonModel, Metrics, ModelSource
from lepton.api.times import Timestamp

MAX_REPLICAS = 1000
"""Most worker pods of one job (also bounds the per-worker restart counts)."""


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
    WAITING_FOR_QUOTA = "WaitingForQuota"
    """Queued: the gang would exceed its ClusterQueue's nominalQuota or a ResourceQuota of its
    namespace (the message names which); no pod is created until all of them fit."""
    WAITING_IN_QUEUE = "WaitingInQueue"
    """Queued behind an earlier job of its queue: the head of a StrictFIFO queue, or a job that holds
    a reservation (the message names it)."""
    PREEMPTING = "Preempting"
    """Queued: lower-priority preemptible jobs of its queue were preempted to make room for it; their
    GPUs are held for it while their workers stop."""
    PREEMPTED = "Preempted"
    """Queued: a higher-priority job of its queue preempted it; its workers stopped with their grace
    period and it waits for GPUs again, its restart budget not charged."""
    QUEUE_NOT_FOUND = "QueueNotFound"
    """Queued: spec.scheduling.queue names a ClusterQueue that does not exist; the job is admitted
    once it is created."""
    ADMITTED = "Admitted"
    ALL_WORKERS_RUNNING = "AllWorkersRunning"
    STOPPING_WORKERS = "StoppingWorkers"
    """Rank 0 succeeded; the other workers get the success grace period to finish."""
    SUCCEEDED = "Succeeded"
    WORKER_FAILED = "WorkerFailed"
    WORKER_REPLACED = "WorkerReplaced"
    """Elastic: a lost worker is recreated while the others keep running."""
    ADMITTED_AT_MAXIMUM = "AdmittedAtMaximum"
    """Elastic (status.sizeReason): all maxReplicas workers fit at admission."""
    ADMITTED_AT_MINIMUM = "AdmittedAtMinimum"
    """Elastic (status.sizeReason): only minReplicas workers fit at admission; the job grows when
    GPUs free up."""
    ADMITTED_BELOW_MAXIMUM = "AdmittedBelowMaximum"
    """Elastic (status.sizeReason): more than minReplicas but fewer than maxReplicas workers fit at
    admission; the job grows when GPUs free up."""
    GREW = "Grew"
    """Elastic (status.sizeReason): GPUs freed up and no waiting job of equal or higher priority
    could use them: workers were added (a new c10d rendezvous round, no restart)."""
    SHRANK_ON_NODE_LOSS = "ShrankOnNodeLoss"
    """Elastic (status.sizeReason): workers were lost with their node and at least minReplicas
    remain: the job goes on with the survivors, no restart, and grows back when GPUs free up."""
    NODE_LOST = "NodeLost"
    """Workers were lost with their node; the restart is not charged to backoffLimit."""
    HARDWARE_FAULT = "HardwareFault"
    """Workers were lost to a hardware fault (their node's GPUs reported unhealthy, a hardware exit
    code, a DisruptionTarget condition); the gang restarts on healthy nodes, uncharged."""
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
    POD_START_FAILED = "PodStartFailed"
    """Admitted, and a worker pod was scheduled but does not start; the message is the kubelet's
    (a Secret or ConfigMap of the template that does not exist, an image it cannot pull)."""
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
    HARDWARE_FAULT = "HardwareFault"
    """The node's GPUs were reported unhealthy, the worker exited with a hardware exit code, or the
    pod got a DisruptionTarget condition (never charged to a budget)."""


class RestartAction(StrEnum):
    """What the operator did about a failure."""

    RESTART = "Restart"
    REPLACE = "Replace"
    FAIL = "Fail"


MAX_RESTART_HISTORY = 20


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
    """UserError, Infrastructure, Preemption, NodeLoss or HardwareFault."""
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
    """How many of those restarts followed the loss of a node, a hardware fault or a preemption; they
    do not count against backoffLimit."""
    restart_history: Annotated[list[RestartRecord], Field(max_length=MAX_RESTART_HISTORY)] | None = None
    """The latest worker failures the operator acted on (at most 20, oldest first)."""
    worker_restarts: (
        Annotated[dict[str, Annotated[int, Field(ge=0)]], Field(max_length=MAX_REPLICAS)] | None
    ) = None
    """Charged restarts each worker caused, by replica index (for maxRestartsPerWorker)."""
    progress: Progress | None = None
    """Latest training progress from rank 0 (step, epoch, loss, samplesPerSecond, lastUpdate)."""
    gpus: Annotated[int, Field(ge=0)] | None = None
    """GPUs the job holds (its workers x GPUs per pod) while admitted."""
    size: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] | None = None
    """Elastic: how many workers the job runs with now, between minReplicas and maxReplicas."""
    size_reason: Annotated[str, StringConstraints(max_length=64)] | None = None
    """Elastic: why the job has that size (AdmittedAtMaximum, AdmittedAtMinimum,
    AdmittedBelowMaximum, Grew, ShrankOnNodeLoss)."""
    size_message: Annotated[str, StringConstraints(max_length=1024)] | None = None
    """Elastic: the size's reason in words."""
    admission_message: Annotated[str, StringConstraints(max_length=4096)] | None = None
    """Why the job is (not yet) admitted, e.g. which resources are short."""
    queue_position: Annotated[int, Field(ge=1)] | None = None
    """While Queued: the job's place (1 = next) among the waiting jobs of its queue, as of its last
    admission pass."""
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
