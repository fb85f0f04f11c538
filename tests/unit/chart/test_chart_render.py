"""charts/lepton renders for the configurations platform teams use, and bad values fail by name."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from lepton.settings import Settings, from_env
from support.chart import CHART, Render, by_kind, one, run_helm
from support.paths import REPO

PEERING = ("--set", "replicas=2", "--set", "peering.enabled=true")
MONITORING = ("--api-versions", "monitoring.coreos.com/v1")


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_helm_lint_passes(helm: str) -> None:
    out = subprocess.run([helm, "lint", str(CHART), "--strict"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_default_values_render_the_operator_without_optional_objects(render: Render) -> None:
    objects = render()
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == [
        "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Deployment", "Pod", "Service",
        "ServiceAccount",
    ]  # fmt: skip
    crds = {o["metadata"]["name"] for o in by_kind(objects, "CustomResourceDefinition")}
    kinds = ("trainingjobs", "modelversions", "inferenceservices", "clusterqueues")
    assert crds == {f"{kind}.lepton.ai" for kind in kinds}
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert env_of(deployment)["LEPTON_PEERING"] == ""
    service = one(objects, "Service")
    assert {p["name"] for p in service["spec"]["ports"]} == {"metrics", "health", "activation"}
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_watch_namespaces_turn_namespaced_rules_into_roles(render: Render) -> None:
    objects = render("--set", "watchNamespaces={team-a,team-b}")
    roles = by_kind(objects, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in by_kind(objects, "RoleBinding")) == ["team-a", "team-b"]
    cluster = {r for rule in one(objects, "ClusterRole")["rules"] for r in rule["resources"]}
    # Only what no Role can grant stays cluster-wide.
    assert cluster == {
        "nodes", "priorityclasses", "customresourcedefinitions", "namespaces", "clusterqueues",
        "gatewayclasses",
    }  # fmt: skip
    assert env_of(one(objects, "Deployment"))["LEPTON_NAMESPACES"] == "team-a,team-b"


def test_replicas_with_peering_ship_crds_peering_object_pdb_and_pod_name(render: Render) -> None:
    objects = render(*PEERING)
    crds = {o["metadata"]["name"] for o in by_kind(objects, "CustomResourceDefinition")}
    assert {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"} <= crds
    assert one(objects, "ClusterKopfPeering")["metadata"]["name"] == "lepton"
    assert one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    env = env_of(one(objects, "Deployment"))
    assert env["LEPTON_PEERING"] == "lepton"
    assert env["LEPTON_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    rules = one(objects, "ClusterRole")["rules"]
    assert {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"],
            "verbs": ["get", "list", "watch", "patch"]} in rules  # fmt: skip


def test_namespaced_peering_uses_a_kopfpeering_per_namespace(render: Render) -> None:
    objects = render(*PEERING, "--set", "watchNamespaces={team-a}")
    assert [p["metadata"]["namespace"] for p in by_kind(objects, "KopfPeering")] == ["team-a"]
    assert not by_kind(objects, "ClusterKopfPeering")
    role_resources = {r for rule in one(objects, "Role")["rules"] for r in rule["resources"]}
    assert "kopfpeerings" in role_resources


def test_monitoring_objects_need_the_capability_and_the_values(render: Render) -> None:
    enabled = ("--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true")
    assert not by_kind(render(*enabled), "ServiceMonitor")  # no Prometheus Operator: nothing to apply
    assert not by_kind(render(*MONITORING), "ServiceMonitor")  # capability, but not asked for
    objects = render(*MONITORING, *enabled)
    endpoint = one(objects, "ServiceMonitor")["spec"]["endpoints"][0]
    assert endpoint["port"] == "metrics"
    # The InferenceService gauges name the service in `namespace`/`service`: the target's must not win.
    assert endpoint["honorLabels"] is True
    rules = one(objects, "PrometheusRule")["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "LeptonOperatorDown", "LeptonReconcileErrors", "LeptonTrainingJobsQueuedTooLong",
    }  # fmt: skip
    # Every lepton metric an alert queries is one the operator exports (Counters gain _total).
    source = (REPO / "operator" / "lepton" / "metrics.py").read_text()
    exported = {f"lepton_operator_{m}" for m in re.findall(r'f"\{PREFIX\}(\w+)"', source)}
    for rule in rules:
        for metric in re.findall(r"lepton_operator_\w+", rule["expr"]):
            assert metric.removesuffix("_total") in exported, metric


def test_image_digest_wins_over_tag_and_registry_prefixes(render: Render) -> None:
    digest = "sha256:" + "a" * 64
    image = lambda objects: one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]  # noqa: E731
    assert image(render()) == "lepton/operator:dev"
    assert (
        image(render("--set", "image.tag=", "--set", "image.registry=ghcr.io"))
        == "ghcr.io/lepton/operator:0.1.0"
    )
    assert (
        image(render("--set", "image.tag=1.2", "--set", f"image.digest={digest}"))
        == f"lepton/operator@{digest}"
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--set-string", "replicas=two"), "/replicas"),
        (("--set", "replicas=two"), "/replicas"),
        (("--set", "image.tag=5"), "/image/tag"),
        (("--set", "colour=blue"), "'colour' not allowed"),
        (("--set", "image.pullPolicy=Sometimes"), "/image/pullPolicy"),
        (("--set", "watchNamespaces={Team_A}"), "/watchNamespaces/0"),
        (("--set", "ports.metrics=70000"), "/ports/metrics"),
        (("--set", "replicas=2"), "replicas: more than 1 needs peering.enabled=true"),
        (("--set", "gpuFaults.hardwareExitCodes={0}"), "/gpuFaults/hardwareExitCodes/0"),
    ],
)
def test_bad_values_fail_naming_the_field(helm: str, args: tuple[str, ...], named: str) -> None:
    out = run_helm(helm, *args)
    assert out.returncode != 0
    assert named in out.stderr


def test_gpu_fault_values_reach_the_operator_as_its_own_defaults(render: Render) -> None:
    env = env_of(one(render(), "Deployment"))
    settings = from_env({k: v for k, v in env.items() if isinstance(v, str)})
    assert settings.gpu_fault_conditions == Settings.gpu_fault_conditions, "chart and operator agree"
    assert settings.hardware_exit_codes == frozenset()
    custom = ("--set", "gpuFaults.conditionTypes={XidError}", "--set", "gpuFaults.hardwareExitCodes={74,201}")
    env = env_of(one(render(*custom), "Deployment"))
    assert (env["LEPTON_GPU_FAULT_CONDITIONS"], env["LEPTON_HARDWARE_EXIT_CODES"]) == ("XidError", "74,201")
