"""A fake-clock driver for the rollout state machine: a scenario is a list of ticks (time, what is
observed, the check that ran, the annotations), each with what the decision must say."""

from __future__ import annotations

from dataclasses import dataclass, field

from lepton.api.rollout import AnalysisResult, CanaryStatus, FailedVersion
from lepton.api.times import parse_time
from lepton.policies.rollout import Decision, decide
from lepton.policies.rollout_actions import Actions, actions_from
from lepton.policies.rollout_analysis import Verdict
from lepton.policies.rollout_state import (
    FailedRecord,
    Measurement,
    Observed,
    RolloutSpec,
    RolloutState,
    Step,
    canary_status,
    failed_from_status,
    failed_status,
    state_from_status,
)

PASS, FAIL = AnalysisResult.PASS, AnalysisResult.FAIL
Failed = tuple[FailedRecord, ...]
INCONCLUSIVE, ERROR = AnalysisResult.INCONCLUSIVE, AnalysisResult.ERROR
T0 = parse_time("2026-01-01T00:00:00Z").timestamp()

SPEC = RolloutSpec(
    steps=(Step(20, 60), Step(50, 60)),
    replicas=4,
    interval=30,
    failure_limit=2,
    consecutive_error_limit=2,
    deadline=300,
)


def check(result: AnalysisResult) -> Verdict:
    return Verdict(result, 100.0, (), f"{result.value} (scripted)")


@dataclass
class Tick:
    at: float
    ready: dict[str, int] | None = None
    """Ready replicas by version (kept from the tick before when None)."""
    check: AnalysisResult | None = None
    target: str | None = None
    """The resolved target (kept from the tick before when None)."""
    annotations: dict[str, str] | None = None
    route: dict[str, int] | None = None
    # Expectations (None: not checked)
    phase: str | None = None
    """A RolloutPhase value, or "none" for no rollout state."""
    step: int | None = None
    weights: dict[str, int] | None = None
    replicas: dict[str, int] | None = None
    events: tuple[str, ...] | None = None
    """Reasons of the events of this tick, in order (() for none)."""
    stable: str | None = None
    mirror: tuple[str, int] | str | None = "unchecked"
    progressing: str | None = None
    """Reason of RolloutProgressing."""
    blocked: tuple[str, ...] | None = None
    """Versions status.failedVersions keeps from rolling out."""


@dataclass
class Sim:
    spec: RolloutSpec = SPEC
    stable: str | None = "v1"
    target: str = "v2"
    state: RolloutState | None = None
    failed: tuple[FailedRecord, ...] = ()
    ready: dict[str, int] = field(default_factory=lambda: {"v1": 4})
    annotations: dict[str, str] = field(default_factory=dict)
    mirror_unsupported: str = ""
    """Why the Gateway cannot mirror (Observed.mirror_unsupported)."""
    last: Decision | None = None

    def tick(self, tick: Tick) -> Decision:
        if tick.ready is not None:
            self.ready = {**self.ready, **tick.ready}
        if tick.target is not None:
            self.target = tick.target
        if tick.annotations is not None:
            self.annotations = tick.annotations
        now = T0 + tick.at
        measured = Measurement(now, check(tick.check)) if tick.check is not None else None
        actions: Actions = actions_from(self.annotations)
        observed = Observed(dict(self.ready), tick.route, self.mirror_unsupported)

        def step(state: RolloutState | None, failed: Failed, stable: str | None) -> Decision:
            return decide(
                spec=self.spec,
                state=state,
                failed=failed,
                stable=stable,
                target=self.target,
                observed=observed,
                now=now,
                measurement=measured,
                actions=actions,
            )

        decision = step(self.state, self.failed, self.stable)
        # The same inputs again, on the state just decided: nothing moves, nothing is announced.
        again = step(decision.state, decision.failed, decision.stable)
        assert again.events == (), f"t={tick.at}: a replay emitted {again.events}"
        assert again.state == decision.state, f"t={tick.at}: a replay moved the state"
        # Through the status and back, as the controller stores it.
        status = canary_status(decision.state)
        back = state_from_status(CanaryStatus.model_validate(status) if status else None)
        assert back == decision.state, f"t={tick.at}: the status round trip lost {decision.state}"
        records = failed_status(decision.failed) or []
        assert failed_from_status([FailedVersion.model_validate(r) for r in records]) == decision.failed
        self.state, self.failed, self.stable, self.last = back, decision.failed, decision.stable, decision
        return decision


def run(sim: Sim, ticks: list[Tick]) -> None:
    for tick in ticks:
        d = sim.tick(tick)
        where = f"t={tick.at}"
        if tick.phase is not None:
            assert (d.state.phase.value if d.state else "none") == tick.phase, (where, d.state, d.events)
        if tick.step is not None:
            assert (d.state.step if d.state else None) == tick.step, (where, d.state)
        if tick.weights is not None:
            assert {v: w for v, w in d.weights.items() if w} == tick.weights, (where, d.weights)
        if tick.replicas is not None:
            assert d.replicas == tick.replicas, (where, d.replicas)
        if tick.events is not None:
            assert tuple(e.reason.value for e in d.events) == tick.events, (where, d.events)
        if tick.stable is not None:
            assert d.stable == tick.stable, (where, d.stable)
        if tick.mirror != "unchecked":
            assert d.mirror == tick.mirror, (where, d.mirror)
        if tick.progressing is not None:
            assert d.progressing.reason.value == tick.progressing, (where, d.progressing)
        if tick.blocked is not None:
            assert tuple(r.version for r in d.failed if r.blocked) == tick.blocked, (where, d.failed)
