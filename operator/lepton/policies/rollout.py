"""The canary rollout state machine: from the recorded rollout, the spec, the clock, the versions'
Ready replicas, the latest analysis check and the manual actions to one decision (the new state,
weights and replicas per version, events and conditions). The controller observes, calls `decide`,
and acts; it decides nothing. Calling `decide` again with the same inputs and the state it returned
changes nothing and emits no event.

Rules (issue #13; where it is silent, what an Argo Rollouts user expects):
- a step takes effect (its weight, its pause clock) once the new version has the replicas its share
  needs Ready; a version gets weight only while it has Ready replicas;
- a step completes when its pause is over and the last check since the step began passed: silence
  (no check, Inconclusive, Error) never advances, so a canary without traffic is never promoted;
- failureLimit failed checks: weight 0 at once, the new version's replicas go after a delay, and the
  version is remembered as failed;
- more than consecutiveErrorLimit erroring checks in a row hold the rollout (never roll it back);
- past the progress deadline the rollout holds, or rolls back with progressDeadlineAbort;
- a shadow step (weight 0) that the Gateway cannot mirror to holds (MirrorUnsupported);
- a newer target restarts the rollout for it; the serving version as target cancels the rollout;
- promotion scales the new version to full size, gives it all traffic once it is Ready, and ends
  when the route is observed to carry that (make before break).
"""

from __future__ import annotations

from dataclasses import replace

from lepton.api.inferenceservice import InferenceServiceReason as R
from lepton.api.rollout import MAX_FAILED_VERSIONS, AnalysisResult, RolloutPhase
from lepton.policies.inference import ConditionValue
from lepton.policies.mirror import mirrored, shadow_unmirrored, unmirrored_notice
from lepton.policies.rollout_actions import Actions
from lepton.policies.rollout_state import (
    ACTIVE,
    FINISHED,
    FailedRecord,
    Measurement,
    Observed,
    RolloutSpec,
    RolloutState,
)
from lepton.policies.rollout_traffic import (
    Decision,
    Event,
    candidate_replicas,
    condition_reason,
    describe,
    held_replicas,
    promoted,
    traffic_for,
)


def decide(
    *,
    spec: RolloutSpec,
    state: RolloutState | None,
    failed: tuple[FailedRecord, ...],
    stable: str | None,
    target: str | None,
    observed: Observed,
    now: float,
    measurement: Measurement | None = None,
    actions: Actions | None = None,
) -> Decision:
    """`stable`: the version serving now (status.currentVersion); `target`: the version spec.model
    resolves to now (None when it cannot be resolved: the rollout goes on as it was)."""
    return _Run(spec, observed, now, actions or Actions(), list(failed)).decide(
        state, stable, target, measurement
    )


