"""`helm template` of the chart, applied with `kubectl apply --dry-run=server`: the API server
(admission, the CRDs' and core/v1's schemas, RBAC's escalation check) accepts every object the
chart renders, with default values and with the HA, namespaced values platform teams set."""

from __future__ import annotations

import json

import pytest
import yaml
from chartkit import CHART, values_file

from support.wait import wait_for

pytestmark = pytest.mark.integration

NAMESPACE = "lepton-dry-run"
HA_NAMESPACED = {
    "replicas": 2,
    "peering": {"enabled": True},
    "watchNamespaces": ["team-a", "team-b"],
    "autoscaler": {"readSecrets": True},
}


def _established(kubectl, names):
    out = json.loads(kubectl("get", "crd", *names, "-o", "json").stdout)["items"]
    return all(
        any(c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"])
        for crd in out
    )


@pytest.mark.parametrize(
    ("case", "values"),
    [("defaults", {}), ("ha", HA_NAMESPACED)],
    ids=["defaults", "replicas2-peering-namespaced"],
)
def test_rendered_chart_passes_server_side_dry_run(helm, kubectl, lepton_crds, tmp_path, case, values):
    # The namespaces must exist for namespaced objects to be validated (they are not in the chart).
    # One release namespace per case: the other case's may still be terminating.
    release = f"{NAMESPACE}-{case}"
    namespaces = [release, *values.get("watchNamespaces", [])]
    for namespace in namespaces:
        kubectl("create", "namespace", namespace, check=False)
    rendered = helm.template(CHART, release, "--include-crds", "-f", values_file(tmp_path, "values", values))
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    crds = [d for d in documents if d["kind"] == "CustomResourceDefinition"]
    names = [d["metadata"]["name"] for d in crds]
    # A dry run creates nothing, so custom objects (the KopfPeerings) can only be checked against
    # CRDs that exist: the CRDs go in for real first, as Helm installs crds/ before the templates.
    missing = [n for n in names if kubectl("get", "crd", n, check=False).returncode != 0]
    try:
        kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(crds))
        wait_for(lambda: _established(kubectl, names), timeout=60, what="the chart's CRDs Established")
        others = yaml.safe_dump_all([d for d in documents if d["kind"] != "CustomResourceDefinition"])
        applied = kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=others)
    finally:
        if missing:
            kubectl("delete", "crd", *missing, "--wait=true", check=False, timeout=120)
        kubectl("delete", "namespace", *namespaces, "--wait=false", check=False)
    lines = applied.stdout.splitlines()
    # kubectl exits non-zero on any refused object; every rendered one (helm test's Pod too) answered.
    assert len(lines) == len(documents) - len(crds), applied.stdout
    assert all("serverside-applied (server dry run)" in line for line in lines), applied.stdout
    kinds = sorted(line.split("/")[0] for line in lines)
    expected = {"deployment.apps", "clusterrole.rbac.authorization.k8s.io", "serviceaccount"}
    assert expected <= set(kinds), kinds
    if values.get("watchNamespaces"):
        assert kinds.count("role.rbac.authorization.k8s.io") == 2, kinds
        assert kinds.count("kopfpeering.kopf.dev") == 2, kinds
        assert "poddisruptionbudget.policy" in kinds, kinds
