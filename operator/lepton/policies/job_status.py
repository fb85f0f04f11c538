"""A TrainingJob's status both ways: the job read as the state machine's JobState, and a plan written
back as the whole desired status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lepton.api.common import Condition, find_condition, set_condition
from lepton.api.times import epoch_of, rfc3339_at
from lepton.api.trainingjob import RestartRecord, TrainingJob
from lepton.builders.env import reserved_env_violation
from lepton.builders.initializer import initializer_violation
from lepton.policies import elastic, restart, restart_history
from lepton.policies.admission_messages import RESERVATION_NOTE
from lepton.policies.lifecycle import JobState, Plan
from lepton.policies.status import Phase, conditions_for

MODEL_CONDITION = "ModelVersionRecorded"


@dataclass(frozen=True)
class Recorded:
    """Whether a succeeded job with spec.output got its ModelVersion, and why not. A condition, not
    only an event: a job whose rank 0 wrote a bad result still succeeded, and events expire."""

    ok: bool
    reason: str
    message: str


def job_state(job: TrainingJob) -> JobState:
    spec, status = job.spec, job.status
    run = spec.run_policy
    phase = Phase(status.phase.value) if status is not None and status.phase is not None else None
    own = find_condition(status.conditions if status else None, phase.value) if phase else None
    restart_count = status.restart_count if status else 0
    if phase is Phase.RESTARTING and status is not None and status.last_restart_time:
        since = epoch_of(status.last_restart_time)
    else:
        since = epoch_of(own.last_transition_time) if own else None
    bounds = elastic.Bounds(spec.elastic.min_replicas, spec.elastic.max_replicas) if spec.elastic else None
    size = status.size if bounds is not None and status is not None else None
    sizing = (
        elastic.Sizing(size, status.size_reason or "", status.size_message or "") if status and size else None
    )
    return JobState(
        replicas=size or spec.replicas,
        restart_policy=restart.RestartPolicy(run.restart_policy.value),
        backoff_limit=run.backoff_limit,
        active_deadline_seconds=run.active_deadline_seconds,
        ttl_seconds_after_finished=run.ttl_seconds_after_finished,
        clean_pod_policy=run.clean_pod_policy.value,
        suspend=run.suspend,
        elastic_min_replicas=spec.elastic.min_replicas if spec.elastic else None,
        max_restarts_per_worker=run.max_restarts_per_worker,
        invalid=reserved_env_violation(job) or initializer_violation(job),
        phase=phase,
        reason=own.reason if own else "",
        message=own.message if own else "",
        restart_count=restart_count,
        counted_restarts=max(restart_count - (status.node_loss_restarts if status else 0), 0),
        worker_restarts=_worker_restarts(status.worker_restarts if status else None),
        start_time=epoch_of(status.start_time) if status else None,
        completion_time=epoch_of(status.completion_time) if status else None,
        phase_since=since,
        bounds=bounds,
        sizing=sizing,
    )


def _worker_restarts(recorded: dict[str, int] | None) -> dict[int, int]:
    return {int(k): v for k, v in (recorded or {}).items() if k.isdigit()}


def _time(value: float | None) -> str | None:
    return rfc3339_at(value) if value is not None else None


def build_status(
    job: TrainingJob,
    plan: Plan,
    *,
    now: float,
    result: dict[str, Any] | None = None,
    progress: dict[str, Any] | None = None,
    recorded: Recorded | None = None,
) -> dict[str, Any]:
    """The whole status the plan implies. ``result`` adds modelVersion/metrics/artifact on success;
    ``progress`` is rank 0's latest progress when it was just read (else the recorded one stays);
    ``recorded`` sets the ModelVersionRecorded condition (None leaves it as it is)."""
    previous = job.status
    at = rfc3339_at(now)
    conditions: list[Condition] = conditions_for(
        plan.phase,
        plan.reason,
        plan.message,
        list(previous.conditions or []) if previous else [],
        generation=job.metadata.generation,
        at=at,
    )
    if recorded is not None:
        conditions = set_condition(
            conditions,
            MODEL_CONDITION,
            recorded.ok,
            recorded.reason,
            recorded.message,
            observed_generation=job.metadata.generation,
            at=at,
        )
    workers = plan.sizing.size if plan.sizing is not None else job.spec.replicas
    gpus = workers * job.spec.gpus_per_replica() if plan.phase.holds_admission else 0
    restarted = plan.restart_count > (previous.restart_count if previous else 0)
    status: dict[str, Any] = {
        "phase": plan.phase.value,
        "conditions": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions],
        "replicas": {
            "active": plan.counts.active,
            "ready": plan.counts.ready,
            "succeeded": plan.counts.succeeded,
            "failed": plan.counts.failed,
        },
        "restartCount": plan.restart_count,
        "nodeLossRestarts": plan.restart_count - plan.counted_restarts,
        "restartHistory": _history(previous.restart_history if previous else None, plan),
        "workerRestarts": {str(k): v for k, v in sorted(plan.worker_restarts.items())} or None,
        "gpus": gpus,
        "admissionMessage": plan.message if plan.phase is Phase.QUEUED else None,
        "queuePosition": plan.queue_position if plan.phase is Phase.QUEUED else None,
        "startTime": _time(plan.start_time),
        "completionTime": _time(plan.completion_time),
        "lastRestartTime": at if restarted else (previous.last_restart_time if previous else None),
        "observedGeneration": job.metadata.generation,
        # Elastic: the size stays recorded while the job waits (a restart re-admits it afresh).
        "size": plan.sizing.size if plan.sizing else None,
        "sizeReason": (plan.sizing.reason or None) if plan.sizing else None,
        "sizeMessage": (plan.sizing.message or None) if plan.sizing else None,
    }
    if previous is not None:
        kept = previous.model_dump(
            by_alias=True, exclude_none=True, include={"model_version", "metrics", "artifact", "progress"}
        )
        status.update(kept)
    if progress:
        status["progress"] = progress
    if result:
        status.update(result)
    return status


# Where a queued job stands: its place in its queue and what it waits for ("2 fit now").
_STANDING = ("queuePosition", "admissionMessage")


def standing_only(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether ``desired`` differs from ``current``, and only in where a queued job stands (its
    position, its message and its Queued condition's), not in its phase, reason or whether it holds
    a reservation. Those change with every admission ahead of it and every GPU freed: with a queue
    of a hundred jobs, a status write for each of them each time."""
    if (
        not current
        or current.get("phase") != Phase.QUEUED.value
        or desired.get("phase") != Phase.QUEUED.value
    ):
        return False
    held = [RESERVATION_NOTE in str(s.get("admissionMessage") or "") for s in (current, desired)]
    if held[0] != held[1]:
        return False

    def same(key: str, value: Any, *, messages: bool = True) -> bool:  # as the status write compares
        if key == "conditions" and not messages:
            return _without_messages(current.get(key)) == _without_messages(value)
        return current.get(key) == value or (value is None and key not in current)

    steady = all(same(k, v, messages=False) for k, v in desired.items() if k not in _STANDING)
    return steady and not all(same(k, v) for k, v in desired.items())


def _without_messages(conditions: Any) -> list[Any]:
    return [{k: v for k, v in c.items() if k != "message"} for c in conditions or []]


def _history(previous: list[RestartRecord] | None, plan: Plan) -> list[dict[str, Any]] | None:
    recorded = [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in previous or []]
    return restart_history.merged(recorded, plan.history) or None