class _Run:
    def __init__(
        self, spec: RolloutSpec, observed: Observed, now: float, actions: Actions, failed: list[FailedRecord]
    ) -> None:
        self.spec, self.observed, self.now, self.actions, self.failed = spec, observed, now, actions, failed
        self.events: list[Event] = []
        self.retired: dict[str, int] = {}
        """Former candidates: version -> replicas they keep (0: scale down)."""

    def emit(self, reason: R, message: str, warning: bool = False) -> None:
        self.events.append(Event(reason, message, warning))

    def record(self, version: str) -> FailedRecord | None:
        return next((r for r in self.failed if r.version == version), None)

    def decide(
        self, state: RolloutState | None, stable: str | None, target: str | None, measured: Measurement | None
    ) -> Decision:
        if target is None:
            target = state.version if state is not None and state.phase in ACTIVE else stable
        if stable is None or target is None:
            return self.steady(target, None)
        state = self.retry(state)
        if target == stable:
            if state is not None and state.phase in ACTIVE:
                self.emit(
                    R.ROLLOUT_CANCELLED,
                    f"version {stable} is the target again: rollout of {state.version} cancelled",
                )
            if state is not None:
                self.retired[state.version] = 0
            return self.steady(stable, None)
        if state is None or state.version != target:
            if state is not None:
                self.retired[state.version] = 0
            record = self.record(target)
            if record is not None and record.blocked:
                if state is not None and state.phase in ACTIVE:
                    self.emit(
                        R.FAILED_VERSION_SKIPPED,
                        f"rollout of {state.version} stopped: {target} failed before",
                    )
                why = (
                    f"version {target} failed its rollout ({record.reason}: {record.message}); not rolled "
                    f"out again until a newer version appears or retry: {target}:{record.retries + 1}"
                )
                return self.steady(stable, ConditionValue(False, R.FAILED_VERSION_SKIPPED, why))
            restarted = state is not None and state.phase in ACTIVE
            state = RolloutState(
                version=target,
                phase=RolloutPhase.PROGRESSING,
                start_time=self.now,
                last_progress_time=self.now,
                retries=record.retries if record else 0,
            )
            if restarted:
                self.emit(
                    R.CANARY_RESTARTED,
                    f"newer version {target} appeared mid-rollout: rolling it out from step 0",
                )
            else:
                self.emit(R.CANARY_STARTED, f"rolling out version {target} next to {stable}")
            if notice := unmirrored_notice(self.spec, self.observed):
                self.emit(R.MIRROR_UNSUPPORTED, notice, True)
        if state.phase in FINISHED:
            return self.finished(state, stable)
        return self.active(state, stable, measured)

    # -- manual actions --------------------------------------------------------------------------

    def retry(self, state: RolloutState | None) -> RolloutState | None:
        wanted = self.actions.retry
        if wanted is None:
            return state
        record = self.record(wanted.version)
        count = self.actions.retry_count
        if record is None or count <= record.retries:
            return state  # nothing failed, or this retry was made already (an annotation left in git)
        self.failed = [replace(r, retries=count, blocked=False) if r is record else r for r in self.failed]
        self.emit(R.ROLLOUT_RETRIED, f"retry {count} of version {wanted.version} (lepton.ai/retry)")
        if state is not None and state.version == wanted.version and state.phase in FINISHED:
            return None
        return state

    # -- the rollout -----------------------------------------------------------------------------

    def active(self, state: RolloutState, stable: str, measured: Measurement | None) -> Decision:
        abort = self.actions.abort
        if abort is not None and abort.version == state.version and self.actions.abort_retry == state.retries:
            state = self.roll_back(
                state, RolloutPhase.ABORTED, R.ROLLOUT_ABORTED, "aborted by lepton.ai/abort"
            )
            return self.finished(state, stable)
        state = self.measure(state, measured)
        if state.phase in FINISHED:
            return self.finished(state, stable)
        promote = self.actions.promote
        approved = -1
        if promote is not None and promote.version == state.version:
            if promote.n is None and state.step < len(self.spec.steps):
                state = replace(
                    state,
                    step=len(self.spec.steps),
                    step_start_time=None,
                    next_step_time=None,
                    last_progress_time=self.now,
                )
                self.emit(
                    R.CANARY_PROMOTING,
                    f"version {state.version} promoted by lepton.ai/promote: skipping the remaining steps",
                )
            elif promote.n is not None:
                approved = promote.n
        state = self.advance(state, approved)
        state = self.hold_or_deadline(state, approved)
        if state.phase in FINISHED:
            return self.finished(state, stable)
        return self.route(state, stable)

    def measure(self, state: RolloutState, measured: Measurement | None) -> RolloutState:
        due = state.next_analysis_time
        if measured is None or due is None or measured.time < due:
            return state  # not due, or a check this state has counted already
        v = measured.verdict
        state = replace(state, analysis=measured, next_analysis_time=measured.time + self.spec.interval)
        if v.result is AnalysisResult.ERROR:
            return replace(state, errors=state.errors + 1, consecutive_errors=state.consecutive_errors + 1)
        state = replace(state, consecutive_errors=0)
        if v.result is AnalysisResult.PASS:
            return replace(state, passed=state.passed + 1)
        if v.result is AnalysisResult.INCONCLUSIVE:
            return replace(state, inconclusive=state.inconclusive + 1)
        state = replace(state, failed=state.failed + 1)
        limit = self.spec.failure_limit
        self.emit(
            R.ANALYSIS_FAILED,
            f"check {state.failed}/{limit} of version {state.version} failed: {v.message}",
            True,
        )
        if state.failed >= limit:
            why = f"{state.failed} failed checks (failureLimit {limit}); last: {v.message}"
            return self.roll_back(state, RolloutPhase.ROLLED_BACK, R.ANALYSIS_FAILED, why)
        return state

    def advance(self, state: RolloutState, approved: int) -> RolloutState:
        steps, ready = self.spec.steps, self.observed.ready_of(state.version)
        while state.step < len(steps):
            step = steps[state.step]
            if state.step_start_time is None:
                if ready < candidate_replicas(self.spec, step.weight) or ready == 0:
                    return state
                pause_end = None if step.pause is None else self.now + step.pause
                first = state.next_analysis_time or self.now + self.spec.interval
                state = replace(
                    state,
                    step_start_time=self.now,
                    next_step_time=pause_end,
                    last_progress_time=self.now,
                    next_analysis_time=first,
                )
                self.emit(
                    R.CANARY_STEP,
                    f"step {state.step + 1}/{len(steps)}: {step.weight} % of traffic to {state.version}",
                )
            started = state.step_start_time or self.now
            waived = approved >= state.step
            pause_over = waived or (step.pause is not None and self.now >= started + step.pause)
            last = state.analysis
            passed = last is not None and last.time > started and last.verdict.result is AnalysisResult.PASS
            if not (pause_over and (passed or waived)):
                return state
            state = replace(
                state,
                step=state.step + 1,
                step_start_time=None,
                next_step_time=None,
                last_progress_time=self.now,
            )
            if state.step == len(steps):
                self.emit(
                    R.CANARY_PROMOTING, f"all steps passed: scaling version {state.version} to full size"
                )
        return state

    def hold_or_deadline(self, state: RolloutState, approved: int) -> RolloutState:
        steps, version = self.spec.steps, state.version
        waiting = state.step < len(steps) and state.step_start_time is not None
        paused = waiting and steps[state.step].pause is None and approved < state.step
        phase = RolloutPhase.PROMOTING if state.step >= len(steps) else RolloutPhase.PROGRESSING
        reason: R | None = None
        message = ""
        if paused:
            phase, reason = RolloutPhase.PAUSED, R.ROLLOUT_PAUSED
            message = (
                f"step {state.step + 1} of {version} waits for lepton.ai/promote: {version}:{state.step}"
            )
        since = state.deadline_from()
        late = not paused and self.now - since > self.spec.deadline
        erring = state.consecutive_errors > self.spec.consecutive_error_limit
        last_erred = state.analysis is not None and state.analysis.verdict.result is AnalysisResult.ERROR
        if late and self.spec.deadline_abort and not last_erred:
            # Query errors hold and never roll back, not even through the deadline.
            why = (
                f"no progress for {self.now - since:.0f} s (progressDeadlineSeconds {self.spec.deadline:.0f})"
            )
            return self.roll_back(state, RolloutPhase.ROLLED_BACK, R.PROGRESS_DEADLINE_EXCEEDED, why)
        shadow = shadow_unmirrored(self.spec, self.observed, state)
        if erring:
            phase, reason = RolloutPhase.HOLDING, R.ANALYSIS_ERRORS
            last = state.analysis.verdict.message if state.analysis else ""
            message = (
                f"rollout of {version} held: {state.consecutive_errors} checks in a row went unanswered "
                f"(consecutiveErrorLimit {self.spec.consecutive_error_limit}); {last}"
            )
        elif shadow:
            phase, reason, message = RolloutPhase.HOLDING, R.MIRROR_UNSUPPORTED, shadow
        elif late:
            phase, reason = RolloutPhase.HOLDING, R.PROGRESS_DEADLINE_EXCEEDED
            message = (
                f"rollout of {version} held: no progress for {self.now - since:.0f} s "
                f"(progressDeadlineSeconds {self.spec.deadline:.0f})"
            )
        if reason is not None and reason.value != state.reason:
            self.emit(reason, message, warning=phase is RolloutPhase.HOLDING)
        if state.reason == R.ANALYSIS_ERRORS and reason is not R.ANALYSIS_ERRORS:
            self.emit(R.ANALYSIS_RECOVERED, f"analysis of {version} answers again: the rollout goes on")
        return replace(state, phase=phase, reason=reason.value if reason else None)

    def roll_back(self, state: RolloutState, phase: RolloutPhase, reason: R, why: str) -> RolloutState:
        delay = self.spec.scale_down_delay if self.spec.gateway else 0.0
        state = replace(
            state,
            phase=phase,
            reason=reason.value,
            message=why,
            weight=0,
            next_step_time=None,
            next_analysis_time=None,
            scale_down_time=self.now + delay,
        )
        record = FailedRecord(state.version, reason.value, self.now, why, state.retries, True)
        others = [r for r in self.failed if r.version != state.version]
        self.failed = [*others[-(MAX_FAILED_VERSIONS - 1) :], record]
        event = R.ROLLOUT_ABORTED if phase is RolloutPhase.ABORTED else R.ROLLED_BACK
        self.emit(event, f"version {state.version} rolled back, weight 0: {why}", True)
        return state

    # -- what each version gets ------------------------------------------------------------------

    def route(self, state: RolloutState, stable: str) -> Decision:
        version, ready = state.version, self.observed.ready_of(state.version)
        share = traffic_for(self.spec, state, stable, self.observed)
        state = replace(
            state,
            weight=share.weight,
            replica_split=share.split,
            message=describe(self.spec, state, share.weight, self.observed),
        )
        if state.step >= len(self.spec.steps) and promoted(
            self.spec, self.observed, version, ready, share.weight
        ):
            self.failed = [r for r in self.failed if r.version != version]
            self.emit(R.CANARY_PROMOTED, f"version {version} promoted: it serves all traffic")
            return self.steady(version, None, promoted_from=stable)
        mirror = mirrored(self.spec, self.observed, version)
        running = state.phase is not RolloutPhase.HOLDING
        progressing = ConditionValue(running, condition_reason(state), state.message or "")
        replicas = {**self.retired, **share.replicas}
        return self.decision(state, stable, share.weights, replicas, mirror, progressing, None)

    def finished(self, state: RolloutState, stable: str) -> Decision:
        total, version = self.spec.replicas, state.version
        due = state.scale_down_time
        keep = 0 if due is None or self.now >= due else held_replicas(self.spec, state)
        reason = R.ROLLOUT_ABORTED if state.phase is RolloutPhase.ABORTED else R.ROLLED_BACK
        text = f"version {version} {state.phase.value}: {state.message or ''}; version {stable} serves"
        degraded = ConditionValue(True, reason, text)
        replicas = {**self.retired, version: keep, stable: total}
        return self.decision(
            state, stable, {stable: 100}, replicas, None, ConditionValue(False, reason, text), degraded
        )

    def steady(
        self, version: str | None, progressing: ConditionValue | None, promoted_from: str | None = None
    ) -> Decision:
        replicas = dict(self.retired)
        if promoted_from is not None:
            replicas.pop(promoted_from, None)
        if version is not None:
            replicas[version] = self.spec.replicas
        value = progressing or ConditionValue(False, R.NO_ROLLOUT, "no rollout in progress")
        weights = {version: 100} if version else {}
        return self.decision(None, version, weights, replicas, None, value, None)

    def decision(
        self,
        state: RolloutState | None,
        stable: str | None,
        weights: dict[str, int],
        replicas: dict[str, int],
        mirror: tuple[str, int] | None,
        progressing: ConditionValue,
        degraded: ConditionValue | None,
    ) -> Decision:
        due = []
        analyze_at = None
        if state is not None and state.phase in ACTIVE:
            analyze_at = state.next_analysis_time
            due += [analyze_at, state.next_step_time, state.deadline_from() + self.spec.deadline]
        if state is not None and state.scale_down_time is not None and state.scale_down_time > self.now:
            due.append(state.scale_down_time)
        ahead = [t - self.now for t in due if t is not None and t > self.now]
        requeue = max(min(ahead), 1.0) if ahead else None
        return Decision(
            state,
            tuple(self.failed),
            stable,
            weights,
            replicas,
            mirror,
            tuple(self.events),
            progressing,
            degraded,
            analyze_at,
            requeue,
        )
