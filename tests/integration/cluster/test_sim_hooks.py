"""The local cluster's simulation hooks (docs/architecture.md):
pods that exit with a code and message, nodes that fail."""

from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client

from support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("annotations", "phase", "code", "message"),
    [
        (
            {"sim.lepton.ai/exit-code": "3", "sim.lepton.ai/termination-message": '{"error": "boom"}'},
            "Failed",
            3,
            '{"error": "boom"}',
        ),
        (
            {"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/termination-message": "done"},
            "Succeeded",
            0,
            "done",
        ),
        ({"sim.lepton.ai/exit-code": "137"}, "Failed", 137, None),
    ],
    ids=["failure-with-message", "success-with-message", "killed-without-message"],
)
def test_exit_code_hook_terminates_the_pod(kube, namespace, annotations, phase, code, message):
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="exiting", annotations=annotations),
            spec=client.V1PodSpec(
                restart_policy="Never", containers=[client.V1Container(name="main", image="busybox")]
            ),
        ),
    )
    pod = wait_for(
        lambda: (p := core.read_namespaced_pod("exiting", namespace)).status.phase == phase and p,
        timeout=30,
        what=f"pod phase {phase}",
        seen=lambda: core.read_namespaced_pod("exiting", namespace).status,
    )
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.exit_code == code
    assert terminated.message == message
    assert terminated.reason == ("Completed" if code == 0 else "Error")
    ready = next(c for c in pod.status.conditions if c.type == "Ready")
    assert ready.status == "False"


def test_exit_after_delays_the_exit(kube, namespace):
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(
                name="later", annotations={"sim.lepton.ai/exit-code": "0", "sim.lepton.ai/exit-after": "3s"}
            ),
            spec=client.V1PodSpec(
                restart_policy="Never", containers=[client.V1Container(name="main", image="x")]
            ),
        ),
    )
    wait_for(
        lambda: core.read_namespaced_pod("later", namespace).status.phase == "Running",
        timeout=30,
        what="pod Running before its delayed exit",
    )
    running_at = time.monotonic()
    wait_for(
        lambda: core.read_namespaced_pod("later", namespace).status.phase == "Succeeded",
        timeout=30,
        what="pod Succeeded after exit-after",
    )
    assert time.monotonic() - running_at >= 1.5, "the pod exited long before its 3s exit-after"


def test_not_ready_annotation_turns_node_not_ready_and_back(kube):
    core = client.CoreV1Api(kube)
    name = f"lepton-test-{uuid.uuid4().hex[:6]}"
    core.create_node(
        client.V1Node(
            metadata=client.V1ObjectMeta(
                name=name,
                annotations={"kwok.x-k8s.io/node": "fake"},
                labels={"lepton.ai/node-kind": "simulated"},
            ),
            spec=client.V1NodeSpec(
                taints=[client.V1Taint(key="lepton.ai/test", value="x", effect="NoSchedule")]
            ),
            status=client.V1NodeStatus(
                capacity={"cpu": "1", "pods": "10"}, allocatable={"cpu": "1", "pods": "10"}
            ),
        )
    )

    def ready() -> str | None:
        conds = core.read_node(name).status.conditions or []
        return next((c.status for c in conds if c.type == "Ready"), None)

    try:
        wait_for(lambda: ready() == "True", timeout=30, what=f"node {name} Ready", seen=ready)
        core.patch_node(name, {"metadata": {"annotations": {"sim.lepton.ai/not-ready": "true"}}})
        wait_for(lambda: ready() == "False", timeout=30, what=f"node {name} NotReady", seen=ready)
        reason = next(c.reason for c in core.read_node(name).status.conditions if c.type == "Ready")
        assert reason == "SimulatedNotReady"
        core.patch_node(name, {"metadata": {"annotations": {"sim.lepton.ai/not-ready": None}}})
        wait_for(lambda: ready() == "True", timeout=30, what=f"node {name} Ready again", seen=ready)
    finally:
        core.delete_node(name)
