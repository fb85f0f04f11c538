"""Fixtures for tests against the local control plane: the cluster, clients, a namespace per test."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config

from support.cluster import LocalCluster, ensure_cluster, stop_cluster
from support.paths import CRDS_DIR
from support.wait import wait_for

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

LEPTON_RESOURCES = ("trainingjobs.lepton.ai", "modelversions.lepton.ai", "inferenceservices.lepton.ai")


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
    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> Any:
        out = subprocess.run(
            [cluster.kubectl_path, "--kubeconfig", cluster.kubeconfig, *args],
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
    """A fresh namespace, ready for pods (its default ServiceAccount exists), deleted afterwards."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].rstrip("-")
    name = f"t-{slug}-{uuid.uuid4().hex[:5]}"
    core = client.CoreV1Api(kube)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(
        lambda: core.list_namespaced_service_account(name, field_selector="metadata.name=default").items,
        timeout=30,
        what=f"ServiceAccount default in namespace {name}",
    )
    yield name
    try:
        core.delete_namespace(name, propagation_policy="Background")
    except client.ApiException as exc:
        if exc.status != 404:  # a test may have deleted it itself
            raise


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
