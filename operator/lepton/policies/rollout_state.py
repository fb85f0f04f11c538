"""What the rollout state machine reads and remembers, and its round trip through status.canary and
status.failedVersions (times are epoch seconds here, RFC 3339 in the status)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lepton.api.inferenceservice import InferenceServiceSpec
from lepton.api.rollout import (
    DEFAULT_SCALE_DOWN_DELAY_SECONDS,
    AnalysisResult,
    AnalysisStatus,
    CanaryStatus,
    FailedVersion,
    MetricMeasurement,
    RolloutPhase,
)
from lepton.api.times import epoch_of, rfc3339_at
from lepton.policies.rollout_analysis import MetricOutcome, Verdict

ACTIVE = frozenset(
    {RolloutPhase.PROGRESSING, RolloutPhase.PAUSED, RolloutPhase.PROMOTING, RolloutPhase.HOLDING}
)
FINISHED = frozenset({RolloutPhase.ROLLED_BACK, RolloutPhase.ABORTED})


@dataclass(frozen=True)
class Step:
    weight: int
    pause: float | None
    """Seconds; None waits until promoted."""


@dataclass(frozen=True)
class RolloutSpec:
    """The spec fields the state machine reads, with the total replicas decided elsewhere (spec or
    autoscaler) and whether the Gateway API splits traffic."""

    steps: tuple[Step, ...]
    replicas: int
    interval: float = 30.0
    failure_limit: int = 3
    consecutive_error_limit: int = 4
    deadline: float = 600.0
    deadline_abort: bool = False
    gateway: bool = True
    mirror_percent: int = 0
    scale_down_delay: float = float(DEFAULT_SCALE_DOWN_DELAY_SECONDS)


def rollout_spec(spec: InferenceServiceSpec, replicas: int, *, gateway: bool) -> RolloutSpec:
    """`gateway`: spec.traffic is set and Gateway API is installed (else replicas split traffic)."""
    rollout, analysis = spec.rollout, spec.rollout.analysis
    mirror = spec.traffic.mirror_percent if spec.traffic and gateway else None
    return RolloutSpec(
        steps=tuple(Step(s.weight, s.pause()) for s in rollout.steps),
        replicas=replicas,
        interval=float(analysis.interval_seconds),
        failure_limit=analysis.failure_limit,
        consecutive_error_limit=analysis.consecutive_error_limit,
        deadline=float(rollout.progress_deadline_seconds),
        deadline_abort=rollout.progress_deadline_abort,
        gateway=gateway,
        mirror_percent=mirror or 0,
    )


@dataclass(frozen=True)
class Measurement:
    """One analysis check of the new version: when it ran and its verdict."""

    time: float
    verdict: Verdict


@dataclass(frozen=True)
class RolloutState:
    """status.canary, as the state machine works on it."""

    version: str
    phase: RolloutPhase
    start_time: float
    last_progress_time: float
    step: int = 0
    weight: int = 0
    step_start_time: float | None = None
    next_step_time: float | None = None
    next_analysis_time: float | None = None
    analysis: Measurement | None = None
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    retries: int = 0
    scale_down_time: float | None = None
    reason: str | None = None
    replica_split: str | None = None
    message: str | None = None

    def deadline_from(self) -> float:
        """When the rollout was last expected to move: its last progress, or the end of the current
        step's pause, whichever is later (waiting out a pause is not a lack of progress)."""
        return max(self.last_progress_time, self.next_step_time or 0.0)


@dataclass(frozen=True)
class FailedRecord:
    version: str
    reason: str
    time: float
    message: str = ""
    retries: int = 0
    blocked: bool = True


@dataclass(frozen=True)
class Observed:
    """What the controller sees of the versions: Ready replicas by version, and the weights the
    HTTPRoute is observed to carry (None without Gateway API, or before the route exists)."""

    ready: dict[str, int] = field(default_factory=dict)
    route_weights: dict[str, int] | None = None
    mirror_unsupported: str = ""
    """Why spec.traffic.mirrorPercent cannot be acted on through this Gateway (policies.mirror);
    empty when it can, or when no mirror is asked for."""

    def ready_of(self, version: str | None) -> int:
        return self.ready.get(version, 0) if version else 0


