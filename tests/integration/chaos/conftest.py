"""The chaos suite's processes: the operator (killed and started again by the faults), asking the
cluster's own Prometheus (stopped and started by the faults), and real `lepton-serve` processes
standing in for the services' replicas (KWOK pods run no process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcluster.config import Config
from support.cluster import LocalCluster
from support.models import artifact
from support.operator import Operator
from support.servers import Server, kill, launch, until_ready


@pytest.fixture(scope="module")
def cluster_config(cluster: LocalCluster) -> Config:
    # ensure_cluster (support/cluster.py) starts the cluster with its Prometheus, or adds it.
    return cluster.config


@pytest.fixture(scope="module")
def chaos_operator(
    kubeconfig: str, lepton_crds: list[str], cluster_config: Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    env = {
        "LEPTON_CLUSTER_DOMAIN": "cluster.local",
        "LEPTON_PROMETHEUS_URL": cluster_config.prometheus_url,
        "LEPTON_VERIFY_TTL_SECONDS": "600",
    }
    op = Operator(kubeconfig, tmp_path_factory.mktemp("chaos-operator") / "operator.log", env)
    op.start()
    yield op
    op.stop()


@pytest.fixture(scope="module")
def model_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """Three servers: `good` (every good version in turn), `bad` (every failing version), `auto` (the
    autoscaled service's replicas)."""
    root = tmp_path_factory.mktemp("chaos-servers")
    started: dict[str, Server] = {}
    try:
        # Started side by side: each spends most of its start importing torch.
        for name, good in (("good", True), ("bad", False), ("auto", True)):
            started[name] = launch(artifact(root, good), root, "--no-batching", name="iris", wait_ready=False)
        for name, server in started.items():
            until_ready(server, 300, f"lepton-serve {name} ready")
        yield started
    finally:
        for server in started.values():
            kill(server)
