"""Live progress on the local cluster: status.progress follows rank 0's metrics endpoint while the job
runs, and keeps its last value when the endpoint dies.

KWOK's pods have no process and a fake IP, so the test runs rank 0's real endpoint (the runtime's own
MetricsReporter) on loopback and reports 127.0.0.1 as worker 0's pod IP, as a kubelet reports a real
one; the operator then reads it exactly as it reads a pod: http://<podIP>:<LEPTON_METRICS_PORT>/metrics.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tjkit import Jobs, manifest

from lepton.runtime.metrics import MetricsReporter
from support.kube import table_columns
from support.operator import Operator, running_operator
from support.ports import free_port
from support.wait import wait_for

pytestmark = pytest.mark.integration

NAME = "prog"
POLL = 1.0


@pytest.fixture(scope="module")
def operator(kubeconfig: str, crds: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    env = {"LEPTON_PROGRESS_POLL_SECONDS": str(POLL), "LEPTON_PROGRESS_TIMEOUT_SECONDS": "1"}
    with running_operator(kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log", env) as op:
        yield op


@pytest.fixture
def jobs(kube, namespace, operator):
    return Jobs(kube, namespace)


def progress(jobs: Jobs) -> dict:
    return dict(jobs.status(NAME).get("progress") or {})


def unchanged_for(read, seconds: float) -> object:
    """``read()`` gives the same value for ``seconds`` (several poll intervals): an observation
    window, not a synchronisation."""
    first, end = read(), time.monotonic() + seconds
    while time.monotonic() < end:
        assert read() == first
        time.sleep(0.2)
    return first


def test_tj_progress_follows_rank_0_and_stays_when_it_is_unreachable(jobs, kubectl):
    port = free_port()
    rank0 = MetricsReporter(port, "127.0.0.1")
    try:
        env = [{"name": "LEPTON_METRICS_PORT", "value": str(port)}]
        jobs.create(manifest(NAME, replicas=2, gpus=1, env=env))
        wait_for(lambda: jobs.phase(NAME) == "Running", 60, "Running", seen=lambda: jobs.status(NAME))
        worker0 = f"{NAME}-worker-0"
        pod = jobs.core.read_namespaced_pod(worker0, jobs.namespace)
        assert pod.metadata.annotations["prometheus.io/scrape"] == "true"
        assert pod.metadata.annotations["prometheus.io/port"] == str(port)
        trainer = next(c for c in pod.spec.containers if c.name == "trainer")
        assert [(p.name, p.container_port) for p in trainer.ports] == [("metrics", port)]
        ip = {"status": {"podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}}
        jobs.core.patch_namespaced_pod_status(
            worker0, jobs.namespace, ip, _content_type="application/merge-patch+json"
        )

        rank0.report({"step": 10, "epoch": 1, "loss": 0.5, "samples_per_second": 250.0})
        first = wait_for(
            lambda: progress(jobs).get("step") == 10 and progress(jobs),
            30,
            "step 10",
            seen=lambda: progress(jobs),
        )
        assert first == {**first, "epoch": 1.0, "loss": 0.5, "samplesPerSecond": 250.0}
        rank0.report({"step": 20, "loss": 0.25})
        second = wait_for(
            lambda: progress(jobs).get("step") == 20 and progress(jobs),
            30,
            "step 20",
            seen=lambda: progress(jobs),
        )
        assert second["loss"] == 0.25
        assert second["lastUpdate"] >= first["lastUpdate"]
        table = kubectl("get", "tj", NAME, "-n", jobs.namespace).stdout
        columns = table_columns(table)
        assert (columns.get("STEP"), columns.get("LOSS")) == ("20", "0.25"), table
        # The status says how fresh it is: refreshed every poll while the endpoint answers.
        wait_for(lambda: progress(jobs)["lastUpdate"] > second["lastUpdate"], 30, "a fresher lastUpdate")
    finally:
        rank0.close()

    # Rank 0 unreachable: the last progress stays, its lastUpdate with it; the job keeps running.
    kept = unchanged_for(lambda: progress(jobs), 5 * POLL)
    assert kept["step"] == 20
    assert jobs.phase(NAME) == "Running"

    again = MetricsReporter(port, "127.0.0.1")  # rank 0 back, say after a restart of its process
    try:
        again.report({"step": 30})
        back = wait_for(
            lambda: progress(jobs).get("step") == 30 and progress(jobs),
            30,
            "step 30",
            seen=lambda: progress(jobs),
        )
        assert back["lastUpdate"] > kept["lastUpdate"]
    finally:
        again.close()
