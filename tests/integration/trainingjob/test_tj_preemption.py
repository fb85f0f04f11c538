"""Gang preemption on the local cluster with the operator running (#15 item 2): a high-priority job
that does not fit stops a preemptible low-priority gang as a whole, the victim goes back to the
queue without spending its restart budget, events on both sides name the other, and the victim runs
again (a new attempt) once the GPUs are free."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from test_tj_queues import gpu_pods
from tjkit import Jobs, env_of, manifest

from support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


@pytest.fixture
def priority_classes(kube: client.ApiClient, namespace: str) -> Iterator[dict[str, str]]:
    """A low and a high PriorityClass (cluster-scoped, so named after the test's namespace)."""
    api = client.SchedulingV1Api(kube)
    names = {level: f"{namespace}-{level}" for level in ("low", "high")}
    for level, value in (("low", 10), ("high", 1000)):
        api.create_priority_class(client.V1PriorityClass(metadata={"name": names[level]}, value=value))
    yield names
    for name in names.values():
        api.delete_priority_class(name)


def messages(core: client.CoreV1Api, namespace: str, name: str, reason: str) -> list[str]:
    items = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return [e.message for e in items if e.reason == reason]


def bound(jobs: Jobs, name: str, count: int) -> bool:
    pods = jobs.live_pods(name)
    return len(pods) == count and all(p.spec.node_name for p in pods)


def test_tj_preemption_end_to_end_with_the_victim_requeued(jobs, priority_classes, namespace):
    core = jobs.core
    wait_for(lambda: not gpu_pods(core), 90, "no GPU pod left by earlier tests", seen=lambda: gpu_pods(core))
    high = manifest("high", replicas=2, gpus=8, scheduling={"priorityClassName": priority_classes["high"]})
    # The anchor for the figure: the same job on free GPUs, nothing to preempt.
    anchor = time.monotonic()
    jobs.create({**high, "metadata": {"name": "anchor"}})
    wait_for(
        lambda: bound(jobs, "anchor", 2), 90, "anchor's 2 pods bound", seen=lambda: jobs.status("anchor")
    )
    to_bound_free = time.monotonic() - anchor
    jobs.delete("anchor")
    wait_for(lambda: not gpu_pods(core), 60, "anchor's pods gone", seen=lambda: gpu_pods(core))

    # The victim fills all four 8-GPU nodes; its workers get 2 s of grace to checkpoint.
    low: dict[str, Any] = manifest(
        "low",
        replicas=4,
        gpus=8,
        scheduling={"priorityClassName": priority_classes["low"], "preemptible": True},
        runPolicy={"terminationGracePeriodSeconds": 2, "backoffLimit": 0},
    )
    jobs.create(low)
    wait_for(lambda: jobs.phase("low") == "Running", 60, "low Running", seen=lambda: jobs.status("low"))

    applied = time.monotonic()
    jobs.create(high)
    wait_for(lambda: bound(jobs, "high", 2), 90, "high's 2 pods bound", seen=lambda: jobs.status("high"))
    to_bound = time.monotonic() - applied
    print(
        f"\npreemption: high-priority job applied -> its 2 pods bound in {to_bound:.2f} s; "
        f"the same job on free GPUs {to_bound_free:.2f} s (ratio {to_bound / to_bound_free:.2f})"
    )

    # The victim: whole gang stopped, back in the queue, the restart recorded but not charged
    # (backoffLimit 0 would have failed it otherwise).
    wait_for(
        lambda: jobs.live_pods("low") == [], 30, "every worker of low gone", seen=lambda: jobs.pods("low")
    )
    status = jobs.status("low")
    assert status["phase"] == "Queued", status
    assert (status["restartCount"], status["nodeLossRestarts"]) == (1, 1), status
    history = status["restartHistory"]
    assert sorted(e["worker"] for e in history) == [0, 1, 2, 3], history
    assert all(e["cause"] == "Preemption" and e["charged"] is False for e in history), history
    assert all(e["reason"] == f"preempted by {namespace}/high" for e in history), history
    assert "startTime" not in status, status

    jobs.wait_events("low", "Preempted")
    assert messages(core, namespace, "low", "Preempted")[0].startswith(f"Preempted by {namespace}/high")
    jobs.wait_events("high", "Preempting")
    assert messages(core, namespace, "high", "Preempting") == [f"Preempted {namespace}/low"]

    # Requeued: once high is gone the victim runs again, as a new attempt of the same job.
    jobs.delete("high")
    wait_for(lambda: jobs.phase("low") == "Running", 90, "low Running again", seen=lambda: jobs.status("low"))
    assert {env_of(p)["LEPTON_RESTART_ATTEMPT"] for p in jobs.live_pods("low")} == {"1"}


def test_tj_preemptible_without_gang_admission_is_refused_naming_the_field(jobs):
    body = manifest("loose", replicas=1, gpus=8, scheduling={"gang": False, "preemptible": True})
    with pytest.raises(client.ApiException) as refused:
        jobs.create(body)
    assert refused.value.status == 422
    assert "spec.scheduling.preemptible" in refused.value.body, refused.value.body
    assert "needs scheduling.gang: true" in refused.value.body, refused.value.body
