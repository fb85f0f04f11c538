"""Fixtures for tests against the local control plane: the cluster, clients, a namespace per test."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from support.cluster import LocalCluster, ensure_cluster, stop_cluster
from support.kube import Kubectl, fresh_namespace, kubectl_runner
from support.operator import Operator
from support.paths import CRDS_DIR
from support.wait import wait_for


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that ran an operator shows what the operator logged, in CI's output too."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    operator = getattr(item, "funcargs", {}).get("operator")
    if report.when == "call" and report.failed and isinstance(operator, Operator):
        report.sections.append(("operator log, last 80 lines above DEBUG", operator.tail(80, debug=False)))


LEPTON_RESOURCES = (
    "trainingjobs.lepton.ai",
    "modelversions.lepton.ai",
    "inferenceservices.lepton.ai",
    "clusterqueues.lepton.ai",
)


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    local = ensure_cluster()
    yield local
    stop_cluster(local)


@pytest.fixture(scope="session")
def kubeconfig(cluster: LocalCluster) -> str:
    return cluster.kubeconfig


@pytest.fixture(scope="session")
def kube(kubeconfig: str) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def kubectl(cluster: LocalCluster) -> Kubectl:
    return kubectl_runner(cluster.kubectl_path, cluster.kubeconfig)


@pytest.fixture
def namespace(kube: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_namespace(kube, request.node.name, "t") as name:
        yield name


@pytest.fixture(scope="session")
def lepton_crds(kubectl: Kubectl) -> list[str]:
    """Apply crds/*.yaml server-side, wait for Established and for discovery to list the kinds."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS_DIR))

    def established() -> dict[str, bool]:
        out = kubectl("get", "crd", *LEPTON_RESOURCES, "-o", "json").stdout
        return {
            item["metadata"]["name"]: any(
                c["type"] == "Established" and c["status"] == "True"
                for c in item.get("status", {}).get("conditions", [])
            )
            for item in json.loads(out)["items"]
        }

    wait_for(
        lambda: all(established().values()), timeout=60, what="Lepton CRDs Established", seen=established
    )
    # Established precedes discovery; kubectl resolves short names and categories through discovery.
    wait_for(
        lambda: kubectl("get", "tj,mv,lisvc", "-A", "-o", "name", check=False).returncode == 0,
        timeout=60,
        what="lepton.ai kinds in discovery",
    )
    return list(LEPTON_RESOURCES)
