"""How a ModelVersion's verification went, from its Job and pod, and the status that says so."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lepton.api.common import Condition, ConditionStatus, set_condition
from lepton.api.modelversion import (
    ModelVersion,
    ModelVersionConditionType,
    ModelVersionPhase,
    ModelVersionReason,
)

VERIFICATION_FAILED = ModelVersionReason.VERIFICATION_FAILED
VERIFICATION_TIMED_OUT = ModelVersionReason.VERIFICATION_TIMED_OUT
TERMINAL = frozenset({ModelVersionPhase.READY, ModelVersionPhase.FAILED})

_NOT_FOUND_HINTS = (
    "no manifest.json",
    "is missing",
    "not mounted",
    "cannot download",
    "cannot copy",
    "unsupported uri scheme",
    "needs a claim name",
    "must stay inside the claim",
    "s3:// sources need",
    "fetch failed",
)
_FORMAT_HINTS = ("unknown architecture", "names no architecture", "invalid manifest", "unknown format")


@dataclass(frozen=True)
class VerifyJob:
    """A verification Job as observed (Complete/Failed conditions)."""

    name: str
    complete: bool = False
    failed: bool = False
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class VerifyPod:
    """A verification pod as observed; messages are the containers' termination messages."""

    name: str
    phase: str
    exit_code: int | None = None
    message: str | None = None
    init_failed: bool = False
    init_message: str | None = None
    scheduled: bool = True
    unschedulable: str = ""
    """The scheduler's reason while the pod cannot be placed (e.g. a missing claim)."""


@dataclass(frozen=True)
class Verdict:
    phase: ModelVersionPhase
    reason: ModelVersionReason
    message: str
    create_job: bool = False
    digest: str | None = None
    size_bytes: int | None = None


def _payload(message: str | None) -> dict[str, Any]:
    if not message:
        return {}
    try:
        data = json.loads(message)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _text(message: str | None) -> str:
    """The reason a termination message gives: its JSON "reason", else the text itself."""
    data = _payload(message)
    if data:
        return str(data.get("reason") or "").strip()
    return (message or "").strip()


def _kind(message: str | None) -> str:
    """The error kind a verify/fetch termination message names ("kind"), if any."""
    return str(_payload(message).get("kind") or "")


def failure_reason(text: str, *, fetching: bool = False, kind: str = "") -> ModelVersionReason:
    lowered = text.lower()
    # Before the fetching branch: a fetch that was refused the file is not a missing artifact.
    if kind == "ArtifactUnreadable" or "permission denied" in lowered:
        return ModelVersionReason.ARTIFACT_UNREADABLE
    if kind == "SourceUnreachable":
        return ModelVersionReason.SOURCE_UNREACHABLE
    if "digest mismatch" in lowered:
        return ModelVersionReason.DIGEST_MISMATCH
    if fetching or any(h in lowered for h in _NOT_FOUND_HINTS):
        return ModelVersionReason.ARTIFACT_NOT_FOUND
    if any(h in lowered for h in _FORMAT_HINTS):
        return ModelVersionReason.UNSUPPORTED_FORMAT
    if text:
        return ModelVersionReason.LOAD_FAILED
    return VERIFICATION_FAILED


def _failed_pod(mv: ModelVersion, pod: VerifyPod) -> Verdict:
    if pod.init_failed:
        text = _text(pod.init_message) or "the artifact could not be fetched"
        return Verdict(
            ModelVersionPhase.FAILED,
            failure_reason(text, fetching=True, kind=_kind(pod.init_message)),
            f"cannot fetch {mv.spec.source.uri}: {text}",
        )
    text = _text(pod.message)
    if not text:
        code = f" with exit code {pod.exit_code}" if pod.exit_code is not None else ""
        return Verdict(
            ModelVersionPhase.FAILED, VERIFICATION_FAILED, f"verification pod {pod.name} failed{code}"
        )
    return Verdict(ModelVersionPhase.FAILED, failure_reason(text, kind=_kind(pod.message)), text)


