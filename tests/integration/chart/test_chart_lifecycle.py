"""The chart's life after `helm install`: an upgrade from the previous chart version (the CRDs by the
documented step, since Helm never upgrades crds/; the Deployment rolls to the new template), and
`helm uninstall`, which must keep the CRDs and the users' objects. KWOK runs the operator's pods as
Running and Ready fake pods, so `--wait` means here what it means on a real cluster."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import yaml
from chartkit import CHART, CRD_NAMES, chart_at, crd_files, crd_schemas, deployment, values_file

from support.paths import REPO
from support.wait import wait_for

pytestmark = pytest.mark.integration

# The chart before the peering pods' POD_ID (kopf's peer id) and the current CRD schemas.
PREVIOUS = "8f68e96"
HA = {"replicas": 2, "peering": {"enabled": True}}


def documented_crd_upgrade() -> list[str]:
    """The CRD step of docs/quickstart.md's upgrade instructions, as a user copies it."""
    text = (REPO / "docs" / "quickstart.md").read_text()
    line = re.search(r"^\s*(kubectl apply --server-side \S.* -f charts/lepton/crds/)$", text, re.M)
    assert line, "docs/quickstart.md no longer says how to upgrade the CRDs"
    return shlex.split(line.group(1))[1:]


def container_env(dep):
    return {e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}


def rolled_out(dep) -> bool:
    status = dep.get("status", {})
    want = dep["spec"]["replicas"]
    return (
        status.get("observedGeneration") == dep["metadata"]["generation"]
        and status.get("updatedReplicas") == want
        and status.get("readyReplicas") == want
        and status.get("replicas") == want
    )


@pytest.fixture
def without_crds(kubectl, lepton_crds):
    """A cluster that never had Lepton, so the previous chart's `helm install` creates the CRDs as it
    would (field manager helm); the suite's own CRDs are put back afterwards."""
    # Objects that earlier modules left in terminating namespaces keep kopf's finalizer once their
    # operator has stopped, and a CRD is not deleted while one of its objects is: drop them first
    # (the suite runs serially, so no running test owns any of them).
    listed = kubectl("get", ",".join(CRD_NAMES), "-A", "-o", "json", check=False)
    leftovers = json.loads(listed.stdout)["items"] if listed.returncode == 0 else []
    for item in leftovers:
        meta = item["metadata"]
        if meta.get("finalizers"):
            where = ["-n", meta["namespace"]] if meta.get("namespace") else []
            patch = ["--type=merge", "-p", '{"metadata":{"finalizers":null}}']
            kubectl("patch", item["kind"].lower(), meta["name"], *where, *patch, check=False)
    kubectl("delete", "crd", *CRD_NAMES, "--ignore-not-found", "--wait=true", timeout=120)
    yield
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CHART / "crds"))
    wait_for(
        lambda: kubectl("get", "tj,mv,lisvc", "-A", "-o", "name", check=False).returncode == 0,
        timeout=60,
        what="the suite's CRDs back in discovery",
    )


def test_upgrade_from_the_previous_chart(helm, kubectl, without_crds, tmp_path):
    release, ns = "lepton-up", "lepton-upgrade"
    previous = chart_at(PREVIOUS, tmp_path / "previous")
    assert crd_files(previous) != crd_files(CHART), f"the CRDs did not change since {PREVIOUS}"
    values = values_file(tmp_path, "values", HA)
    try:
        helm("install", release, str(previous), "-n", ns, "--create-namespace", "-f", values, "--wait")
        before = deployment(kubectl, ns)
        assert "POD_ID" not in container_env(before)
        assert crd_schemas(kubectl) == crd_files(previous)

        upgraded = helm("upgrade", release, str(CHART), "-n", ns, "-f", values, "--wait", "--timeout", "3m")
        assert "STATUS: deployed" in upgraded.stdout, upgraded.stdout
        assert "REVISION: 2" in upgraded.stdout, upgraded.stdout
        after = deployment(kubectl, ns)
        assert after["metadata"]["generation"] > before["metadata"]["generation"]
        assert "POD_ID" in container_env(after)
        assert rolled_out(after), after.get("status")
        pods = json.loads(kubectl("get", "pods", "-n", ns, "-o", "json").stdout)["items"]
        running = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        assert len(running) == 2
        assert all("POD_ID" in container_env({"spec": {"template": p}}) for p in running)

        # Helm never upgrades crds/: the stored CRDs are still the previous chart's...
        assert crd_schemas(kubectl) == crd_files(previous), "helm upgrade changed the CRDs after all"
        # ...until the documented step applies the new ones over the fields Helm's create owns.
        kubectl(*documented_crd_upgrade(), timeout=120)
        assert crd_schemas(kubectl) == crd_files(CHART)
        managers = json.loads(
            kubectl("get", "crd", CRD_NAMES[0], "--show-managed-fields", "-o", "json").stdout
        )
        assert {"helm", "kubectl"} <= {m["manager"] for m in managers["metadata"]["managedFields"]}
    finally:
        helm.uninstall(release, ns)
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_uninstall_keeps_the_crds_and_the_users_objects(helm, kubectl, lepton_crds, namespace, tmp_path):
    release, ns = "lepton-un", "lepton-uninstall"
    helm("install", release, str(CHART), "-n", ns, "--create-namespace", "--wait")
    try:
        created = {}
        for example in ("trainingjob-cpu.yaml", "inferenceservice.yaml"):
            manifest = yaml.safe_load((REPO / "examples" / example).read_text())
            kubectl("apply", "--server-side", "-n", namespace, "-f", str(REPO / "examples" / example))
            kind, name = manifest["kind"].lower(), manifest["metadata"]["name"]
            got = json.loads(kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)
            created[(kind, name)] = got["metadata"]["uid"], got["spec"]

        helm("uninstall", release, "-n", ns, "--wait")

        # The release is gone...
        assert kubectl("get", "deployment", "lepton-operator", "-n", ns, check=False).returncode != 0
        assert kubectl("get", "clusterrole", "lepton-operator", check=False).returncode != 0
        # ...but not the CRDs nor what users made with them.
        kubectl("get", "crd", *CRD_NAMES)
        for (kind, name), (uid, spec) in created.items():
            got = json.loads(kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)
            assert got["metadata"]["uid"] == uid, f"{kind}/{name} was recreated"
            assert got["spec"] == spec, f"{kind}/{name} changed"
            assert not got["metadata"].get("deletionTimestamp"), f"{kind}/{name} is being deleted"
    finally:
        helm.uninstall(release, ns)
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
