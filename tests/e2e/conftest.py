"""Fixtures for end-to-end tests: the local cluster with a real (kubelet) node, clients, namespaces.

The cluster is the one the environment names (LEPTON_CLUSTER_DIR, LEPTON_PORT_*, LEPTON_BRIDGE...),
started or extended with one real node (REAL_NODES=1) and Prometheus when it lacks them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config

from localcluster import cluster as localcluster
from localcluster.config import E2E_DIR, Config
from support.wait import wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def e2e_cluster() -> Config:
    real_nodes = os.environ.get("REAL_NODES", "0")
    env = {**os.environ, "REAL_NODES": "1" if real_nodes in ("", "0") else real_nodes, "PROMETHEUS": "1"}
    subprocess.run(
        [sys.executable, "-m", "localcluster", "up"],
        cwd=E2E_DIR,
        env={**env, "PYTHONPATH": str(E2E_DIR)},
        check=True,
        timeout=1800,
    )
    return Config.from_env()


@pytest.fixture(scope="session")
def kube(e2e_cluster: Config) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(e2e_cluster.kubeconfig))
    yield api
    api.close()


@pytest.fixture(scope="session")
def kubectl(e2e_cluster: Config) -> Kubectl:
    bin_dir = localcluster.tools_dir()

    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> Any:
        out = subprocess.run(
            [str(bin_dir / "kubectl"), "--kubeconfig", str(e2e_cluster.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
        return out

    return run


@pytest.fixture
def namespace(kube: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace, ready for pods, deleted afterwards (its pods' containers go with it)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].rstrip("-")
    name = f"e2e-{slug}-{uuid.uuid4().hex[:5]}"
    core = client.CoreV1Api(kube)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(
        lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
        timeout=30,
        what=f"ServiceAccount default in namespace {name}",
    )
    yield name
    core.delete_namespace(name, propagation_policy="Background")
