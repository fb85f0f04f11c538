"""helm against the local simulated cluster: releases of charts/lepton (or of an older copy of it)
installed, upgraded and uninstalled, and what the tests compare between chart versions."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.kube import Kubectl
from support.paths import REPO

CHART = REPO / "charts" / "lepton"
CRD_NAMES = (
    "trainingjobs.lepton.ai",
    "modelversions.lepton.ai",
    "inferenceservices.lepton.ai",
    "clusterqueues.lepton.ai",
)


@dataclass(frozen=True)
class Helm:
    binary: str
    kubeconfig: str

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.binary, "--kubeconfig", self.kubeconfig, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return done

    def template(self, chart: Path, namespace: str, *args: str) -> str:
        return self("template", "lepton", str(chart), "-n", namespace, *args).stdout

    def uninstall(self, release: str, namespace: str) -> None:
        self("uninstall", release, "-n", namespace, "--wait", "--ignore-not-found", check=False)


def values_file(directory: Path, name: str, values: dict[str, Any]) -> str:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def chart_at(commit: str, directory: Path) -> Path:
    """charts/lepton as it was at ``commit`` (git archive), unpacked under ``directory``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "charts/lepton"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    return directory / "charts" / "lepton"


def crd_schemas(kubectl: Kubectl) -> dict[str, Any]:
    """The served CRDs' versions (schemas included), by name: what an upgrade must change."""
    # A chart older than a kind (ClusterQueue came after 8f68e96) has no CRD for it.
    out = json.loads(
        kubectl("get", "crd", *CRD_NAMES, "--ignore-not-found", "-o", "json").stdout or '{"items": []}'
    )
    return {item["metadata"]["name"]: item["spec"]["versions"] for item in out["items"]}


def crd_files(chart: Path) -> dict[str, Any]:
    """The chart's crds/ files' versions by CRD name, as the API server stores them (defaults aside)."""
    found = {}
    for path in sorted((chart / "crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                found[doc["metadata"]["name"]] = doc["spec"]["versions"]
    return found


def deployment(kubectl: Kubectl, namespace: str, name: str = "lepton-operator") -> dict[str, Any]:
    return dict(json.loads(kubectl("get", "deployment", name, "-n", namespace, "-o", "json").stdout))
