"""Fixtures for end-to-end tests: the local cluster with a real (kubelet) node, clients, namespaces.

The cluster is the one the environment names (LEPTON_CLUSTER_DIR, LEPTON_PORT_*, LEPTON_BRIDGE...),
started or extended with one real node (REAL_NODES=1) and Prometheus when it lacks them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2ekit import SERVER_IMAGE
from kubernetes import client, config

from localcluster import cluster as localcluster
from localcluster import procs
from localcluster.config import E2E_DIR, Config
from realnode import demo
from realnode.archives import import_all
from realnode.demokit import Clock, Kube
from support.kube import Kubectl, fresh_namespace, kubectl_runner


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
    return kubectl_runner(str(localcluster.tools_dir() / "kubectl"), str(e2e_cluster.kubeconfig))


@pytest.fixture
def namespace(kube: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace, ready for pods, deleted afterwards (its pods' containers go with it)."""
    with fresh_namespace(kube, request.node.name, "e2e") as name:
        yield name


@pytest.fixture(scope="session")
def helm(e2e_cluster: Config) -> list[str]:
    """The pinned helm (built or reused), aimed at the local cluster."""
    out = subprocess.run(
        [str(E2E_DIR / "realnode" / "build-helm.sh")], capture_output=True, text=True, check=True
    )
    return [out.stdout.strip().splitlines()[-1], "--kubeconfig", str(e2e_cluster.kubeconfig)]


@pytest.fixture(scope="module")
def no_local_operator(e2e_cluster: Config) -> None:
    """Stops the operator the demo runs on the host (the demo's tests leave it running for the
    module after them): tests that run an operator of their own (the chart's pods, or one on the host
    with other settings) must see only it act. Two operators on one object fight: seen when the
    demo's, started before Gateway API was installed, scaled the shadow rollout's candidate to 0."""
    procs.stop(e2e_cluster.run, demo.OPERATOR)


@pytest.fixture(scope="module")
def operator_running(e2e_cluster: Config) -> None:
    """The CRDs, the demo's images in the node and the operator running on the host (all reused
    when already there; the demo's module stops its operator when it ends)."""
    clock = Clock()
    demo.apply_crds(clock, Kube(e2e_cluster, localcluster.tools_dir()))
    demo.build_images(clock, e2e_cluster)
    demo.start_operator(clock, e2e_cluster)


@pytest.fixture(scope="module")
def server_image(e2e_cluster: Config) -> None:
    """Only the server image (model servers and verification pods), built or reused, in the real node."""
    out = subprocess.run(
        [str(E2E_DIR / "images" / "build.sh"), "server"], stdout=subprocess.PIPE, text=True, check=True
    )
    _, layout, ref = out.stdout.strip().splitlines()[-1].split()
    assert ref.endswith(SERVER_IMAGE), out.stdout
    import_all(e2e_cluster, Path(layout), [ref])
