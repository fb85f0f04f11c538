"""Reservations kube-scheduler respects, and backfill bounded by run time (#15), on the local cluster
with the operator running. The four 8-GPU nodes: lepton-gpu-0 and -2 in zone local-a, -1 and -3 in
local-b. A 2 x 8 head that may use local-a only holds a reservation at once (reservationAfterSeconds
0) on lepton-gpu-2 (idle) and lepton-gpu-0 (busy)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from kubernetes import client
from tjkit import Jobs, block, finishing, gpu_pods, manifest, node_of, on_nodes, other_workload, queued_with

from support.wait import wait_for

pytestmark = pytest.mark.integration

HELD = ("lepton-gpu-0", "lepton-gpu-2")
# Jobs created in the head's second of creationTimestamp are ordered by name: these come after it.
FILL, LONG = "later-fill", "later-long"


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def reserved_head(jobs: Jobs, queue: str, blockers: list[str]) -> dict[str, Any]:
    wait_for(
        lambda: all(jobs.phase(b) == "Running" for b in blockers),
        30,
        "the blockers Running",
        seen=lambda: {b: jobs.phase(b) for b in blockers},
    )
    head = manifest("head", replicas=2, gpus=8, annotations=finishing("1s"), scheduling={"queue": queue})
    jobs.create(on_nodes(head, **{"topology.kubernetes.io/zone": "local-a"}))
    queued = queued_with(jobs, "head", "WaitingForGPUs")
    # The pass that queued it read no queued time yet, so it reserved nothing. A change of its
    # ClusterQueue wakes the waiting jobs: the head's next pass reserves, and its message says so
    # once the operator's index shows the time it was queued (so the jobs created after this see
    # the reservation).
    nudge = 0

    def holds() -> bool:
        nonlocal nudge
        nudge += 1
        annotations = {"test.lepton.ai/nudge": str(nudge)}
        jobs.custom.patch_cluster_custom_object(
            "lepton.ai", "v1alpha1", "clusterqueues", queue, {"metadata": {"annotations": annotations}}
        )
        return "holds a reservation" in (jobs.status("head").get("admissionMessage") or "")

    wait_for(holds, 30, "the head's message saying it holds a reservation", seen=lambda: jobs.status("head"))
    return queued


def avoided(pod: client.V1Pod) -> set[str]:
    affinity = pod.spec.affinity and pod.spec.affinity.node_affinity
    required = affinity and affinity.required_during_scheduling_ignored_during_execution
    terms = (required and required.node_selector_terms) or []
    return {v for t in terms for f in t.match_fields or [] if f.operator == "NotIn" for v in f.values}


def admitted_messages(jobs: Jobs, name: str) -> list[str]:
    """The messages of the job's Admitted events (its Admitted condition keeps its message only
    while the job is Admitted)."""
    selector = f"involvedObject.name={name},reason=Admitted"
    return [
        e.message or ""
        for e in jobs.core.list_namespaced_event(jobs.namespace, field_selector=selector).items
    ]


@pytest.fixture
def idle(jobs: Jobs) -> None:
    core = client.CoreV1Api(jobs.core.api_client)
    wait_for(lambda: not gpu_pods(core), 90, "no GPU pod left by earlier tests", seen=lambda: gpu_pods(core))


def test_tj_backfill_pods_stay_off_the_nodes_held_for_a_reservation(jobs, queues, idle):
    """lepton-gpu-1 runs 4 of its 8 GPUs (a plain pod of another workload, which also requests 80 of
    its 96 CPUs), -0 and -3 all 8, -2 none. A 1 x 1 job behind the head fits lepton-gpu-1, off the
    held nodes; kube-scheduler, which prefers the least allocated node (CPU and memory), binds such
    a pod to the idle held lepton-gpu-2 unless told to avoid the held nodes."""
    queue = queues("held", reservationAfterSeconds=0)
    other_workload(jobs.core, jobs.namespace, "lepton-gpu-1", 4)
    blockers = [block(jobs, "lepton-gpu-0", 8), block(jobs, "lepton-gpu-3", 8)]
    reserved_head(jobs, queue, blockers)
    jobs.create(manifest("small", replicas=1, gpus=1, scheduling={"queue": queue}))
    pod = node_of(jobs, "small")
    assert (pod.spec.node_name, avoided(pod)) == ("lepton-gpu-1", set(HELD))
    assert jobs.phase("head") == "Queued", "the head still waits for lepton-gpu-0"


def test_tj_a_job_bound_to_end_before_the_held_nodes_drain_runs_on_them(jobs, queues, idle):
    """lepton-gpu-0's job is bound to end 40 s after its start (activeDeadlineSeconds; it ends at 15),
    -1 and -3 are full with jobs without a deadline: the only free GPUs are the idle held
    lepton-gpu-2's. A 1 x 8 job whose activeDeadlineSeconds (10) ends before 40 runs there at once;
    one whose deadline (300) ends later waits, saying why. The head runs once both are gone."""
    queue = queues("timefill", reservationAfterSeconds=0)
    blocked = block(jobs, "lepton-gpu-0", 8, finishing("15s"), activeDeadlineSeconds=40)
    blockers = [blocked, *(block(jobs, n, 8) for n in ("lepton-gpu-1", "lepton-gpu-3"))]
    reserved_head(jobs, queue, blockers)

    def timed(name: str, deadline: int, runs: str) -> None:
        body = manifest(name, replicas=1, gpus=8, annotations=finishing(runs), scheduling={"queue": queue})
        body["spec"]["runPolicy"] = {"activeDeadlineSeconds": deadline}
        jobs.create(body)

    timed(FILL, 10, "5s")
    timed(LONG, 300, "5s")
    pod = node_of(jobs, FILL)
    assert (pod.spec.node_name, avoided(pod)) == ("lepton-gpu-2", set())
    said = (
        f"some on the nodes held for {jobs.namespace}/head: its activeDeadlineSeconds ends before they drain"
    )
    wait_for(
        lambda: any(said in m for m in admitted_messages(jobs, FILL)),
        15,
        "an Admitted event of fill naming the held nodes it runs on",
        seen=lambda: admitted_messages(jobs, FILL),
    )
    long = queued_with(jobs, LONG, "WaitingForGPUs")
    held = f"the nodes held for {jobs.namespace}/head excluded"
    assert long["message"].startswith(f"needs 1 pod x 8 GPUs; 0 fit now ({held}: they drain within "), long[
        "message"
    ]
    assert long["message"].endswith("s, its activeDeadlineSeconds is 300s)"), long["message"]
    wait_for(
        lambda: jobs.phase("head") in ("Running", "Succeeded"),
        60,
        "the head Running once lepton-gpu-0's job and the time fill end",
        seen=lambda: {n: jobs.phase(n) for n in ("head", FILL, blocked)},
    )
    assert jobs.phase(FILL) == "Succeeded", "the time fill ran to its end, within its deadline"
    # Its bound: lepton-gpu-0's job's start + its activeDeadlineSeconds, plus the passes' latency.
    bound = datetime.fromisoformat(jobs.status(blocked)["startTime"]) + timedelta(seconds=40 + 5)
    assert datetime.fromisoformat(jobs.condition("head", "Admitted")["lastTransitionTime"]) <= bound
