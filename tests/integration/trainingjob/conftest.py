"""The operator under test (`python -m lepton`, tests/support/operator.py) with the CRDs applied.
Module-scoped: one operator per test module, restartable by tests that kill it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
