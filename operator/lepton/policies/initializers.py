"""The initializer step of a TrainingJob: from the job and its initializer pod to what happens
before the state machine (policies.lifecycle) may admit any worker.

Initializers run before admission, so no GPU is held while data is fetched; they run once per job:
once the condition Initialized is True, restarts and resumes go straight to the state machine. A
failed initializer fails the job with the initializer's own reason and charges nothing to
backoffLimit (no worker ever ran); an initializer pod lost without a verdict (evicted, deleted)
is started again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from lepton.api.common import Condition, ConditionStatus, set_condition
from lepton.api.trainingjob import TrainingJobReason
from lepton.policies.lifecycle import JobState, Plan
from lepton.policies.status import Phase

CONDITION = "Initialized"
FAILURE_REASONS = frozenset(
    {
        TrainingJobReason.INITIALIZER_FAILED,
        TrainingJobReason.SOURCE_UNREACHABLE,
        TrainingJobReason.DIGEST_MISMATCH,
    }
)
# lepton-init's exit codes (lepton.runtime.initializer.EXIT_CODES), for a lost termination message.
_EXIT_REASONS = {3: TrainingJobReason.SOURCE_UNREACHABLE, 4: TrainingJobReason.DIGEST_MISMATCH}


@dataclass(frozen=True)
class InitContainer:
    """One initializer container, from the pod's containerStatuses."""

    name: str
    state: str = "waiting"  # waiting | running | terminated
    exit_code: int | None = None
    message: str | None = None  # its termination message (lepton-init's JSON) or log tail


@dataclass(frozen=True)
class InitPod:
    name: str
    phase: str = "Pending"
    deleting: bool = False
    reason: str = ""  # the pod's own reason (Evicted, ...)
    containers: tuple[InitContainer, ...] = ()


@dataclass(frozen=True)
class Decision:
    plan: Plan | None = None
    """The job's plan while the initializers gate it (phase Created or Failed); None: run the
    state machine."""
    condition: tuple[ConditionStatus, str, str] | None = None
    """Status, reason and message of the Initialized condition; None leaves it as recorded."""
    create: bool = False
    delete: bool = False


def decide(
    job: JobState,
    sources: Mapping[str, str],
    pod: InitPod | None,
    *,
    initialized: bool,
    now: float,
) -> Decision:
    """``sources``: initializer name -> URI (empty without spec.initializers); ``initialized``:
    whether the recorded Initialized condition is True."""
    if not sources or job.invalid or (job.phase is not None and job.phase.finished) or initialized:
        return Decision()
    active = pod is not None and pod.phase not in ("Succeeded", "Failed") and not pod.deleting
    if job.suspend:
        # The state machine suspends the job; a half-done fetch starts over on resume.
        return Decision(delete=active)
    if pod is None or pod.deleting:
        what = "; ".join(f"{name} from {uri}" for name, uri in sources.items())
        return _gated(job, f"starting the initializer pod: {what}", create=pod is None)
    if pod.phase == "Succeeded":
        done = "; ".join(f"{c.name}: {_summary(c.message)}" for c in pod.containers)
        return Decision(condition=(ConditionStatus.TRUE, TrainingJobReason.INITIALIZED, done))
    failed = [c for c in pod.containers if c.state == "terminated" and c.exit_code not in (None, 0)]
    if pod.phase == "Failed" and not failed:
        why = pod.reason or "failed without an exit code"
        return _gated(job, f"initializer pod {pod.name}: {why}; starting it again", delete=True)
    if failed:
        reasons = [_failure(c) for c in failed]
        reason = next((r for r in reasons if r[0] != TrainingJobReason.INITIALIZER_FAILED), reasons[0])[0]
        message = "; ".join(f"{c.name}: {text}" for c, (_, text) in zip(failed, reasons, strict=True))
        plan = _plan(job, Phase.FAILED, reason, message, completion_time=now)
        # Stop the other initializer: the job has failed.
        return Decision(plan=plan, condition=(ConditionStatus.FALSE, reason, message), delete=active)
    if pod.phase == "Pending" and not any(c.state != "waiting" for c in pod.containers):
        return _gated(job, f"initializer pod {pod.name} is pending (scheduling, pulling the image)")
    parts = [
        f"{c.name}: {_summary(c.message)}"
        if c.state == "terminated"
        else f"{c.name}: fetching from {sources.get(c.name, '?')}"
        for c in pod.containers
    ]
    return _gated(job, "; ".join(parts) or f"initializer pod {pod.name} is running")


def _gated(job: JobState, message: str, *, create: bool = False, delete: bool = False) -> Decision:
    plan = _plan(job, Phase.CREATED, TrainingJobReason.INITIALIZING, message)
    condition = (ConditionStatus.FALSE, TrainingJobReason.INITIALIZING, message)
    return Decision(plan=plan, condition=condition, create=create, delete=delete)


def _plan(
    job: JobState, phase: Phase, reason: str, message: str, completion_time: float | None = None
) -> Plan:
    return Plan(
        phase=phase,
        reason=reason,
        message=message,
        attempt=job.restart_count,
        restart_count=job.restart_count,
        counted_restarts=job.counted_restarts,
        start_time=job.start_time,
        completion_time=completion_time,
        worker_restarts=job.worker_restarts,
    )


def _result(message: str | None) -> dict[str, object]:
    try:
        loaded = json.loads(message or "")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _failure(container: InitContainer) -> tuple[str, str]:
    """(reason, message) of a failed initializer: the kind lepton-init reported, else its exit code's."""
    result = _result(container.message)
    kind = result.get("kind")
    if isinstance(kind, str) and kind in FAILURE_REASONS:
        return kind, str(result.get("reason") or kind)
    reason = _EXIT_REASONS.get(container.exit_code or 0, TrainingJobReason.INITIALIZER_FAILED)
    tail = (container.message or "").strip()[-512:] or "no message"
    return reason, f"exited with code {container.exit_code}: {tail}"


def _summary(message: str | None) -> str:
    result = _result(message)
    size = result.get("sizeBytes")
    if not isinstance(size, int):
        return "done"
    text = f"{size / (1 << 30):.2f} GiB" if size >= 1 << 30 else f"{size / (1 << 20):.1f} MiB"
    if result.get("cached"):
        text += " (already there)"
    digest = result.get("digest")
    if isinstance(digest, str):
        text += f", {digest[:19]}…" + (" verified" if result.get("verified") else "")
    return text


def with_condition(
    conditions: list[Condition], decision: Decision, *, generation: int | None, at: str
) -> list[Condition]:
    """``conditions`` with Initialized set as the decision says (unchanged when it says nothing)."""
    if decision.condition is None:
        return conditions
    status, reason, message = decision.condition
    return set_condition(
        conditions, CONDITION, status, reason, message, observed_generation=generation, at=at
    )


def is_initialized(conditions: list[Condition] | None) -> bool:
    return any(c.type == CONDITION and c.status == ConditionStatus.TRUE for c in conditions or [])
