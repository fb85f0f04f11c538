"""kube-scheduler binds workers where admission placed them (#15): best fit, not spread. On the local
cluster's four 8-GPU nodes with the operator running: lepton-gpu-2 and -3 are full, lepton-gpu-0
runs 7 of its 8 GPUs (a plain pod of another workload that also requests most of its CPUs), and
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


def preferred(pod: client.V1Pod) -> list[tuple[int, list[str]]]:
    """(weight, nodes named) of each preferred node affinity term of the pod."""
    affinity = pod.spec.affinity and pod.spec.affinity.node_affinity
    terms = (affinity and affinity.preferred_during_scheduling_ignored_during_execution) or []
    return [(t.weight, [v for f in t.preference.match_fields or [] for v in f.values]) for t in terms]


def test_tj_a_small_job_packs_onto_the_busy_node_leaving_a_whole_one_for_a_gang(jobs):
    """A 1 x 1 job fits lepton-gpu-0's last GPU (admission's best fit) or the idle lepton-gpu-1.
    kube-scheduler's default scoring (LeastAllocated and BalancedAllocation over CPU and memory)
    clearly prefers lepton-gpu-1; the preferred node affinity sends it to lepton-gpu-0, so the
    1 x 8 job created right after finds lepton-gpu-1 whole and runs without waiting."""
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
    jobs.create(manifest("small", replicas=1, gpus=1))
    small = node_of(jobs, "small")
    assert (small.spec.node_name, preferred(small)) == ("lepton-gpu-0", [(100, ["lepton-gpu-0"])])
    jobs.create(manifest("gang", replicas=1, gpus=8))
    wait_for(
        lambda: jobs.phase("gang") == "Running",
        20,
        "the 8-GPU job Running on the whole node left (not queued behind a fragment)",
        seen=lambda: jobs.status("gang"),
    )
    assert node_of(jobs, "gang").spec.node_name == "lepton-gpu-1"
