"""What the TrainingJob state machine (policies.lifecycle) reads and what it plans: the job's spec
and recorded status, what admission decided, its timings, and the plan the controller executes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lepton.api.trainingjob import TrainingJobReason
from lepton.policies import elastic, restart, restart_history
from lepton.policies.status import Counts, Phase


@dataclass(frozen=True)
class JobState:
    """The spec fields and the recorded status the state machine reads."""

    replicas: int  # elastic: the size it runs with (status.size), else spec.replicas
    restart_policy: restart.RestartPolicy = restart.RestartPolicy.ON_FAILURE
    backoff_limit: int = 3
    active_deadline_seconds: float | None = None
    ttl_seconds_after_finished: float | None = None
    clean_pod_policy: str = "Running"  # Running | All | None
    suspend: bool = False
    elastic_min_replicas: int | None = None
    max_restarts_per_worker: int | None = None
    invalid: str | None = None  # why the spec cannot run, e.g. a reserved env name
    invalid_reason: str = TrainingJobReason.INVALID_SPEC  # or ConfigError: the API server said so
    # Recorded status:
    phase: Phase | None = None
    reason: str = ""
    message: str = ""
    restart_count: int = 0
    counted_restarts: int = 0
    worker_restarts: Mapping[int, int] = field(default_factory=dict)  # charged restarts by worker
    start_time: float | None = None
    completion_time: float | None = None
    phase_since: float | None = None  # lastTransitionTime of the phase's condition
    bounds: elastic.Bounds | None = None  # spec.elastic
    sizing: elastic.Sizing | None = None  # recorded status.size and its reason


@dataclass(frozen=True)
class Admission:
    admitted: bool
    message: str = ""
    reason: str = TrainingJobReason.WAITING_FOR_GPUS  # why it waits, when not admitted
    position: int | None = None  # 1-based place in its queue, when not admitted
    requeue_after: float | None = None  # when not admitted: look again then, whatever happens
    preempting: tuple[str, ...] = ()  # victims this pass chose to preempt for it (policies.preemption)
    size: int | None = None  # elastic: how many workers it is admitted with
    # Nodes held for reservations that its workers must stay off (policies.admission avoid).
    avoid: tuple[str, ...] = ()
    # The node admission placed each worker on, by index (policies.admission nodes).
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Timing:
    backoff: restart.Backoff = field(default_factory=restart.Backoff)
    success_grace_seconds: float = 30.0
    # How soon to look again while waiting for something that produces no event of our own.
    poll_seconds: float = 5.0


@dataclass(frozen=True)
class Plan:
    phase: Phase
    reason: str
    message: str
    attempt: int
    restart_count: int
    counted_restarts: int
    start_time: float | None
    completion_time: float | None
    worker_restarts: Mapping[int, int] = field(default_factory=dict)
    history: tuple[restart_history.Entry, ...] = ()  # entries this plan adds to status.restartHistory
    counts: Counts = field(default_factory=Counts)
    create: tuple[int, ...] = ()
    delete: tuple[str, ...] = ()
    # Pinned workers their node cannot take: deleted only as last seen (still unbound), then made
    # again unpinned (policies.lifecycle).
    unpin: tuple[str, ...] = ()
    force_delete: tuple[str, ...] = ()  # pods on lost nodes: no kubelet will ever confirm
    delete_job: bool = False
    requeue_after: float | None = None
    result_pod: str | None = None  # rank 0's pod whose termination message is the job's result
    queue_position: int | None = None  # while Queued: the job's place in its queue
    preempting: tuple[str, ...] = ()  # while Queued: jobs just preempted for it (events name them)
    sizing: elastic.Sizing | None = None  # elastic: status.size and why
    avoid: tuple[str, ...] = ()  # nodes the workers it creates must stay off (held for reservations)
    place_on: tuple[str, ...] = ()  # by worker index: the node admission placed it on (builders.required)
