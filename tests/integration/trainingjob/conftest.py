"""The operator under test (`python -m lepton`, tests/support/operator.py) with the CRDs applied.
Module-scoped: one operator per test module, restartable by tests that kill it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from support.operator import Operator, running_operator

REPO = Path(__file__).resolve().parents[3]
# LEPTON_TEST_CRDS points the suite at other CRD files (say, a candidate generator output).
CRDS = Path(os.environ.get("LEPTON_TEST_CRDS") or REPO / "crds")


@pytest.fixture(scope="module")
def crds(kubectl: Any) -> None:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS))


@pytest.fixture(scope="module")
def operator(kubeconfig: str, crds: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    with running_operator(kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log") as op:
        yield op


@pytest.fixture
def queues(kube: client.ApiClient, namespace: str) -> Iterator[Any]:
    """Creates ClusterQueues (cluster-scoped, so named after the test's namespace) and deletes them."""
    custom = client.CustomObjectsApi(kube)
    made: list[str] = []

    def create(suffix: str, **spec: Any) -> str:
        name = f"{namespace}-{suffix}"
        body = {
            "apiVersion": "lepton.ai/v1alpha1",
            "kind": "ClusterQueue",
            "metadata": {"name": name},
            "spec": spec,
        }
        custom.create_cluster_custom_object("lepton.ai", "v1alpha1", "clusterqueues", body)
        made.append(name)
        return name

    yield create
    for name in made:
        custom.delete_cluster_custom_object("lepton.ai", "v1alpha1", "clusterqueues", name)
