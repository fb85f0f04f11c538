"""Restart history and a per-worker budget on the local cluster: one worker of two keeps failing
(the test makes that worker's pod exit with a code through the KWOK hook, attempt after attempt)
until maxRestartsPerWorker fails the job, though backoffLimit has room left."""

from __future__ import annotations

import pytest
from tjkit import Jobs, manifest

from support.wait import wait_for

pytestmark = pytest.mark.integration

NAME = "flaky"


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def crash_worker_1(jobs: Jobs, attempt: int, code: int) -> str:
    """Wait for worker 1 of ``attempt`` to run, then make it exit with ``code``; returns its node."""

    def running():
        pod = next((p for p in jobs.live_pods(NAME) if p.metadata.name == f"{NAME}-worker-1"), None)
        labels = pod.metadata.labels if pod else {}
        ok = pod and labels.get("lepton.ai/restart-attempt") == str(attempt) and pod.status.phase == "Running"
        return pod if ok else None

    pod = wait_for(running, 60, f"worker 1 of attempt {attempt} to run", seen=lambda: jobs.status(NAME))
    annotations = {"sim.lepton.ai/exit-code": str(code)}
    jobs.core.patch_namespaced_pod(
        pod.metadata.name, jobs.namespace, {"metadata": {"annotations": annotations}}
    )
    return str(pod.spec.node_name)


def test_tj_history_lists_each_failure_and_the_worker_budget_fails_the_job(jobs):
    run_policy = {"restartPolicy": "OnFailure", "backoffLimit": 10, "maxRestartsPerWorker": 2}
    jobs.create(manifest(NAME, replicas=2, gpus=4, runPolicy=run_policy))

    nodes = [crash_worker_1(jobs, 0, 1), crash_worker_1(jobs, 1, 137), crash_worker_1(jobs, 2, 1)]

    failed = wait_for(lambda: jobs.condition(NAME, "Failed"), 60, "Failed", seen=lambda: jobs.status(NAME))
    assert failed["status"] == "True"
    assert failed["reason"] == "WorkerRestartLimitExceeded", failed
    assert "maxRestartsPerWorker 2" in failed["message"]
    status = jobs.status(NAME)
    assert status["restartCount"] == 2, "the budget stopped the third restart"
    assert status["workerRestarts"] == {"1": 2}
    history = status["restartHistory"]
    got = [(e["attempt"], e["worker"], e["cause"], e["action"], e["exitCode"], e["charged"]) for e in history]
    assert got == [
        (0, 1, "UserError", "Restart", 1, True),
        (1, 1, "Infrastructure", "Restart", 137, True),
        (2, 1, "UserError", "Fail", 1, False),
    ]
    assert [(e["pod"], e["node"]) for e in history] == [(f"{NAME}-worker-1", n) for n in nodes]
    assert all(e["time"].endswith("Z") for e in history)