def _s(value: float | None) -> str | None:
    return None if value is None else rfc3339_at(value)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _verdict_status(measured: Measurement) -> AnalysisStatus:
    v = measured.verdict
    metrics = [
        MetricMeasurement(
            name=m.name,
            result=m.result,
            value=_finite(m.value),
            max=m.max,
            min=m.min,
            message=m.message[:1024],
        )
        for m in v.metrics
    ]
    return AnalysisStatus(
        time=_s(measured.time) or "",
        result=v.result,
        requests=_finite(v.requests),
        metrics=metrics or None,
        message=v.message[:4096],
    )


def _measurement(status: AnalysisStatus | None) -> Measurement | None:
    if status is None:
        return None
    metrics = tuple(
        MetricOutcome(m.name, m.result, m.value, m.max, m.min, m.message or "") for m in status.metrics or []
    )
    verdict = Verdict(AnalysisResult(status.result), status.requests, metrics, status.message or "")
    return Measurement(epoch_of(status.time) or 0.0, verdict)


def state_from_status(canary: CanaryStatus | None) -> RolloutState | None:
    """The state recorded in status.canary (None: no rollout, or one written before phases existed)."""
    if canary is None or canary.phase is None:
        return None
    start = epoch_of(canary.start_time) or 0.0
    return RolloutState(
        version=canary.version,
        phase=RolloutPhase(canary.phase),
        start_time=start,
        last_progress_time=epoch_of(canary.last_progress_time) or start,
        step=canary.step,
        weight=canary.weight,
        step_start_time=epoch_of(canary.step_start_time),
        next_step_time=epoch_of(canary.next_step_time),
        next_analysis_time=epoch_of(canary.next_analysis_time),
        analysis=_measurement(canary.analysis),
        passed=canary.passed_checks,
        failed=canary.failed_checks,
        inconclusive=canary.inconclusive_checks,
        errors=canary.error_checks,
        consecutive_errors=canary.consecutive_errors,
        retries=canary.retries,
        scale_down_time=epoch_of(canary.scale_down_time),
        reason=canary.reason,
        replica_split=canary.replica_split,
        message=canary.message,
    )


def canary_status(state: RolloutState | None) -> dict[str, Any] | None:
    """status.canary for `state`, in wire form."""
    if state is None:
        return None
    status = CanaryStatus(
        version=state.version,
        phase=state.phase,
        weight=state.weight,
        step=state.step,
        start_time=_s(state.start_time),
        step_start_time=_s(state.step_start_time),
        next_step_time=_s(state.next_step_time),
        last_progress_time=_s(state.last_progress_time),
        next_analysis_time=_s(state.next_analysis_time),
        analysis=_verdict_status(state.analysis) if state.analysis else None,
        passed_checks=state.passed,
        failed_checks=state.failed,
        inconclusive_checks=state.inconclusive,
        error_checks=state.errors,
        consecutive_errors=state.consecutive_errors,
        retries=state.retries,
        scale_down_time=_s(state.scale_down_time),
        reason=state.reason,
        replica_split=state.replica_split,
        message=state.message[:4096] if state.message else None,
    )
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def failed_from_status(failed: list[FailedVersion] | None) -> tuple[FailedRecord, ...]:
    return tuple(
        FailedRecord(f.version, f.reason, epoch_of(f.time) or 0.0, f.message or "", f.retries, f.blocked)
        for f in failed or []
    )


def failed_status(records: tuple[FailedRecord, ...]) -> list[dict[str, Any]] | None:
    """status.failedVersions in wire form (None when empty)."""
    out = [
        FailedVersion(
            version=r.version,
            reason=r.reason,
            time=_s(r.time) or "",
            message=r.message[:4096] or None,
            retries=r.retries,
            blocked=r.blocked,
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        for r in records
    ]
    return out or None
