"""The operator process: restarts that converge, results recorded as ModelVersions, deletion, metrics."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client
from tjkit import Jobs, manifest

from support.wait import wait_for

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def test_tj_operator_killed_during_admission_converges_without_duplicates(jobs, operator):
    operator.kill()
    jobs.create(manifest("crash", replicas=4, gpus=2))
    operator.start()
    # Kill it again as soon as it starts acting on the job: mid-admission or mid-creation.
    wait_for(lambda: jobs.pods("crash") or jobs.phase("crash"), 30, "the operator to act on the job")
    operator.kill()
    before = {p.metadata.name: p.metadata.uid for p in jobs.pods("crash")}
    operator.start()
    wait_for(
        lambda: jobs.phase("crash") == "Running",
        60,
        "Running after restarts",
        seen=lambda: jobs.status("crash"),
    )
    pods = jobs.pods("crash")
    assert [p.metadata.name for p in pods] == [f"crash-worker-{i}" for i in range(4)]
    after = {p.metadata.name: p.metadata.uid for p in pods}
    assert all(after[name] == uid for name, uid in before.items()), (
        "pods that existed were kept, not replaced"
    )
    assert jobs.status("crash").get("restartCount", 0) == 0


def test_tj_result_becomes_a_model_version_that_outlives_the_job(jobs, namespace, kube):
    message = {
        "metrics": {"loss": 0.125, "accuracy": 0.97},
        "artifact": {"uri": "pvc://models/mnist/v1", "digest": DIGEST, "format": "torch-export"},
    }
    annotations = {
        "sim.lepton.ai/exit-code": "0",
        "sim.lepton.ai/exit-after": "1s",
        "sim.lepton.ai/termination-message": json.dumps(message),
    }
    jobs.create(
        manifest(
            "mnist", replicas=2, gpus=1, annotations=annotations, output={"model": "mnist", "version": "v1"}
        )
    )
    wait_for(lambda: jobs.phase("mnist") == "Succeeded", 60, "Succeeded", seen=lambda: jobs.status("mnist"))
    status = jobs.status("mnist")
    assert status["modelVersion"] == "mnist-v1"
    assert status["metrics"] == {"loss": 0.125, "accuracy": 0.97}

    custom = client.CustomObjectsApi(kube)
    mv = custom.get_namespaced_custom_object("lepton.ai", "v1alpha1", namespace, "modelversions", "mnist-v1")
    assert mv["spec"]["metrics"] == {"loss": 0.125, "accuracy": 0.97}
    assert mv["spec"]["source"] == {
        "uri": "pvc://models/mnist/v1",
        "digest": DIGEST,
        "format": "torch-export",
    }
    assert mv["spec"]["origin"]["trainingJob"]["name"] == "mnist"
    assert not mv["metadata"].get("ownerReferences")
    jobs.wait_events("mnist", "ModelVersionCreated")
    recorded = next(c for c in status["conditions"] if c["type"] == "ModelVersionRecorded")
    assert (recorded["status"], recorded["reason"]) == ("True", "ModelVersionCreated")
    assert recorded["message"] == "ModelVersion mnist-v1 created"

    jobs.delete("mnist")
    wait_for(lambda: not jobs.exists("mnist"), 60, "job deleted")
    wait_for(lambda: jobs.pods("mnist") == [], 60, "pods garbage-collected")
    custom.get_namespaced_custom_object("lepton.ai", "v1alpha1", namespace, "modelversions", "mnist-v1")


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("done!", "termination message is not JSON"),
        (json.dumps({"artifact": {"uri": "pvc://m/x"}, "pad": "x" * 5000}), "longer than 4096 bytes"),
        (json.dumps({"metrics": {"loss": 0.5}}), "rank 0 reported no artifact"),
    ],
    ids=["not-json", "over-4-KiB", "no-artifact"],
)
def test_tj_bad_result_is_a_condition_not_a_silent_success(jobs, namespace, kube, message, why):
    annotations = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/termination-message": message}
    output = {"model": "bad", "version": "v1"}
    jobs.create(manifest("bad", replicas=1, gpus=1, annotations=annotations, output=output))
    wait_for(lambda: jobs.phase("bad") == "Succeeded", 60, "Succeeded", seen=lambda: jobs.status("bad"))
    status = jobs.status("bad")
    recorded = next((c for c in status["conditions"] if c["type"] == "ModelVersionRecorded"), None)
    assert recorded is not None, status
    assert (recorded["status"], recorded["reason"]) == ("False", "NoModelVersion")
    assert why in recorded["message"]
    assert "modelVersion" not in status
    jobs.wait_events("bad", "NoModelVersion")
    custom = client.CustomObjectsApi(kube)
    mvs = custom.list_namespaced_custom_object("lepton.ai", "v1alpha1", namespace, "modelversions")
    assert mvs["items"] == []
    # Recorded once, at the transition: later reconciles neither retry it nor rewrite the status.
    version = jobs.get("bad")["metadata"]["resourceVersion"]
    time.sleep(3)  # a measurement window (a hot loop would write), not a synchronisation
    assert jobs.get("bad")["metadata"]["resourceVersion"] == version
    assert jobs.events("bad").count("NoModelVersion") == 1


def test_tj_operator_metrics(jobs, operator):
    jobs.create(manifest("metered", replicas=1, gpus=1))
    wait_for(lambda: jobs.phase("metered") == "Running", 60, "Running")

    def running_gauge() -> str | None:
        text = operator.metrics()
        return text if 'lepton_operator_trainingjobs{phase="Running"}' in text else None

    text = wait_for(running_gauge, 30, "the Running gauge")
    for name in (
        "lepton_operator_admissions_total",
        "lepton_operator_queue_length",
        "lepton_operator_reconcile_duration_seconds_bucket",
        'lepton_operator_api_requests_total{code="201",resource="pods",verb="post"}',
    ):
        assert name in text, name
