"""dist/install.yaml as a user applies it: `kubectl apply --server-side -f` on a real API server
accepts every object (CRDs, namespace, RBAC, Service, the operator's Deployment)."""

from __future__ import annotations

import json

import pytest
import yaml

from support.paths import REPO

pytestmark = pytest.mark.integration

DIST = REPO / "dist" / "install.yaml"


def test_install_yaml_applies_server_side(kubectl, lepton_crds):
    documents = [d for d in yaml.safe_load_all(DIST.read_text()) if d]
    # The CRDs are the suite's own (the same files); everything else is removed afterwards.
    others = yaml.safe_dump_all([d for d in documents if d["kind"] != "CustomResourceDefinition"])
    try:
        applied = kubectl("apply", "--server-side", "-f", str(DIST))
        assert "serverside-applied" in applied.stdout, applied.stdout
        deployment = json.loads(
            kubectl("get", "deployment", "lepton-operator", "-n", "lepton-system", "-o", "json").stdout
        )
        spec = deployment["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == "lepton-operator"
        assert spec["securityContext"]["runAsNonRoot"] is True
        again = kubectl("apply", "--server-side", "-f", str(DIST))
        assert "serverside-applied" in again.stdout
    finally:
        kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=others, check=False)
