"""Elastic sizing on the simulated cluster (4 nodes x 8 GPUs): an elastic job admitted at
minReplicas grows when a blocker finishes; one that loses a node shrinks without a restart and grows
back when the node returns. The running workers are never replaced by either."""

from __future__ import annotations

import pytest
from tjkit import Jobs, manifest

from support.wait import wait_for

pytestmark = pytest.mark.integration

GPUS_PER_NODE = 8


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def sized(jobs: Jobs, name: str, size: int, reason: str):
    """A check: status.size and sizeReason are these and that many workers run."""

    def check() -> bool:
        status = jobs.status(name)
        running = [p for p in jobs.live_pods(name) if p.status.phase == "Running"]
        return status.get("size") == size and status.get("sizeReason") == reason and len(running) == size

    return check


def uids(jobs: Jobs, name: str) -> dict[str, str]:
    return {p.metadata.name: p.metadata.uid for p in jobs.live_pods(name)}


def test_tj_elastic_starts_at_min_replicas_and_grows_when_a_blocker_finishes(jobs):
    # The blocker holds three of the four nodes for a while, then succeeds.
    finishes = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": "20s"}
    jobs.create(manifest("blocker", replicas=3, gpus=GPUS_PER_NODE, annotations=finishes))
    wait_for(
        lambda: jobs.phase("blocker") == "Running", 60, "blocker Running", seen=lambda: jobs.status("blocker")
    )

    jobs.create(
        manifest("grow", replicas=2, gpus=GPUS_PER_NODE, elastic={"minReplicas": 1, "maxReplicas": 4})
    )
    wait_for(
        sized(jobs, "grow", 1, "AdmittedAtMinimum"),
        30,
        "admitted at minReplicas 1",
        seen=lambda: jobs.status("grow"),
    )
    status = jobs.status("grow")
    assert status["gpus"] == GPUS_PER_NODE
    assert "1 of maxReplicas 4" in status["sizeMessage"]
    first = uids(jobs, "grow")

    wait_for(
        lambda: jobs.phase("blocker") == "Succeeded",
        60,
        "blocker Succeeded",
        seen=lambda: jobs.status("blocker"),
    )
    wait_for(sized(jobs, "grow", 4, "Grew"), 30, "grown to maxReplicas 4", seen=lambda: jobs.status("grow"))
    status = jobs.status("grow")
    assert status["gpus"] == 4 * GPUS_PER_NODE
    assert status.get("restartCount", 0) == 0
    assert {k: v for k, v in uids(jobs, "grow").items() if k in first} == first, (
        "a running worker was replaced"
    )
    assert sorted(uids(jobs, "grow")) == [f"grow-worker-{i}" for i in range(4)]
    jobs.wait_events("grow", "Grew")


def test_tj_elastic_shrinks_on_node_loss_and_grows_back(jobs, kubectl):
    jobs.create(
        manifest("shrink", replicas=2, gpus=GPUS_PER_NODE, elastic={"minReplicas": 2, "maxReplicas": 3})
    )
    wait_for(
        sized(jobs, "shrink", 3, "AdmittedAtMaximum"), 60, "admitted at 3", seen=lambda: jobs.status("shrink")
    )
    # The last free node goes to a job that keeps it: a lost worker has nowhere to go.
    jobs.create(manifest("filler", replicas=1, gpus=GPUS_PER_NODE))
    wait_for(
        lambda: jobs.phase("filler") == "Running", 60, "filler Running", seen=lambda: jobs.status("filler")
    )
    pods = {p.metadata.name: p for p in jobs.live_pods("shrink")}
    victim = pods["shrink-worker-2"].spec.node_name
    survivors = {name: p.metadata.uid for name, p in pods.items() if name != "shrink-worker-2"}
    kubectl("annotate", "node", victim, "sim.lepton.ai/not-ready=true", "--overwrite")
    try:
        wait_for(
            sized(jobs, "shrink", 2, "ShrankOnNodeLoss"),
            60,
            "shrunk to 2",
            seen=lambda: jobs.status("shrink"),
        )
        assert uids(jobs, "shrink") == survivors
        status = jobs.status("shrink")
        assert status["phase"] == "Running"
        assert status.get("restartCount", 0) == 0
        assert "shrank from 3 to 2" in status["sizeMessage"]
        jobs.wait_events("shrink", "ShrankOnNodeLoss")
    finally:
        kubectl("annotate", "node", victim, "sim.lepton.ai/not-ready-")
    wait_for(sized(jobs, "shrink", 3, "Grew"), 60, "grown back to 3", seen=lambda: jobs.status("shrink"))
    assert {k: v for k, v in uids(jobs, "shrink").items() if k in survivors} == survivors
    assert jobs.status("shrink").get("restartCount", 0) == 0
