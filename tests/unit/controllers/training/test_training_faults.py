"""GPU faults as the training controller observes them: node conditions and GPU counts into the
node index, DisruptionTarget into the pod state, and faulty nodes out of the admission pass."""

from __future__ import annotations

from typing import Any

from lepton.controllers.training.indices import Indices
from lepton.controllers.training.observe import NodeInfo, node_info, pod_state
from lepton.controllers.training.pass_inputs import JobSummary, Observed, decide
from lepton.policies.gpu_health import DEFAULT_FAULT_CONDITIONS, NodeFault
from lepton.policies.placement import Placement


def node_body(
    name: str, *, allocatable: str = "8", conditions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {},
        "status": {
            "capacity": {"nvidia.com/gpu": "8"},
            "allocatable": {"nvidia.com/gpu": allocatable},
            "conditions": [{"type": "Ready", "status": "True"}, *(conditions or [])],
        },
    }


def test_node_index_keeps_true_conditions_and_gpu_capacity() -> None:
    node = node_info(
        node_body(
            "n",
            allocatable="7",
            conditions=[
                {"type": "GpuUnhealthy", "status": "True", "reason": "XidError79"},
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
            ],
        )
    )
    assert (node.capacity_gpus, node.allocatable_gpus, node.ready) == (8, 7, True)
    assert node.problems == {"GpuUnhealthy": "XidError79"}, "only True conditions, Ready left out"


def test_pod_state_reads_the_disruption_target_condition() -> None:
    body: dict[str, Any] = {
        "metadata": {
            "name": "j-worker-0",
            "labels": {"lepton.ai/replica-index": "0", "lepton.ai/restart-attempt": "0"},
        },
        "spec": {"nodeName": "n"},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager"}
            ],
        },
    }
    state = pod_state(body)
    assert state is not None
    assert state.disruption == "DeletionByTaintManager"
    body["status"]["conditions"][0]["status"] = "False"
    state = pod_state(body)
    assert state is not None
    assert state.disruption is None


def test_indices_name_the_faulty_nodes() -> None:
    nodes = [
        node_info(node_body("ok")),
        node_info(node_body("sick", conditions=[{"type": "GpuUnhealthy", "status": "True"}])),
        node_info(node_body("short", allocatable="6")),
    ]
    indices = Indices(pods={}, gpu_pods={}, nodes={None: nodes}, jobs={}, priorities={})
    faults = indices.gpu_faults(DEFAULT_FAULT_CONDITIONS)
    assert {name: f.unhealthy for name, f in faults.items()} == {"sick": True, "short": False}
    assert indices.gpu_faults(()) == {"short": faults["short"]}, "GPU counts are read whatever the types"


def test_admission_never_chooses_a_faulty_node() -> None:
    job = JobSummary("ns/j", "u", 0.0, 1, 8, Placement(), None, None, suspend=False, gang=True)
    observed = Observed(
        jobs=[job],
        pods_by_job={},
        nodes=[NodeInfo("sick", 8, True, capacity_gpus=8)],
        gpus_by_node={},
        priorities={},
        faults={"sick": NodeFault("GpuUnhealthy=True", unhealthy=True)},
    )
    decision = decide(observed, {})
    assert decision.admitted == ()
    assert decision.waiting == {
        "ns/j": "needs 1 pod x 8 GPUs; 0 fit now; at most 0 fit on the matching nodes even when idle"
    }
    healthy = Observed(jobs=[job], pods_by_job={}, nodes=observed.nodes, gpus_by_node={}, priorities={})
    assert decide(healthy, {}).admitted == ("ns/j",)
