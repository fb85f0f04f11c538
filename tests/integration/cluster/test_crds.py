"""The committed CRDs install on the real API server and become Established."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client
from support.wait import wait_for

pytestmark = pytest.mark.integration

CRDS = Path(__file__).resolve().parents[3] / "crds"


def test_lepton_crds_apply_and_become_established(kube, kubectl):
    docs = [yaml.safe_load(p.read_text()) for p in sorted(CRDS.glob("*.yaml"))]
    kinds = {d["spec"]["names"]["kind"]: d["metadata"]["name"] for d in docs}
    assert set(kinds) == {"TrainingJob", "ModelVersion", "InferenceService"}
    assert {d["spec"]["group"] for d in docs} == {"lepton.ai"}
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    ext = client.ApiextensionsV1Api(kube)

    def established() -> dict[str, bool]:
        return {
            name: any(c.type == "Established" and c.status == "True"
                      for c in ext.read_custom_resource_definition(name).status.conditions or [])
            for name in kinds.values()
        }

    wait_for(lambda: all(established().values()), timeout=30, what="all Lepton CRDs Established", seen=established)
    served = {v.name for d in docs for v in d["spec"]["versions"] if v["served"]}
    assert served == {"v1alpha1"}
