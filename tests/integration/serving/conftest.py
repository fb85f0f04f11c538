"""The operator under test for the serving controllers: one per module, with annotations of the
sim.lepton.ai/ prefix copied from ModelVersions onto their verification pods so each test steers
its own simulated verification."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from support.operator import Operator

SERVING_ENV = {
    "LEPTON_POD_ANNOTATION_PREFIXES": "sim.lepton.ai/",
    "LEPTON_VERIFY_TOLERATIONS": json.dumps(
        [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]
    ),
    "LEPTON_VERIFY_TTL_SECONDS": "600",
}


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
