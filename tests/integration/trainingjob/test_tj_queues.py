"""Queues and quotas on the local cluster with the operator running (#15 item 1): a ResourceQuota too
small for a gang, a ClusterQueue that appears after its jobs, a starving large job that
eventually runs because it holds a reservation, and backfill beside such a reservation."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from kubernetes import client
from tjkit import Jobs, finishing, gpu_pods, manifest, on_nodes, queued_with

from support.wait import wait_for

pytestmark = pytest.mark.integration

GPU_QUOTA = "requests.nvidia.com/gpu"


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def test_tj_resource_quota_too_small_for_a_gang_waits_naming_it_with_no_pod(jobs, kube, namespace, kubectl):
    core = client.CoreV1Api(kube)
    quota = {"metadata": {"name": "gpus"}, "spec": {"hard": {GPU_QUOTA: "16"}}}
    core.create_namespaced_resource_quota(namespace, quota)
    wait_for(
        lambda: (core.read_namespaced_resource_quota("gpus", namespace).status.hard or {}).get(GPU_QUOTA),
        30,
        "the quota controller to fill in status.hard",
    )
    jobs.create(manifest("big", replicas=3, gpus=8))

    queued = queued_with(jobs, "big", "WaitingForQuota")
    assert "ResourceQuota gpus" in queued["message"]
    assert "24 requests.nvidia.com/gpu" in queued["message"]
    assert "can never hold it" in queued["message"]
    # The status is written after the pods a pass creates: none were, not 2 of the 3 as before.
    assert jobs.pods("big") == []
    assert jobs.status("big")["queuePosition"] == 1
    table = kubectl("get", "tj", "big", "-n", namespace).stdout
    assert "WAITING FOR" in table, table
    assert "ResourceQuota gpus" in table, table

    core.patch_namespaced_resource_quota("gpus", namespace, {"spec": {"hard": {GPU_QUOTA: "24"}}})
    wait_for(
        lambda: jobs.phase("big") == "Running",
        60,
        "big Running once the quota holds it",
        seen=lambda: jobs.status("big"),
    )
    assert len(jobs.pods("big")) == 3

    # The quota is full now: a one-pod job waits, counting the running gang's pods.
    jobs.create(manifest("one-more", replicas=1, gpus=8))
    more = queued_with(jobs, "one-more", "WaitingForQuota")
    assert "needs 8 requests.nvidia.com/gpu, 24 of 24 used" in more["message"]
    assert jobs.pods("one-more") == []


def test_tj_queue_that_does_not_exist_yet_then_appears_with_its_quota(jobs, queues, namespace):
    name = f"{namespace}-team"
    jobs.create(manifest("first", replicas=2, gpus=8, scheduling={"queue": name}))
    missing = queued_with(jobs, "first", "QueueNotFound")
    assert missing["message"] == f"ClusterQueue {name} does not exist"
    assert jobs.pods("first") == []

    queues("team", nominalQuota={"gpus": 16})
    wait_for(
        lambda: jobs.phase("first") == "Running",
        60,
        "first Running once its queue exists",
        seen=lambda: jobs.status("first"),
    )
    jobs.create(manifest("second", replicas=1, gpus=8, scheduling={"queue": name}))
    second = queued_with(jobs, "second", "WaitingForQuota")
    assert second["message"] == f"ClusterQueue {name}: needs 8 GPUs, 16 of its nominalQuota of 16 in use"


def test_tj_starving_large_job_eventually_runs(jobs, queues):
    """Four 8-GPU nodes, one-node jobs coming and going and a four-node job. Without a reservation
    each freed node goes to the next small job and the large one waits as long as they keep coming;
    once it has waited BOUND seconds at the head of its queue, small jobs wait behind it."""
    bound = 8
    queue = queues("starve", reservationAfterSeconds=bound)
    core = client.CoreV1Api(jobs.core.api_client)
    wait_for(lambda: not gpu_pods(core), 90, "no GPU pod left by earlier tests", seen=lambda: gpu_pods(core))

    def small(i: int, runs: str) -> None:
        finish = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": runs}
        jobs.create(
            manifest(f"small-{i}", replicas=1, gpus=8, annotations=finish, scheduling={"queue": queue})
        )

    for i in range(2):
        small(i, "8s")
    wait_for(
        lambda: all(jobs.phase(f"small-{i}") == "Running" for i in range(2)), 30, "two small jobs Running"
    )
    finish = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": "5s"}
    jobs.create(manifest("large", replicas=4, gpus=8, annotations=finish, scheduling={"queue": queue}))
    large = queued_with(jobs, "large", "WaitingForGPUs")
    assert large["message"].startswith("needs 4 pods x 8 GPUs; 2 fit now")
    # Before the bound, backfill: the two free nodes go to small jobs behind the large one.
    for i in (2, 3):
        small(i, "20s")
    wait_for(lambda: all(jobs.phase(f"small-{i}") == "Running" for i in (2, 3)), 30, "small-2 and -3 Running")

    # Past the bound, with nodes free again (small-0 and -1 end), a new small job waits behind it.
    queued_at = datetime.fromisoformat(large["lastTransitionTime"]).timestamp()
    wait_for(lambda: time.time() >= queued_at + bound + 1, bound + 5, f"{bound} s since the large job queued")
    small(4, "1s")
    # The large job holds all four nodes: small-4 fits nowhere else, and says why.
    behind = queued_with(jobs, "small-4", "WaitingForGPUs")
    held = f"(the nodes held for {jobs.namespace}/large excluded)"
    assert behind["message"] == f"needs 1 pod x 8 GPUs; 0 fit now {held}"
    # The large job's own status says so at its next admission pass (small-4's pass wakes it).
    wait_for(
        lambda: "holds a reservation" in jobs.status("large").get("admissionMessage", ""),
        30,
        "the large job's status to say it holds a reservation",
        seen=lambda: jobs.status("large"),
    )
    assert jobs.pods("small-4") == []

    wait_for(
        lambda: jobs.phase("large") in ("Admitted", "Running", "Succeeded"),
        60,
        "large admitted",
        seen=lambda: jobs.status("large"),
    )
    admitted_at = jobs.condition("large", "Admitted")["lastTransitionTime"]
    wait_for(
        lambda: jobs.phase("small-4") in ("Admitted", "Running", "Succeeded"),
        60,
        "small-4 after large",
        seen=lambda: jobs.status("small-4"),
    )
    assert jobs.condition("small-4", "Admitted")["lastTransitionTime"] >= admitted_at


def seconds_to_admission(jobs: Jobs, name: str, queued: dict[str, Any]) -> float:
    """From ``queued`` (its Queued condition while it waited) to its Admitted condition."""
    admitted = jobs.condition(name, "Admitted")["lastTransitionTime"]
    since = datetime.fromisoformat(admitted) - datetime.fromisoformat(queued["lastTransitionTime"])
    return since.total_seconds()


def test_tj_backfill_runs_beside_a_reserved_head_that_still_runs_within_its_bound(jobs, queues):
    """A 2 x 8 head that may use zone local-a only (lepton-gpu-0 and -2, both partly busy) holds a
    reservation at once. Two 1 x 8 jobs behind it in its queue fit on local-b: they run at once
    (they used to wait behind the head, WaitingInQueue); a 1 x 4 after them would fit on lepton-gpu-2's
    4 free GPUs, held for the head: it waits, saying so. The head runs when its nodes drain, within
    its bound (the blockers' run time), however long the backfill runs."""
    queue = queues("backfill", reservationAfterSeconds=0)
    core = client.CoreV1Api(jobs.core.api_client)
    wait_for(lambda: not gpu_pods(core), 90, "no GPU pod left by earlier tests", seen=lambda: gpu_pods(core))
    blocked_for = 10
    for name, node, gpus in (("block-0", "lepton-gpu-0", 8), ("block-2", "lepton-gpu-2", 4)):
        body = manifest(name, replicas=1, gpus=gpus, annotations=finishing(f"{blocked_for}s"))
        jobs.create(on_nodes(body, **{"kubernetes.io/hostname": node}))

    def phases(*names: str) -> dict[str, str | None]:
        return {n: jobs.phase(n) for n in names}

    wait_for(
        lambda: set(phases("block-0", "block-2").values()) == {"Running"},
        30,
        "the two blockers Running",
        seen=lambda: phases("block-0", "block-2"),
    )
    head = manifest("head", replicas=2, gpus=8, annotations=finishing("2s"), scheduling={"queue": queue})
    jobs.create(on_nodes(head, **{"topology.kubernetes.io/zone": "local-a"}))
    waiting = queued_with(jobs, "head", "WaitingForGPUs")

    behind = ("behind-0", "behind-1")
    for name in behind:
        jobs.create(
            manifest(name, replicas=1, gpus=8, annotations=finishing("60s"), scheduling={"queue": queue})
        )
    wait_for(
        lambda: set(phases(*behind).values()) == {"Running"},
        30,
        "the jobs behind the reserved head Running at once",
        seen=lambda: phases(*behind),
    )
    assert {p.spec.node_name for n in behind for p in jobs.pods(n)} == {"lepton-gpu-1", "lepton-gpu-3"}
    jobs.create(
        manifest("quarter", replicas=1, gpus=4, annotations=finishing("1s"), scheduling={"queue": queue})
    )
    quarter = queued_with(jobs, "quarter", "WaitingForGPUs")
    held = f"(the nodes held for {jobs.namespace}/head excluded)"
    assert quarter["message"] == f"needs 1 pod x 4 GPUs; 0 fit now {held}"

    wait_for(
        lambda: jobs.phase("head") in ("Running", "Succeeded"),
        blocked_for + 30,
        "the head Running once its nodes drain",
        seen=lambda: jobs.status("head"),
    )
    assert set(phases(*behind).values()) == {"Running"}, "the head did not wait for the backfill"
    # Its bound: the blockers' run time from when it reserved (at once), plus the passes' latency.
    assert seconds_to_admission(jobs, "head", waiting) <= blocked_for + 5
