"""What `lepton train --follow` says while a job runs: a table of snapshots and their changes."""

from __future__ import annotations

import pytest

from lepton.client import progress


def job(phase: str = "", reason: str = "", message: str = "", **status) -> dict:
    conditions = [{"type": phase, "status": "True", "reason": reason, "message": message}] if phase else []
    return {
        "metadata": {"name": "j", "namespace": "ns"},
        "status": {"phase": phase, "conditions": conditions, **status},
    }


def pod(phase: str, deleting: bool = False) -> dict:
    meta = {"deletionTimestamp": "2025-01-01T00:00:00Z"} if deleting else {}
    return {"metadata": meta, "status": {"phase": phase}}


def test_queued_says_position_and_what_it_waits_for():
    waits = "needs 4 pods x 8 GPUs; 1 fit now"
    snap = progress.snapshot(job("Queued", "WaitingForGPUs", waits, admissionMessage=waits), position=2)
    assert snap.queue == "position 2 in the queue; waiting for: needs 4 pods x 8 GPUs; 1 fit now"
    assert progress.changes(None, snap) == [
        f"phase Queued (WaitingForGPUs): {waits}",
        snap.queue,
    ]


def test_every_phase_of_a_run_is_one_line_each():
    steps = [
        progress.snapshot(job("Created", "Created")),
        progress.snapshot(job("Admitted", "Admitted"), [pod("Pending"), pod("Pending")]),
        progress.snapshot(job("Running", "AllWorkersRunning"), [pod("Running"), pod("Running")]),
        progress.snapshot(
            job(
                "Running",
                "AllWorkersRunning",
                progress={"epoch": 1, "step": 10, "loss": 0.5, "samplesPerSecond": 100},
            ),
            [pod("Running"), pod("Running")],
        ),
        progress.snapshot(
            job("Succeeded", "Succeeded", metrics={"loss": 0.1}, modelVersion="m-j"),
            [pod("Succeeded"), pod("Succeeded")],
            model_version={"status": {"phase": "Verifying"}},
        ),
    ]
    said, before = [], None
    for snap in steps:
        said += progress.changes(before, snap)
        before = snap
    assert said == [
        "phase Created: the operator has seen the job and will queue it",
        "phase Admitted: GPUs are set aside for every worker; the pods are being created and scheduled",
        "pods: 2 Pending",
        "phase Running (AllWorkersRunning): every worker pod runs",
        "pods: 2 Running",
        "epoch 1, step 10, loss 0.5, 100.0 samples/s",
        "phase Succeeded: rank 0 exited 0: the job is done",
        "pods: 2 Succeeded",
        "metrics: loss 0.1",
        "model version m-j: Verifying",
    ]
    assert progress.outcome(steps[-1]) == progress.Outcome(True, "Succeeded", "")


def test_nothing_changed_says_nothing():
    snap = progress.snapshot(job("Running", "AllWorkersRunning"), [pod("Running")])
    assert progress.changes(snap, snap) == []


def test_restart_and_terminating_pods():
    before = progress.snapshot(job("Running", "AllWorkersRunning"), [pod("Running")])
    now = progress.snapshot(
        job("Restarting", "WorkerFailed", "worker 1 exited with 1", restartCount=1),
        [pod("Running", deleting=True)],
    )
    assert progress.changes(before, now) == [
        "phase Restarting (WorkerFailed): worker 1 exited with 1",
        "restart 1",
        "pods: 1 Terminating",
    ]
    assert progress.outcome(now) is None


def test_failure_carries_the_reason():
    snap = progress.snapshot(job("Failed", "BackoffLimitExceeded", ""))
    done = progress.outcome(snap)
    assert done == progress.Outcome(False, "BackoffLimitExceeded", "")
    assert done.describe().startswith("Failed: BackoffLimitExceeded: the job failed more often")


def queued(name: str, created: str, priority_class: str | None = None, queue: str | None = None) -> dict:
    scheduling = {k: v for k, v in (("priorityClassName", priority_class), ("queue", queue)) if v}
    return {
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
        "spec": {"scheduling": scheduling},
        "status": {"phase": "Queued"},
    }


@pytest.mark.parametrize(
    ("name", "position"),
    [("urgent", 1), ("old", 2), ("new", 3), ("other-queue", 1)],
)
def test_queue_position_is_admission_order(name, position):
    jobs = [
        queued("new", "2025-01-01T00:00:03Z"),
        queued("old", "2025-01-01T00:00:01Z"),
        queued("urgent", "2025-01-01T00:00:05Z", priority_class="high"),
        queued("other-queue", "2025-01-01T00:00:00Z", queue="b"),
    ]
    me = next(j for j in jobs if j["metadata"]["name"] == name)
    assert progress.queue_position(me, jobs, {"high": 1000}) == position
