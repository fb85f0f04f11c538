"""What each version gets at a point of a canary rollout (replicas, traffic weight, mirror) and the
decision the state machine (policies/rollout.py) hands to the controller."""

from __future__ import annotations

from dataclasses import dataclass

from lepton.api.inferenceservice import InferenceServiceReason as R
from lepton.api.rollout import RolloutPhase
from lepton.policies.inference import ConditionValue
from lepton.policies.rollout_state import FailedRecord, Observed, RolloutSpec, RolloutState
from lepton.policies.traffic_split import ratio_split, replicas_for_share, stable_replicas_during_ratio


@dataclass(frozen=True)
class Event:
    reason: R
    message: str
    warning: bool = False


@dataclass(frozen=True)
class Decision:
    state: RolloutState | None
    """status.canary (rollout_state.canary_status); None: no rollout to show."""
    failed: tuple[FailedRecord, ...]
    """status.failedVersions."""
    stable: str | None
    """The version serving the stable traffic (status.currentVersion)."""
    weights: dict[str, int]
    """Traffic % per version (the HTTPRoute's backendRefs; without Gateway API, the split the Ready
    replicas give)."""
    replicas: dict[str, int]
    """Replicas per version; a version not listed is no longer wanted (delete it once the traffic is
    observed elsewhere)."""
    mirror: tuple[str, int] | None
    """(version, percent) to mirror to through the HTTPRoute."""
    events: tuple[Event, ...]
    progressing: ConditionValue
    degraded: ConditionValue | None
    """Degraded as the rollout sees it; None leaves it to the replica assessment."""
    analyze_at: float | None
    """When the next analysis check is due: query then and pass the Measurement."""
    requeue_after: float | None
    """Seconds until something is due (a pause end, a check, a scale-down, the deadline)."""


def candidate_replicas(spec: RolloutSpec, weight: int) -> int:
    """Replicas the new version needs for a step of `weight` % (and the mirrored share)."""
    if not spec.gateway:
        return ratio_split(spec.replicas, weight).candidate
    return replicas_for_share(spec.replicas, max(weight, spec.mirror_percent))


def held_replicas(spec: RolloutSpec, state: RolloutState) -> int:
    """Replicas a rolled-back new version keeps until its scale-down: those of the step it was at."""
    if state.step >= len(spec.steps):
        return spec.replicas
    return candidate_replicas(spec, spec.steps[state.step].weight)


@dataclass(frozen=True)
class Share:
    weights: dict[str, int]
    replicas: dict[str, int]
    weight: int
    """The new version's share now."""
    split: str | None
    """Without Gateway API: the split the replicas allow, in words."""


def traffic_for(spec: RolloutSpec, state: RolloutState, stable: str, observed: Observed) -> Share:
    """Weights and replicas of both versions at `state`. A step's weight applies once its replicas
    are Ready (until then the step before's); a version without a Ready replica gets no weight."""
    version, total, steps = state.version, spec.replicas, spec.steps
    ready, stable_ready = observed.ready_of(version), observed.ready_of(stable)
    promoting = state.step >= len(steps)
    if promoting:
        asked = 100
        applied = 100 if ready >= total else steps[-1].weight
    else:
        asked = steps[state.step].weight
        before = steps[state.step - 1].weight if state.step > 0 else 0
        applied = asked if state.step_start_time is not None else before
    if not spec.gateway:
        split = ratio_split(total, asked)
        replicas = {version: split.candidate, stable: stable_replicas_during_ratio(split, total, ready)}
        both = ready + stable_ready
        weight = round(100 * ready / both) if both else 0
        return Share({stable: 100 - weight, version: weight}, replicas, weight, split.describe())
    replicas = {stable: total, version: total if promoting else candidate_replicas(spec, asked)}
    weight = applied if ready > 0 else 0
    if stable_ready == 0 and ready > 0:
        weight = 100  # the stable version has no Ready replica: weight goes only where one is
    return Share({stable: 100 - weight, version: weight}, replicas, weight, None)


def promoted(spec: RolloutSpec, observed: Observed, version: str, ready: int, weight: int) -> bool:
    """Whether a promotion is complete: the new version runs in full and (with Gateway API) the
    route is observed to send it everything, so the old version may go (make before break)."""
    if ready < spec.replicas:
        return False
    if not spec.gateway:
        return True  # the new version runs in full behind the shared Service: its pods take over
    if weight < 100:
        return False
    route = observed.route_weights or {}
    return route.get(version) == 100 and not any(w for v, w in route.items() if v != version)


def describe(spec: RolloutSpec, state: RolloutState, weight: int, observed: Observed) -> str:
    steps = spec.steps
    where = "promoting" if state.step >= len(steps) else f"step {state.step + 1}/{len(steps)}"
    text = f"version {state.version}: {where}, {weight} % of traffic"
    if state.step < len(steps) and state.step_start_time is None:
        text += f"; waiting for {candidate_replicas(spec, steps[state.step].weight)} Ready replicas"
    if state.analysis is not None:
        text += f"; last check: {state.analysis.verdict.message}"
    if spec.mirror_percent and observed.mirror_unsupported:
        text += f"; {observed.mirror_unsupported}"
    return text


def condition_reason(state: RolloutState) -> R:
    if state.reason:
        return R(state.reason)
    if state.phase is RolloutPhase.PROMOTING:
        return R.CANARY_PROMOTING
    return R.CANARY_STEP if state.step_start_time is not None or state.step > 0 else R.CANARY_STARTED
