"""Growth of a running elastic TrainingJob: whether to look, and one admission pass that may grant it
more workers (policies.admission decides; policies.elastic says how many and why)."""

from __future__ import annotations

from collections.abc import Sequence

from lepton.controllers.training.context import Training
from lepton.controllers.training.indices import Indices
from lepton.policies.gpu_health import Faults
from lepton.policies.lifecycle import JobState
from lepton.policies.status import Phase, PodState


def may_grow(state: JobState, pods: Sequence[PodState]) -> bool:
    """A running elastic job below maxReplicas whose workers of this attempt all run (none pending,
    none being replaced or deleted): only then can more workers join a stable group."""
    if state.bounds is None or state.phase is not Phase.RUNNING or state.replicas >= state.bounds.max:
        return False
    current = [p for p in pods if p.attempt == state.restart_count]
    return len(current) == state.replicas and all(p.phase == "Running" and not p.deleting for p in current)


async def look(
    key: str, uid: str, state: JobState, training: Training, indices: Indices, now: float, faults: Faults
) -> int | None:
    """The size an admission pass grants the job now (None: it stays as it is). The pass may admit or
    grow other jobs too: they are woken."""
    granted = training.queue.granted(key, uid)
    if granted is not None and granted > state.replicas:
        return granted  # a pass run for another job grew this one already
    observed = indices.observed(
        faults=faults.nodes, now=now, default_reservation=training.settings.queue_reservation_seconds
    )
    grown, others = await training.queue.grow(key, uid, observed)
    training.wakeups.kick_all(others, at_once=True)  # GPUs are set aside for them: they create workers
    return grown
