"""Where a queued job stands (its position, what it waits for) is written at most every
STANDING_REFRESH_S, so that a long queue is not a status write per waiting job at every admission
and every GPU freed; what it is (admitted) is written at once."""

from __future__ import annotations

import time

import pytest
from tjkit import Jobs, block, left_by_earlier_tests, manifest, queued_with

from lepton.controllers.training.reconcile import STANDING_REFRESH_S
from support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def test_tj_a_queued_jobs_standing_is_written_when_due_and_its_admission_at_once(jobs):
    core = jobs.core
    wait_for(
        lambda: not left_by_earlier_tests(core, jobs.namespace),
        90,
        "no GPU pod or unfinished job of an earlier test",
        seen=lambda: left_by_earlier_tests(core, jobs.namespace),
    )
    blockers = [block(jobs, f"lepton-gpu-{i}", 8) for i in range(4)]
    wait_for(
        lambda: all(jobs.phase(b) == "Running" for b in blockers),
        60,
        "a blocker Running on each of the four nodes",
        seen=lambda: {b: jobs.phase(b) for b in blockers},
    )
    jobs.create(manifest("pair", replicas=2, gpus=8))
    queued = queued_with(jobs, "pair", "WaitingForGPUs")
    queued_seen = time.monotonic()
    assert queued["message"] == "needs 2 pods x 8 GPUs; 0 fit now"

    # The blocker's release wakes the waiting job at once; its pass finds one node free, which
    # changes only what its message says: written when due, not at once.
    jobs.delete(blockers[0])

    def one_fits() -> float | None:
        message = jobs.status("pair").get("admissionMessage") or ""
        return time.monotonic() if message == "needs 2 pods x 8 GPUs; 1 fit now" else None

    changed = wait_for(
        one_fits,
        STANDING_REFRESH_S + 15,
        "pair's message to say 1 fit now",
        interval=0.05,
        seen=lambda: jobs.status("pair"),
    )
    # Its Queued status was written before the test saw it (the poll, the API's latency: < 1 s).
    assert changed - queued_seen >= STANDING_REFRESH_S - 1, (
        f"written {changed - queued_seen:.1f} s after its Queued status; where it stands is "
        f"written at most every {STANDING_REFRESH_S:g} s"
    )
    assert jobs.phase("pair") == "Queued"

    jobs.delete(blockers[1])
    wait_for(
        lambda: jobs.phase("pair") == "Running",
        30,
        "pair Running on the two freed nodes",
        seen=lambda: jobs.status("pair"),
    )
    assert "Admitted" in jobs.events("pair")
