"""Least privilege and the restricted Pod Security profile, as rendered."""

from __future__ import annotations

from typing import Any

import pytest

from support.chart import Render, by_kind, one


def assert_restricted(pod_spec: dict[str, Any]) -> None:
    """The restricted profile (https://kubernetes.io/docs/concepts/security/pod-security-standards/)."""
    pod = pod_spec.get("securityContext", {})
    assert pod.get("runAsNonRoot") is True
    assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert not pod_spec.get("hostPID")
    assert not pod_spec.get("hostIPC")
    for c in pod_spec["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert not sc["capabilities"].get("add")
        assert sc["readOnlyRootFilesystem"] is True
        assert not sc.get("privileged")
    for volume in pod_spec.get("volumes", []):
        assert set(volume) - {"name"} <= {"emptyDir", "configMap", "secret", "projected", "downwardAPI"}


def test_operator_and_test_pods_meet_the_restricted_profile(render: Render) -> None:
    objects = render()
    assert_restricted(one(objects, "Deployment")["spec"]["template"]["spec"])
    test_pod = one(objects, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert_restricted(test_pod["spec"])
    # The helm test probes /healthz through the Service, not the pod.
    assert (
        test_pod["spec"]["containers"][0]["args"][-1]
        == "http://lepton-operator.lepton-system.svc:8081/healthz"
    )


def rules_of(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


# What operator/lepton does (kube/resources.py and kube/apply.py calls, kopf indices and watches).
EXPECTED = {
    ("lepton.ai", "trainingjobs"): {"list", "watch", "patch", "delete"},
    ("lepton.ai", "modelversions"): {"list", "watch", "patch", "create"},
    ("lepton.ai", "inferenceservices"): {"list", "watch", "patch"},
    ("lepton.ai", "trainingjobs/status"): {"patch"},
    ("lepton.ai", "modelversions/status"): {"patch"},
    ("lepton.ai", "inferenceservices/status"): {"patch"},
    ("", "pods"): {"list", "watch", "create", "delete"},
    ("", "services"): {"get", "list", "watch", "create", "patch", "delete"},
    ("gateway.networking.k8s.io", "httproutes"): {"get", "create", "patch", "delete"},
    ("gateway.networking.k8s.io", "gateways"): {"get"},
    ("gateway.networking.k8s.io", "gatewayclasses"): {"get"},
    ("traefik.io", "traefikservices"): {"get", "create", "patch", "delete"},
    ("apps", "deployments"): {"list", "watch", "create", "patch", "delete"},
    ("networking.k8s.io", "networkpolicies"): {"get", "list", "watch", "create", "patch", "delete"},
    ("batch", "jobs"): {"list", "watch", "create"},
    ("scheduling.volcano.sh", "podgroups"): {"create"},
    ("scheduling.x-k8s.io", "podgroups"): {"create"},
    ("", "events"): {"create", "list"},  # list: the kubelet's Events of a pod that does not start
    ("", "configmaps"): {"get"},
    ("", "resourcequotas"): {"list", "watch"},
    ("lepton.ai", "clusterqueues"): {"list", "watch"},
    ("", "nodes"): {"list", "watch"},
    ("scheduling.k8s.io", "priorityclasses"): {"list", "watch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
}


def test_cluster_role_grants_exactly_what_the_operator_uses(render: Render) -> None:
    granted = rules_of(one(render(), "ClusterRole"))
    assert granted == EXPECTED
    assert all("*" not in verbs for verbs in granted.values())


@pytest.mark.parametrize("args", [(), ("--set", "watchNamespaces={team-a}")])
def test_nothing_grants_secrets_or_wildcards(render: Render, args: tuple[str, ...]) -> None:
    for role in by_kind(render(*args), "ClusterRole") + by_kind(render(*args), "Role"):
        for (group, resource), verbs in rules_of(role).items():
            assert resource not in ("secrets", "*"), (group, resource)
            assert group != "*"
            assert "*" not in verbs


def test_secrets_are_read_only_when_the_values_allow_it(render: Render) -> None:
    """spec.autoscaling.prometheusAuth may name a Secret; reading Secrets is opt-in."""
    roles = by_kind(render("--set", "autoscaler.readSecrets=true"), "ClusterRole")
    granted = {key: verbs for role in roles for key, verbs in rules_of(role).items()}
    assert granted[("", "secrets")] == {"get"}
