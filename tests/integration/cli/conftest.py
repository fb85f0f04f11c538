"""The `lepton` command and the Python client against the local cluster, with the operator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.operator import Operator, running_operator

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def operator(
    kubeconfig: str, lepton_crds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    env = {"LEPTON_VERIFY_TTL_SECONDS": "600", "LEPTON_CLUSTER_DOMAIN": "cluster.local"}
    with running_operator(kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log", env) as op:
        yield op


@dataclass
class Lepton:
    """Runs `python -m lepton.cli` as a user would, in one namespace."""

    kubeconfig: str
    namespace: str
    cwd: Path

    def __call__(
        self, *args: str, timeout: float = 120, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        env.pop("LEPTON_TOKEN", None)
        return subprocess.run(
            [sys.executable, "-m", "lepton.cli", "-n", self.namespace, *args],
            env=env, cwd=self.cwd, capture_output=True, text=True, timeout=timeout, input=stdin, check=False,
        )  # fmt: skip

    def json(self, *args: str) -> Any:
        done = self(*args, "-o", "json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture
def lepton(kubeconfig: str, lepton_crds: list[str], namespace: str, tmp_path: Path) -> Lepton:
    """The command, with the CRDs installed (tests that need no operator still create objects)."""
    return Lepton(kubeconfig, namespace, tmp_path)


@pytest.fixture
def namespaced_kubeconfig(kubeconfig: str, namespace: str, tmp_path: Path) -> Path:
    """A copy of the kubeconfig whose context defaults to the test's namespace, as a user's would."""
    config = json.loads(Path(kubeconfig).read_text())
    for context in config["contexts"]:
        context["context"]["namespace"] = namespace
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return path
