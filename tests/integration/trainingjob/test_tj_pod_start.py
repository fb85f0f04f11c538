"""A worker pod bound to a node that does not start (a ConfigMap of the template that does not exist)
names the kubelet's reason in the job's Admitted condition, and the job goes on by itself once the
pod starts. KWOK mounts nothing: the pod is held Pending by sim.lepton.ai/hold-start and the test
writes the kubelet's Event (the same mechanism as a model server's: controllers/kit/pod_start.py)."""

from __future__ import annotations

import pytest
from tjkit import Jobs, manifest

from support.events import bound_pod, kubelet_event
from support.wait import wait_for

pytestmark = pytest.mark.integration

MISSING = 'MountVolume.SetUp failed for volume "settings" : configmap "settings" not found'


def test_a_worker_that_cannot_mount_its_volume_says_why_until_it_starts(kube, namespace, operator):
    jobs = Jobs(kube, namespace)
    jobs.create(manifest("stuck", replicas=1, gpus=1, annotations={"sim.lepton.ai/hold-start": "true"}))
    pod = bound_pod(jobs.core, namespace, "lepton.ai/job-name=stuck")
    kubelet_event(jobs.core, pod, "FailedMount", MISSING)

    admitted = wait_for(
        lambda: (c := jobs.condition("stuck", "Admitted") or {}).get("reason") == "PodStartFailed" and c,
        30,
        "Admitted to say PodStartFailed",
        seen=lambda: jobs.status("stuck"),
    )
    assert admitted["message"] == f"pod {pod.metadata.name} cannot start: FailedMount: {MISSING}"
    assert jobs.phase("stuck") == "Admitted"
    jobs.wait_events("stuck", "PodStartFailed")

    jobs.core.patch_namespaced_pod(
        pod.metadata.name, namespace, {"metadata": {"annotations": {"sim.lepton.ai/hold-start": None}}}
    )
    wait_for(
        lambda: jobs.phase("stuck") == "Running",
        30,
        "Running once the pod starts",
        seen=lambda: jobs.status("stuck"),
    )
