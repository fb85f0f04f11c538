"""The operator under test for the serving controllers: one per module. Tests steer simulated pods
through each object's lepton.ai/pod-annotations, not through operator settings, so the outcome does
not depend on which operator process (another suite's may be watching the cluster too) acts first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.operator import Operator, running_operator

SERVING_ENV = {"LEPTON_VERIFY_TTL_SECONDS": "600", "LEPTON_CLUSTER_DOMAIN": "cluster.local"}


@pytest.fixture(scope="module")
def operator(
    kubeconfig: str, lepton_crds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    with running_operator(kubeconfig, log, SERVING_ENV) as op:
        yield op
