"""The operator the fuzz tests run against: kopf at debug level and in JSON, so every handler call is
in its log with the object it was for (what the hot-loop bound counts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.operator import Operator, running_operator


@pytest.fixture(scope="module")
def fuzz_operator(
    kubeconfig: str, lepton_crds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log = tmp_path_factory.mktemp("fuzz-operator") / "operator.log"
    env = {
        "LEPTON_LOG_LEVEL": "debug",
        "LEPTON_LOG_FORMAT": "json",
        "LEPTON_VERIFY_TTL_SECONDS": "600",
        "LEPTON_RESYNC_SECONDS": "30",
    }
    with running_operator(kubeconfig, log, env) as op:
        yield op
