"""Workers are pinned where admission placed them (#15): best fit, not spread; and a node that cannot
take a pinned worker after all (admission counts GPUs only) lets it go unpinned. On the local
cluster's four 8-GPU nodes with the operator running: lepton-gpu-2 and -3 are full, lepton-gpu-0
runs 7 of its 8 GPUs (a plain pod of another workload that also requests 80 of its 96 CPUs), and
lepton-gpu-1 is idle."""

from __future__ import annotations

import pytest
from kubernetes import client
from tjkit import Jobs, block, left_by_earlier_tests, manifest, node_of, other_workload

from support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


PINNED = "lepton.ai/pinned-node"


def required_nodes(pod: client.V1Pod) -> list[str]:
    """The nodes the pod's required node affinity names (metadata.name In)."""
    affinity = pod.spec.affinity and pod.spec.affinity.node_affinity
    required = affinity and affinity.required_during_scheduling_ignored_during_execution
    terms = (required and required.node_selector_terms) or []
    return [v for t in terms for f in t.match_fields or [] if f.operator == "In" for v in f.values]


def busy_cluster(jobs: Jobs) -> None:
    """lepton-gpu-0 with 1 GPU and 16 CPUs free, lepton-gpu-1 idle, the other two full."""
    core = client.CoreV1Api(jobs.core.api_client)
    wait_for(
        lambda: not left_by_earlier_tests(core, jobs.namespace),
        90,
        "no GPU pod or TrainingJob left by earlier tests",
        seen=lambda: left_by_earlier_tests(core, jobs.namespace),
    )
    other_workload(jobs.core, jobs.namespace, "lepton-gpu-0", 7)
    blockers = [block(jobs, "lepton-gpu-2", 8), block(jobs, "lepton-gpu-3", 8)]
    wait_for(
        lambda: all(jobs.phase(b) == "Running" for b in blockers),
        30,
        "the blockers Running",
        seen=lambda: {b: jobs.phase(b) for b in blockers},
    )


def test_tj_a_small_job_packs_onto_the_busy_node_leaving_a_whole_one_for_a_gang(jobs):
    """A 1 x 1 job fits lepton-gpu-0's last GPU (admission's best fit) or the idle lepton-gpu-1.
    kube-scheduler's default scoring (LeastAllocated and BalancedAllocation over CPU and memory)
    clearly prefers lepton-gpu-1; the pin sends it to lepton-gpu-0, so the 1 x 8 job created right
    after finds lepton-gpu-1 whole and runs without waiting."""
    busy_cluster(jobs)
    jobs.create(manifest("small", replicas=1, gpus=1))
    small = node_of(jobs, "small")
    assert (small.spec.node_name, required_nodes(small)) == ("lepton-gpu-0", ["lepton-gpu-0"])
    assert small.metadata.annotations[PINNED] == "lepton-gpu-0"
    jobs.create(manifest("gang", replicas=1, gpus=8))
    wait_for(
        lambda: jobs.phase("gang") == "Running",
        20,
        "the 8-GPU job Running on the whole node left (not queued behind a fragment)",
        seen=lambda: jobs.status("gang"),
    )
    assert node_of(jobs, "gang").spec.node_name == "lepton-gpu-1"


def test_tj_a_worker_the_admitted_node_cannot_take_is_unpinned_and_runs_elsewhere(jobs):
    """A 1 x 1 job asking 32 CPUs: admission (GPUs only) best-fits it onto lepton-gpu-0, whose 16
    free CPUs cannot hold it. kube-scheduler reports the pinned pod Unschedulable; the operator
    deletes it and makes it again unpinned, and it runs on lepton-gpu-1, in the same attempt and
    with no restart counted."""
    busy_cluster(jobs)
    body = manifest("wide", replicas=1, gpus=1)
    body["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] = {"cpu": "32"}
    jobs.create(body)
    wait_for(
        lambda: jobs.phase("wide") == "Running",
        60,
        "the job Running once its worker is unpinned",
        seen=lambda: (jobs.status("wide"), [(p.metadata.name, p.status.phase) for p in jobs.pods("wide")]),
    )
    pod = node_of(jobs, "wide")
    assert (pod.spec.node_name, required_nodes(pod), (pod.metadata.annotations or {}).get(PINNED)) == (
        "lepton-gpu-1",
        [],
        None,
    ), "made again without the pin"
    events = wait_for(
        lambda: (
            jobs.core.list_namespaced_event(
                jobs.namespace, field_selector="involvedObject.name=wide-worker-0,reason=FailedScheduling"
            ).items
        ),
        30,
        "kube-scheduler's FailedScheduling Event of the pinned pod (it was tried on lepton-gpu-0 first)",
    )
    assert any(e.involved_object.uid != pod.metadata.uid for e in events), "the pod that failed was another"
    assert pod.metadata.labels["lepton.ai/restart-attempt"] == "0"
    assert (jobs.status("wide").get("restartCount") or 0) == 0
