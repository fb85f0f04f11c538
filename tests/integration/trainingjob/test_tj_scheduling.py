"""TrainingJob workers, gang admission and queueing on the local cluster with the operator running."""

from __future__ import annotations

import pytest
from tjkit import Jobs, env_of, manifest

from support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def test_tj_gang_spreads_over_gpu_nodes_with_rendezvous_env(jobs, namespace, kube):
    jobs.create(manifest("spread", replicas=4, gpus=8))
    wait_for(lambda: jobs.phase("spread") == "Running", 60, "job Running", seen=lambda: jobs.status("spread"))

    pods = jobs.pods("spread")
    assert [p.metadata.name for p in pods] == [f"spread-worker-{i}" for i in range(4)]
    nodes = {p.spec.node_name for p in pods}
    assert len(nodes) == 4, f"each 8-GPU worker needs a node of its own: {nodes}"
    for i, pod in enumerate(pods):
        assert (pod.spec.hostname, pod.spec.subdomain) == (f"spread-worker-{i}", "spread")
        assert pod.metadata.labels["lepton.ai/replica-index"] == str(i)
        assert pod.metadata.labels["lepton.ai/restart-attempt"] == "0"
        assert pod.metadata.owner_references[0].kind == "TrainingJob"
        env = env_of(pod)
        assert env["MASTER_ADDR"] == f"spread-worker-0.spread.{namespace}.svc"
        assert (env["WORLD_SIZE"], env["NNODES"], env["NODE_RANK"], env["PET_NPROC_PER_NODE"]) == (
            "32",
            "4",
            str(i),
            "8",
        )
    service = jobs.core.read_namespaced_service("spread", namespace)
    assert service.spec.cluster_ip == "None"
    assert service.spec.publish_not_ready_addresses is True

    status = jobs.status("spread")
    assert status["gpus"] == 32
    assert status["replicas"]["active"] == 4
    assert status["observedGeneration"] == jobs.get("spread")["metadata"]["generation"]
    for type_ in ("Created", "Admitted", "Running"):
        assert jobs.condition("spread", type_)["status"] == "True"


def test_tj_second_job_waits_queued_without_pods_then_runs(jobs):
    finish = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": "6s"}
    jobs.create(manifest("first", replicas=3, gpus=8, annotations=finish))
    wait_for(lambda: jobs.phase("first") in ("Admitted", "Running"), 30, "first admitted")
    jobs.create(manifest("second", replicas=3, gpus=8, annotations=finish))

    queued = wait_for(
        lambda: jobs.condition("second", "Queued"), 30, "second Queued", seen=lambda: jobs.status("second")
    )
    assert queued["status"] == "True"
    assert queued["message"].startswith("needs 3 pods x 8 GPUs; 1 fit now"), queued["message"]
    assert jobs.phase("first") in ("Admitted", "Running")
    assert len(jobs.pods("second")) == 0, "a queued job must not hold any pod"
    assert len(jobs.pods("first")) == 3

    wait_for(
        lambda: jobs.phase("first") == "Succeeded", 60, "first Succeeded", seen=lambda: jobs.status("first")
    )
    wait_for(
        lambda: jobs.phase("second") in ("Running", "Succeeded"),
        60,
        "second runs after first",
        seen=lambda: jobs.status("second"),
    )
    assert jobs.condition("second", "Queued")["status"] == "False"


def test_tj_gang_of_one_with_gang_off_creates_pods_without_admission(jobs):
    jobs.create(manifest("nogang", replicas=2, gpus=1, scheduling={"gang": False}))
    wait_for(lambda: jobs.phase("nogang") == "Running", 60, "job Running", seen=lambda: jobs.status("nogang"))
    assert len(jobs.pods("nogang")) == 2


def test_tj_reserved_env_is_refused_with_a_condition(jobs):
    jobs.create(manifest("reserved", replicas=1, gpus=1, env=[{"name": "WORLD_SIZE", "value": "3"}]))
    failed = wait_for(lambda: jobs.condition("reserved", "Failed"), 30, "Failed condition")
    assert failed["reason"] == "InvalidSpec"
    assert "WORLD_SIZE" in failed["message"]
    assert jobs.pods("reserved") == []


def test_tj_whose_service_name_is_taken_fails_and_leaves_it_alone(jobs):
    # An InferenceService's Service, or a user's own, named like the job: the workers would get no
    # DNS names through it.
    theirs = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "taken", "labels": {"team": "serving"}},
        "spec": {"selector": {"app": "other"}, "ports": [{"port": 80}]},
    }
    jobs.core.create_namespaced_service(jobs.namespace, theirs)
    jobs.create(manifest("taken", replicas=2, gpus=1))
    failed = wait_for(
        lambda: jobs.condition("taken", "Failed"), 60, "Failed condition", seen=lambda: jobs.status("taken")
    )
    assert failed["reason"] == "InvalidSpec"
    assert "Service taken exists and is not this TrainingJob's" in failed["message"]
    wait_for(lambda: jobs.live_pods("taken") == [], 60, "the workers stopped")
    service = jobs.core.read_namespaced_service("taken", jobs.namespace)
    assert service.spec.selector == {"app": "other"}
    assert not service.metadata.owner_references
