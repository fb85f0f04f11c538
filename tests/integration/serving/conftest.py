"""The operator under test for the serving controllers: one per module. Tests steer simulated pods
through each object's lepton.ai/pod-annotations, not through operator settings, so the outcome does
not depend on which operator process (another suite's may be watching the cluster too) acts first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from lepton.artifacts import MLPClassifier, save_artifact
from support.operator import Operator, running_operator
from support.prometheus import Prometheus
from support.servers import Server, kill, launch

SERVING_ENV = {"LEPTON_VERIFY_TTL_SECONDS": "600", "LEPTON_CLUSTER_DOMAIN": "cluster.local"}


@pytest.fixture(scope="module")
def operator(
    kubeconfig: str, lepton_crds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    with running_operator(kubeconfig, log, SERVING_ENV) as op:
        yield op


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A Prometheus of the module's own (scrape every second), stopped and started by tests."""
    server = Prometheus(tmp_path_factory.mktemp("prometheus"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `lepton-serve` (model "iris"): the stand-in for a service's replicas, which are KWOK
    pods here; tests register it with Prometheus labelled as the service's pods are."""
    root = tmp_path_factory.mktemp("model-server")
    torch.manual_seed(0)
    save_artifact(MLPClassifier(16, 32, 4), root / "model", example_input=torch.randn(2, 16))
    server = launch(root / "model", root, name="iris")
    yield server
    kill(server)
