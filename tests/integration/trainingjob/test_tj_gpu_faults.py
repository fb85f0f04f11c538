"""GPU faults on the local cluster with the operator running: nodes a GPU health agent marks unhealthy
are avoided, and a worker lost to a hardware fault re-admits its gang without spending its budget.
The faults come from the simulated cluster's hook (`python -m localcluster gpu-fault`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tjkit import Jobs, manifest

from localcluster import faults
from support.operator import Operator, running_operator
from support.wait import wait_for

pytestmark = pytest.mark.integration

HARDWARE_EXIT_CODE = 74


@pytest.fixture(scope="module")
def operator(kubeconfig: str, crds: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    log: Path = tmp_path_factory.mktemp("operator") / "operator.log"
    env = {"LEPTON_HARDWARE_EXIT_CODES": str(HARDWARE_EXIT_CODE)}
    with running_operator(kubeconfig, log, env) as op:
        yield op


@pytest.fixture
def jobs(kube: Any, namespace: str, operator: Operator) -> Jobs:
    return Jobs(kube, namespace)


@pytest.fixture
def gpu_fault(kubectl: Any) -> Iterator[Callable[..., None]]:
    """Mark a node's GPUs faulty through the hook; every node marked is healthy again afterwards."""
    marked: set[str] = set()

    def run(*args: str) -> str:
        return str(kubectl(*args).stdout)

    def mark(node: str, **kw: Any) -> None:
        marked.add(node)
        faults.gpu_fault(run, node, **kw)

    yield mark
    for node in marked:
        faults.gpu_fault(run, node, clear=True)


def faulty(operator: Operator) -> dict[str, float]:
    """lepton_operator_gpu_faulty_nodes by kind: what the operator's node index holds now."""
    found = re.findall(r'^lepton_operator_gpu_faulty_nodes\{kind="(\w+)"\} (\S+)$', operator.metrics(), re.M)
    return {kind: float(value) for kind, value in found}


def nodes_of(jobs: Jobs, name: str) -> set[str]:
    return {p.spec.node_name for p in jobs.live_pods(name)}


def test_tj_unhealthy_nodes_are_avoided_until_they_recover(jobs, gpu_fault, operator):
    gpu_fault("lepton-gpu-0")  # a health agent's condition: GpuUnhealthy=True
    gpu_fault("lepton-gpu-1", healthy_gpus=6)  # the device plugin took 2 GPUs out of allocatable
    wait_for(
        lambda: faulty(operator) == {"unhealthy": 1.0, "degraded": 1.0},
        30,
        "the operator sees one unhealthy and one degraded node",
        seen=lambda: faulty(operator),
    )

    jobs.create(manifest("spread", replicas=2, gpus=8))
    wait_for(lambda: jobs.phase("spread") == "Running", 60, "Running", seen=lambda: jobs.status("spread"))
    assert nodes_of(jobs, "spread") == {"lepton-gpu-2", "lepton-gpu-3"}
    pod = jobs.pods("spread")[0]
    rules = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    assert [(r.key, r.operator, r.values) for r in rules.node_selector_terms[0].match_fields] == [
        ("metadata.name", "NotIn", ["lepton-gpu-0"]),
        ("metadata.name", "NotIn", ["lepton-gpu-1"]),
        ("metadata.name", "In", [pod.spec.node_name]),  # pinned where admission placed it
    ]

    # lepton-gpu-0 still looks Ready with 8 free GPUs to kube-scheduler: only the fault keeps it out.
    jobs.create(manifest("later", replicas=1, gpus=8))
    queued = wait_for(
        lambda: (c := jobs.condition("later", "Queued")) and c["status"] == "True" and c,
        30,
        "queued: no healthy node has 8 free GPUs",
        seen=lambda: jobs.status("later"),
    )
    assert queued["reason"] == "WaitingForGPUs"
    assert "0 fit now" in queued["message"]
    assert "2 nodes with faulty GPUs left out (lepton-gpu-0: GpuUnhealthy=True" in queued["message"]
    assert jobs.pods("later") == []

    gpu_fault("lepton-gpu-0", clear=True)
    wait_for(
        lambda: jobs.phase("later") == "Running",
        60,
        "Running once the node recovered",
        seen=lambda: jobs.status("later"),
    )
    assert nodes_of(jobs, "later") == {"lepton-gpu-0"}


def test_tj_hardware_loss_readmits_the_gang_without_spending_its_budget(jobs, gpu_fault):
    jobs.create(
        manifest("hwloss", replicas=2, gpus=8, runPolicy={"backoffLimit": 0, "maxRestartsPerWorker": 0})
    )
    wait_for(lambda: jobs.phase("hwloss") == "Running", 60, "Running", seen=lambda: jobs.status("hwloss"))
    victim = next(
        p.spec.node_name for p in jobs.pods("hwloss") if p.metadata.labels["lepton.ai/replica-index"] == "1"
    )
    gpu_fault(victim)

    wait_for(
        lambda: (
            jobs.phase("hwloss") == "Running"
            and jobs.status("hwloss").get("restartCount") == 1
            and {p.metadata.labels["lepton.ai/restart-attempt"] for p in jobs.live_pods("hwloss")} == {"1"}
            and len(jobs.live_pods("hwloss")) == 2
        ),
        90,
        "the whole gang re-admitted once, on healthy nodes",
        seen=lambda: jobs.status("hwloss"),
    )
    assert victim not in nodes_of(jobs, "hwloss")
    status = jobs.status("hwloss")
    assert jobs.condition("hwloss", "Failed") is None, "backoffLimit 0 was not spent"
    assert status["nodeLossRestarts"] == 1
    assert not status.get("workerRestarts"), "maxRestartsPerWorker 0 was not spent"
    cause = status["restartHistory"][0]
    assert (cause["cause"], cause["charged"], cause["worker"], cause["node"]) == (
        "HardwareFault",
        False,
        1,
        victim,
    )
    assert "GpuUnhealthy" in cause["reason"] or "GPU unhealthy" in cause["reason"]
    assert "Restarting" in jobs.events("hwloss")


def test_tj_hardware_exit_code_restarts_without_spending_its_budget(jobs):
    crash = {"sim.lepton.ai/exit-code": str(HARDWARE_EXIT_CODE), "sim.lepton.ai/exit-after": "1s"}
    jobs.create(
        manifest(
            "hwexit",
            replicas=2,
            gpus=4,
            annotations=crash,
            runPolicy={"restartPolicy": "ExitCode", "backoffLimit": 0},
        )
    )
    wait_for(
        lambda: jobs.status("hwexit").get("restartCount", 0) >= 1,
        60,
        "a restart after the hardware exit code",
        seen=lambda: jobs.status("hwexit"),
    )
    jobs.patch_spec("hwexit", {"template": {"metadata": {"annotations": {"sim.lepton.ai/exit-code": "0"}}}})
    wait_for(lambda: jobs.phase("hwexit") == "Succeeded", 90, "Succeeded", seen=lambda: jobs.status("hwexit"))
    status = jobs.status("hwexit")
    assert status["nodeLossRestarts"] == status["restartCount"], "no restart was charged"
    history = status["restartHistory"]
    assert history
    assert all(e["cause"] == "HardwareFault" for e in history), history
    assert not any(e["charged"] for e in history), history
