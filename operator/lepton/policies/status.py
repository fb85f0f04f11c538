"""Status derivation: phase, conditions and replica counts of a TrainingJob from what is observed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lepton.api.common import Condition, ConditionStatus, set_condition
from lepton.api.trainingjob import TrainingJobPhase, TrainingJobReason
from lepton.policies.pod_start import PodStart

# The API's phase enum, under the name the state machine uses.
Phase = TrainingJobPhase


CONDITION_TYPES: tuple[str, ...] = tuple(p.value for p in Phase)

# Which condition types are True in each phase; every other type already present turns False.
_TRUE_IN: dict[Phase, frozenset[str]] = {
    Phase.CREATED: frozenset({"Created"}),
    Phase.QUEUED: frozenset({"Created", "Queued"}),
    Phase.ADMITTED: frozenset({"Created", "Admitted"}),
    Phase.RUNNING: frozenset({"Created", "Admitted", "Running"}),
    Phase.RESTARTING: frozenset({"Created", "Restarting"}),
    Phase.SUCCEEDED: frozenset({"Created", "Succeeded"}),
    Phase.FAILED: frozenset({"Created", "Failed"}),
    Phase.SUSPENDED: frozenset({"Created", "Suspended"}),
}

WARNING_PHASES = frozenset({Phase.FAILED, Phase.RESTARTING})


@dataclass(frozen=True)
class PodState:
    """What the controller needs to know about one worker pod, taken from its latest watch event."""

    name: str
    index: int
    attempt: int
    phase: str = "Pending"  # Pending | Running | Succeeded | Failed | Unknown
    node: str | None = None
    ready: bool = False
    exit_code: int | None = None
    reason: str = ""
    termination_message: str | None = None
    deleting: bool = False
    finished_at: float | None = None
    gpus: int = 0
    ip: str | None = None  # status.podIP: where the operator reads rank 0's progress
    disruption: str | None = None  # reason of a True DisruptionTarget condition ("" if none given)
    # The node the operator pinned it to (builders.required; None: not pinned), and whether the
    # scheduler reports it fitting nowhere it may go (pinned: that node cannot take it after all,
    # and policies.lifecycle unpins it).
    pinned: str | None = None
    unschedulable: bool = False
    version: str | None = field(default=None, compare=False)  # metadata.resourceVersion
    # What its start depends on (policies.pod_start): why a worker that was bound does not start.
    start: PodStart | None = field(default=None, compare=False)

    @property
    def terminal(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    @property
    def active(self) -> bool:
        return not self.terminal and not self.deleting

    @property
    def unplaceable(self) -> bool:
        """Pinned to a node that cannot take it: never bound, so never ran; deleting it loses nothing."""
        return self.pinned is not None and self.unschedulable and self.node is None

    @property
    def placed_on(self) -> str | None:
        """The node it holds GPUs on: where it is bound, or, not bound yet, where it is pinned."""
        return self.node or (None if self.unplaceable else self.pinned)


@dataclass(frozen=True)
class Counts:
    active: int = 0
    ready: int = 0
    succeeded: int = 0
    failed: int = 0


def count(pods: Iterable[PodState]) -> Counts:
    active = ready = succeeded = failed = 0
    for pod in pods:
        if pod.phase == "Succeeded":
            succeeded += 1
        elif pod.phase == "Failed":
            failed += 1
        elif not pod.deleting:
            active += 1
            ready += int(pod.phase == "Running" and pod.ready)
    return Counts(active=active, ready=ready, succeeded=succeeded, failed=failed)


def conditions_for(
    phase: Phase,
    reason: str,
    message: str,
    previous: Sequence[Condition],
    *,
    generation: int | None,
    at: str,
) -> list[Condition]:
    """Conditions for ``phase``: its own condition True with reason/message, Created True, and every
    other condition already present False. lastTransitionTime moves only when a status changes."""
    true_types = _TRUE_IN[phase]
    present = {c.type for c in previous}
    result = list(previous)
    for type_ in CONDITION_TYPES:
        if type_ in true_types:
            own = type_ == phase.value
            result = set_condition(
                result,
                type_,
                ConditionStatus.TRUE,
                reason if own else _supporting_reason(type_),
                message if own else "",
                observed_generation=generation,
                at=at,
            )
        elif type_ in present:
            result = set_condition(
                result, type_, ConditionStatus.FALSE, reason, message, observed_generation=generation, at=at
            )
    order = {t: i for i, t in enumerate(CONDITION_TYPES)}
    return sorted(result, key=lambda c: order.get(c.type, len(order)))


def _supporting_reason(type_: str) -> str:
    return {"Created": TrainingJobReason.CREATED, "Admitted": TrainingJobReason.ADMITTED}.get(type_, type_)
