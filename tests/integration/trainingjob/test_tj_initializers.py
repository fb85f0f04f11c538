"""spec.initializers on the local cluster with the operator running: the initializer pod runs
before any worker, its failure is a clear condition, its success starts the workers with the
directories in their environment. KWOK plays lepton-init: the sim.lepton.ai/exit-code and
termination-message annotations (e2e/localcluster/stages/sim-pod-exit.yaml) end the pod as the
real command would."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tjkit import Jobs, env_of, manifest

from support.wait import wait_for

pytestmark = pytest.mark.integration

# A volume a separate pod can share; KWOK mounts nothing, the API server and scheduler accept it.
SHARED = {"name": "data", "nfs": {"server": "nfs.example", "path": "/exports/data"}}
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def with_initializers(name: str) -> dict[str, Any]:
    body = manifest(
        name,
        replicas=2,
        gpus=4,
        initializers={
            "volume": "data",
            "dataset": {"uri": "s3://bucket/mnist", "digest": DIGEST},
            "model": {"uri": "https://hub.example/base.safetensors"},
        },
    )
    body["spec"]["template"]["spec"]["volumes"] = [SHARED]
    return body


def initializer_pod(jobs: Jobs, name: str) -> Any:
    return jobs.core.read_namespaced_pod(f"{name}-init", jobs.namespace)


def end_initializer(jobs: Jobs, name: str, code: int, message: dict[str, Any]) -> None:
    wait_for(lambda: initializer_pod(jobs, name).status.phase == "Running", 60, "initializer pod Running")
    annotations = {
        "sim.lepton.ai/exit-code": str(code),
        "sim.lepton.ai/termination-message": json.dumps(message),
    }
    jobs.core.patch_namespaced_pod(f"{name}-init", jobs.namespace, {"metadata": {"annotations": annotations}})


def test_tj_initializer_failure_fails_the_job_with_its_reason_and_starts_no_worker(jobs):
    jobs.create(with_initializers("badinit"))
    initializing = wait_for(
        lambda: (c := jobs.condition("badinit", "Initialized")) and c["reason"] == "Initializing" and c,
        60,
        "Initialized=False/Initializing",
        seen=lambda: jobs.status("badinit"),
    )
    assert initializing["status"] == "False"
    pod = initializer_pod(jobs, "badinit")
    assert [c.name for c in pod.spec.containers] == ["dataset", "model"]
    assert pod.spec.containers[0].command[:2] == ["lepton-init", "--name"]
    assert jobs.phase("badinit") == "Created"
    assert jobs.status("badinit").get("gpus", 0) == 0, "no GPUs are held while fetching"

    reason = f"s3://bucket/mnist: digest mismatch: expected {DIGEST}, fetched sha256:00"
    end_initializer(jobs, "badinit", 4, {"fetched": False, "kind": "DigestMismatch", "reason": reason})
    failed = wait_for(
        lambda: jobs.condition("badinit", "Failed"), 60, "Failed", seen=lambda: jobs.status("badinit")
    )
    assert failed["status"] == "True"
    assert failed["reason"] == "DigestMismatch"
    assert "digest mismatch: expected" in failed["message"]
    initialized = jobs.condition("badinit", "Initialized")
    assert (initialized["status"], initialized["reason"]) == ("False", "DigestMismatch")
    status = jobs.status("badinit")
    assert status.get("restartCount", 0) == 0, "an initializer failure is not charged to backoffLimit"
    assert not status.get("restartHistory")
    assert jobs.pods("badinit") == [], "no worker was ever created"
    jobs.wait_events("badinit", "DigestMismatch")


def test_tj_initializer_success_starts_the_workers_with_the_directories(jobs):
    jobs.create(with_initializers("goodinit"))
    wait_for(lambda: jobs.condition("goodinit", "Initialized"), 60, "Initialized condition")
    assert jobs.pods("goodinit") == [], "workers wait for the initializers"
    done = {"fetched": True, "sizeBytes": 3 << 30, "digest": DIGEST, "verified": True}
    end_initializer(jobs, "goodinit", 0, done)
    wait_for(lambda: jobs.phase("goodinit") == "Running", 90, "Running", seen=lambda: jobs.status("goodinit"))
    initialized = jobs.condition("goodinit", "Initialized")
    assert (initialized["status"], initialized["reason"]) == ("True", "Initialized")
    assert "dataset: 3.00 GiB" in initialized["message"]
    workers = jobs.pods("goodinit")
    assert len(workers) == 2
    for worker in workers:
        env = env_of(worker)
        assert env["LEPTON_DATASET_DIR"] == "/workspace/dataset"
        assert env["LEPTON_MODEL_DIR"] == "/workspace/model"
        trainer = next(c for c in worker.spec.containers if c.name == "trainer")
        mount = next(m for m in trainer.volume_mounts if m.mount_path == "/workspace")
        assert (mount.name, mount.read_only) == ("data", True)