def _succeeded_pod(mv: ModelVersion, pod: VerifyPod) -> Verdict:
    data = _payload(pod.message)
    source = mv.spec.source
    digest = data.get("digest") if isinstance(data.get("digest"), str) else None
    if digest and source.digest and digest != source.digest:
        return Verdict(
            ModelVersionPhase.FAILED,
            ModelVersionReason.DIGEST_MISMATCH,
            f"digest mismatch: spec.source.digest is {source.digest}, the artifact has {digest}",
        )
    fmt = data.get("format")
    if isinstance(fmt, str) and fmt != source.format.value:
        return Verdict(
            ModelVersionPhase.FAILED,
            ModelVersionReason.UNSUPPORTED_FORMAT,
            f"format mismatch: spec.source.format is {source.format.value}, the artifact is {fmt}",
        )
    size = data.get("sizeBytes")
    size_bytes = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
    digest = digest or source.digest
    what = f"{fmt or source.format.value} artifact" + (f" {digest}" if digest else "")
    return Verdict(
        ModelVersionPhase.READY,
        ModelVersionReason.VERIFIED,
        f"{what} fetched, checked and loaded",
        digest=digest,
        size_bytes=size_bytes,
    )


def decide(mv: ModelVersion, job: VerifyJob | None, pods: Sequence[VerifyPod], job_name: str) -> Verdict:
    """Where verification of a not yet Ready/Failed ModelVersion stands."""
    finished = [p for p in pods if p.phase in ("Succeeded", "Failed") or p.init_failed]
    pod = finished[-1] if finished else None
    if pod is not None:
        return _succeeded_pod(mv, pod) if pod.phase == "Succeeded" else _failed_pod(mv, pod)
    if job is None:
        return Verdict(
            ModelVersionPhase.VERIFYING,
            ModelVersionReason.VERIFYING,
            f"verification Job {job_name} created",
            create_job=True,
        )
    if job.failed:
        timed_out = job.reason == "DeadlineExceeded"
        return Verdict(
            ModelVersionPhase.FAILED,
            VERIFICATION_TIMED_OUT if timed_out else VERIFICATION_FAILED,
            f"verification Job {job.name} failed: {job.message or job.reason or 'no reason given'}",
        )
    if job.complete:
        return _succeeded_pod(mv, VerifyPod(name=job.name, phase="Succeeded"))
    waiting = not pods or not any(p.scheduled for p in pods)
    detail = "waiting for the verification pod to be scheduled" if waiting else "verifying"
    why = next((p.unschedulable for p in pods if p.unschedulable), "")
    if waiting and why:
        detail += f" ({why})"
    return Verdict(
        ModelVersionPhase.VERIFYING,
        ModelVersionReason.VERIFYING,
        f"{detail}: Job {job.name} fetches {mv.spec.source.uri}, checks its digest and loads it",
    )


def status_of(mv: ModelVersion, verdict: Verdict | None, served_by: Iterable[str], at: str) -> dict[str, Any]:
    """The whole status: ``verdict`` None keeps the finished verification's result as it is."""
    previous = mv.status
    conditions: list[Condition] = list(previous.conditions or []) if previous else []
    generation = mv.metadata.generation
    status: dict[str, Any] = {}
    if verdict is None:
        phase = previous.phase if previous and previous.phase else ModelVersionPhase.PENDING
    else:
        phase = verdict.phase
        done = phase in TERMINAL
        verified = ConditionStatus.TRUE if phase is ModelVersionPhase.READY else ConditionStatus.FALSE
        conditions = set_condition(
            conditions,
            ModelVersionConditionType.VERIFIED,
            verified if done else ConditionStatus.UNKNOWN,
            verdict.reason,
            verdict.message,
            observed_generation=generation,
            at=at,
        )
        conditions = set_condition(
            conditions,
            ModelVersionConditionType.READY,
            phase is ModelVersionPhase.READY,
            verdict.reason,
            verdict.message,
            observed_generation=generation,
            at=at,
        )
        if phase is ModelVersionPhase.READY:
            status["digest"] = verdict.digest
            status["sizeBytes"] = verdict.size_bytes
            status["verifiedTime"] = at
    status["phase"] = phase.value
    status["conditions"] = [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions]
    status["servedBy"] = sorted(set(served_by))
    status["observedGeneration"] = generation
    if verdict is None and previous is not None:
        status.update(previous.model_dump(by_alias=True, exclude_none=True, include={"digest", "size_bytes"}))
        if previous.verified_time:
            status["verifiedTime"] = previous.verified_time
    return {k: v for k, v in status.items() if v is not None}
