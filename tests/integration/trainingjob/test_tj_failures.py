"""Failures, restarts and run policy of TrainingJobs on the local cluster with the operator running."""

from __future__ import annotations

import pytest
from tjkit import Jobs, manifest

from support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def test_tj_retryable_failure_restarts_the_group_then_succeeds(jobs):
    crash = {"sim.lepton.ai/exit-code": "137", "sim.lepton.ai/exit-after": "1s"}
    jobs.create(
        manifest(
            "retry",
            replicas=2,
            gpus=4,
            annotations=crash,
            runPolicy={"restartPolicy": "ExitCode", "backoffLimit": 5},
        )
    )
    wait_for(
        lambda: jobs.status("retry").get("restartCount", 0) >= 1,
        60,
        "a restart",
        seen=lambda: jobs.status("retry"),
    )
    # The next attempts come from the current template: make them succeed.
    jobs.patch_spec("retry", {"template": {"metadata": {"annotations": {"sim.lepton.ai/exit-code": "0"}}}})
    wait_for(lambda: jobs.phase("retry") == "Succeeded", 90, "Succeeded", seen=lambda: jobs.status("retry"))
    status = jobs.status("retry")
    assert 1 <= status["restartCount"] <= 5
    assert status["nodeLossRestarts"] == 0, "crashes count against backoffLimit"
    attempts = {p.metadata.labels["lepton.ai/restart-attempt"] for p in jobs.pods("retry")}
    assert attempts == {str(status["restartCount"])}, "only the last attempt's pods remain"
    jobs.wait_events("retry", "Restarting")
    assert jobs.condition("retry", "Succeeded")["status"] == "True"


def test_tj_permanent_failure_fails_without_restarting(jobs):
    crash = {"sim.lepton.ai/exit-code": "1", "sim.lepton.ai/exit-after": "1s"}
    jobs.create(
        manifest(
            "perm",
            replicas=2,
            gpus=4,
            annotations=crash,
            runPolicy={"restartPolicy": "ExitCode", "backoffLimit": 3},
        )
    )
    failed = wait_for(
        lambda: jobs.condition("perm", "Failed"), 60, "Failed", seen=lambda: jobs.status("perm")
    )
    assert failed["status"] == "True"
    assert "exited with code 1" in failed["message"]
    assert jobs.status("perm").get("restartCount", 0) == 0
    assert jobs.condition("perm", "Restarting") is None


def test_tj_node_not_ready_restarts_without_using_backoff_limit(jobs, kubectl):
    jobs.create(manifest("nodeloss", replicas=2, gpus=8, runPolicy={"backoffLimit": 0}))
    wait_for(lambda: jobs.phase("nodeloss") == "Running", 60, "Running", seen=lambda: jobs.status("nodeloss"))
    victim = jobs.pods("nodeloss")[1].spec.node_name
    kubectl("annotate", "node", victim, "sim.lepton.ai/not-ready=true", "--overwrite")
    try:
        wait_for(
            lambda: jobs.status("nodeloss").get("restartCount", 0) == 1,
            60,
            "restart after node loss",
            seen=lambda: jobs.status("nodeloss"),
        )
        wait_for(
            lambda: (
                jobs.phase("nodeloss") == "Running"
                and all(p.metadata.labels["lepton.ai/restart-attempt"] == "1" for p in jobs.pods("nodeloss"))
            ),
            90,
            "Running again on healthy nodes",
            seen=lambda: jobs.status("nodeloss"),
        )
        assert victim not in {p.spec.node_name for p in jobs.pods("nodeloss")}
        assert jobs.condition("nodeloss", "Failed") is None, "node loss must not use up backoffLimit 0"
        assert jobs.status("nodeloss")["nodeLossRestarts"] == 1
    finally:
        kubectl("annotate", "node", victim, "sim.lepton.ai/not-ready-")


def test_tj_active_deadline_fails_and_stops_workers(jobs):
    jobs.create(manifest("deadline", replicas=2, gpus=1, runPolicy={"activeDeadlineSeconds": 3}))
    failed = wait_for(
        lambda: jobs.condition("deadline", "Failed"), 60, "Failed", seen=lambda: jobs.status("deadline")
    )
    assert failed["reason"] == "DeadlineExceeded"
    wait_for(lambda: jobs.pods("deadline") == [], 60, "workers stopped")


def test_tj_suspend_releases_pods_and_resume_readmits(jobs):
    jobs.create(manifest("susp", replicas=2, gpus=8))
    wait_for(lambda: jobs.phase("susp") == "Running", 60, "Running", seen=lambda: jobs.status("susp"))
    jobs.patch_spec("susp", {"runPolicy": {"suspend": True}})
    wait_for(lambda: jobs.phase("susp") == "Suspended", 30, "Suspended", seen=lambda: jobs.status("susp"))
    wait_for(lambda: jobs.pods("susp") == [], 60, "pods deleted")
    assert jobs.status("susp")["gpus"] == 0
    jobs.patch_spec("susp", {"runPolicy": {"suspend": False}})
    wait_for(lambda: jobs.phase("susp") == "Running", 60, "Running again", seen=lambda: jobs.status("susp"))
    assert len(jobs.pods("susp")) == 2


def test_tj_ttl_deletes_the_finished_job(jobs):
    done = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": "1s"}
    jobs.create(
        manifest("ttl", replicas=1, gpus=1, annotations=done, runPolicy={"ttlSecondsAfterFinished": 2})
    )
    wait_for(lambda: jobs.phase("ttl") == "Succeeded", 60, "Succeeded", seen=lambda: jobs.status("ttl"))
    wait_for(lambda: not jobs.exists("ttl"), 60, "job deleted after its TTL")
