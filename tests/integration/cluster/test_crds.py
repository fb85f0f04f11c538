"""The committed CRDs install on the real API server and become Established."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client

from support.paths import CRDS_DIR

pytestmark = pytest.mark.integration


def test_lepton_crds_apply_and_become_established(kube, lepton_crds):
    docs = [yaml.safe_load(p.read_text()) for p in sorted(CRDS_DIR.glob("*.yaml"))]
    assert {d["spec"]["names"]["kind"] for d in docs} == {
        "TrainingJob",
        "ModelVersion",
        "InferenceService",
        "ClusterQueue",
    }
    assert {d["spec"]["group"] for d in docs} == {"lepton.ai"}
    assert {v["name"] for d in docs for v in d["spec"]["versions"] if v["served"]} == {"v1alpha1"}
    ext = client.ApiextensionsV1Api(kube)
    for name in lepton_crds:
        conditions = {c.type: c.status for c in ext.read_custom_resource_definition(name).status.conditions}
        assert conditions.get("Established") == "True", (name, conditions)
        assert conditions.get("NamesAccepted") == "True", (name, conditions)
