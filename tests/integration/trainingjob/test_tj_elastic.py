"""Elastic replacement, PodGroups for gang schedulers, and what a job costs in API requests."""

from __future__ import annotations

import json
import re

import pytest
from kubernetes import client
from tjkit import Jobs, manifest

from support.wait import wait_for

pytestmark = pytest.mark.integration

VOLCANO_PODGROUP_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "podgroups.scheduling.volcano.sh"},
    "spec": {
        "group": "scheduling.volcano.sh",
        "names": {"kind": "PodGroup", "plural": "podgroups", "singular": "podgroup"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def requests_made(operator) -> dict[str, float]:
    pattern = re.compile(r"^lepton_operator_api_requests_total\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE)
    return {labels: float(v) for labels, v in pattern.findall(operator.metrics())}


def settled(kube, operator):
    """A check that passes once no namespace of an earlier module is still being deleted (this
    module's operator watches the whole cluster and would count its requests for their jobs) and
    the operator made no request since the check before."""
    last: dict[str, object] = {}

    def check() -> bool:
        namespaces = client.CoreV1Api(kube).list_namespace().items
        now = requests_made(operator)
        still, last["seen"] = now == last.get("seen"), now
        return still and not any(n.status.phase == "Terminating" for n in namespaces)

    return check


def test_tj_a_job_costs_few_api_requests(jobs, operator, kube):
    """Requests of the controller itself (kopf writes nothing into a job: test_tj_job_writes.py).
    First in this module: later tests' teardowns would add their own requests to the count."""
    done = {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": "2s"}
    wait_for(settled(kube, operator), 120, "earlier modules' namespaces gone, the operator idle", interval=2)
    before = requests_made(operator)
    jobs.create(manifest("cheap", replicas=4, gpus=8, annotations=done))
    wait_for(lambda: jobs.phase("cheap") == "Succeeded", 60, "Succeeded", seen=lambda: jobs.status("cheap"))
    wait_for(
        lambda: jobs.pods("cheap") == [] or True, 1, "nothing"
    )  # the job's last writes are done once Succeeded shows
    after = requests_made(operator)
    by_kind = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    spent = sum(by_kind.values())
    print(f"\nAPI requests of the controller for a 4-worker job, apply to Succeeded: {spent:g} {by_kind}")
    # Service + 4 pods + a handful of status writes and one Event per transition.
    assert spent <= 20, f"{spent:g} requests from apply to Succeeded: {by_kind}"


def test_tj_elastic_replaces_a_lost_worker_without_restarting(jobs):
    jobs.create(manifest("elastic", replicas=3, gpus=1, elastic={"minReplicas": 2, "maxReplicas": 4}))
    wait_for(lambda: jobs.phase("elastic") == "Running", 60, "Running", seen=lambda: jobs.status("elastic"))
    survivors = {
        p.metadata.name: p.metadata.uid for p in jobs.pods("elastic") if not p.metadata.name.endswith("-2")
    }
    lost_uid = next(p.metadata.uid for p in jobs.pods("elastic") if p.metadata.name.endswith("-2"))
    jobs.core.delete_namespaced_pod("elastic-worker-2", jobs.namespace)

    def replaced():
        pods = {p.metadata.name: p for p in jobs.live_pods("elastic")}
        new = pods.get("elastic-worker-2")
        return new is not None and new.metadata.uid != lost_uid and new.status.phase == "Running"

    wait_for(replaced, 60, "worker 2 replaced", seen=lambda: jobs.status("elastic"))
    assert {
        p.metadata.name: p.metadata.uid for p in jobs.pods("elastic") if not p.metadata.name.endswith("-2")
    } == survivors
    assert jobs.status("elastic").get("restartCount", 0) == 0
    jobs.wait_events("elastic", "WorkerReplaced")


def test_tj_pod_group_for_volcano_when_its_crd_is_installed(jobs, kubectl, kube):
    kubectl("apply", "-f", "-", input=json.dumps(VOLCANO_PODGROUP_CRD))
    kubectl("wait", "--for=condition=Established", "crd/podgroups.scheduling.volcano.sh", "--timeout=60s")
    try:
        jobs.create(
            manifest("gang", replicas=2, gpus=8, scheduling={"schedulerName": "volcano", "queue": "research"})
        )
        custom = client.CustomObjectsApi(kube)
        group = wait_for(
            lambda: custom.get_namespaced_custom_object(
                "scheduling.volcano.sh", "v1beta1", jobs.namespace, "podgroups", "gang"
            ),
            60,
            "PodGroup gang",
        )
        assert group["spec"] == {
            "minMember": 2,
            "minResources": {"nvidia.com/gpu": "16"},
            "queue": "research",
        }
        pods = wait_for(lambda: jobs.pods("gang") if len(jobs.pods("gang")) == 2 else None, 30, "2 pods")
        assert all(p.metadata.annotations["scheduling.k8s.io/group-name"] == "gang" for p in pods)
        assert all(p.spec.scheduler_name == "volcano" for p in pods)
    finally:
        kubectl("delete", "crd", "podgroups.scheduling.volcano.sh", "--wait=false")
