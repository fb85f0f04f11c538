"""The operator under test for the serving controllers: one per module. Tests steer simulated pods
through each object's lepton.ai/pod-annotations, not through operator settings, so the outcome does
not depend on which operator process (another suite's may be watching the cluster too) acts first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.operator import Operator

SERVING_ENV = {"LEPTON_VERIFY_TTL_SECONDS": "600", "LEPTON_CLUSTER_DOMAIN": "cluster.local"}


class ServingOperator(Operator):
    """The shared operator process, started (and restarted) with the serving settings."""

    def start(self) -> None:
        # Operator.start passes os.environ on top of its own settings: ours ride along.
        with pytest.MonkeyPatch.context() as env:
            for name, value in SERVING_ENV.items():
                env.setenv(name, value)
            super().start()


@pytest.fixture(scope="module")
def operator(
    kubeconfig: str, lepton_crds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    op = ServingOperator(kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log")
    op.start()
    try:
        yield op
    finally:
        op.stop()
