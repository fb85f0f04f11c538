"""Session fixture installing the generated Lepton CRDs (crds/*.yaml) and waiting until the API server
serves them. Candidate for tests/integration/conftest.py so that every suite can depend on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.wait import wait_for

CRDS_DIR = Path(__file__).resolve().parents[3] / "crds"
RESOURCES = ("trainingjobs.lepton.ai", "modelversions.lepton.ai", "inferenceservices.lepton.ai")


@pytest.fixture(scope="session")
def lepton_crds(kubectl) -> list[str]:
    """Apply crds/*.yaml server-side, wait for Established and for discovery to list the kinds."""
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS_DIR))

    def established() -> dict[str, bool]:
        out = kubectl("get", "crd", *RESOURCES, "-o", "json").stdout
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
    return list(RESOURCES)
