"""Conditions and counts derived from a phase and the observed pods."""

from __future__ import annotations

import pytest

from lepton.policies.status import Counts, Phase, PodState, conditions_for, count

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def states(conditions):
    return {c.type: c.status.value for c in conditions}


PHASE_CASES = [
    (Phase.QUEUED, {"Created": "True", "Queued": "True"}),
    (Phase.ADMITTED, {"Created": "True", "Admitted": "True"}),
    (Phase.RUNNING, {"Created": "True", "Admitted": "True", "Running": "True"}),
    (Phase.SUCCEEDED, {"Created": "True", "Succeeded": "True"}),
]


@pytest.mark.parametrize(("phase", "expected"), PHASE_CASES, ids=[p.value for p, _ in PHASE_CASES])
def test_conditions_of_a_fresh_job(phase, expected):
    assert states(conditions_for(phase, "R", "m", [], generation=1, at=T0)) == expected


def test_transition_turns_old_conditions_false_and_keeps_times_of_unchanged_ones():
    queued = conditions_for(Phase.QUEUED, "WaitingForGPUs", "needs 4 pods", [], generation=1, at=T0)
    running = conditions_for(Phase.RUNNING, "AllWorkersRunning", "4 of 4", queued, generation=2, at=T1)
    assert states(running) == {"Created": "True", "Queued": "False", "Admitted": "True", "Running": "True"}
    by_type = {c.type: c for c in running}
    assert by_type["Created"].last_transition_time == T0
    assert by_type["Queued"].last_transition_time == T1
    assert by_type["Running"].message == "4 of 4"
    assert by_type["Running"].observed_generation == 2


def test_reconciling_twice_changes_nothing():
    once = conditions_for(Phase.RUNNING, "AllWorkersRunning", "4 of 4", [], generation=1, at=T0)
    twice = conditions_for(Phase.RUNNING, "AllWorkersRunning", "4 of 4", once, generation=1, at=T1)
    assert once == twice


def test_counts():
    pods = [
        PodState("a", 0, 0, "Running", ready=True),
        PodState("b", 1, 0, "Pending"),
        PodState("c", 2, 0, "Succeeded"),
        PodState("d", 3, 0, "Failed"),
        PodState("e", 4, 0, "Running", deleting=True),
    ]
    assert count(pods) == Counts(active=2, ready=1, succeeded=1, failed=1)
