"""Least privilege, proven: the operator runs as the chart's ServiceAccount (its token, the RBAC that
`helm install` made) through a slice of the integration suite, and the API server's audit log shows
that no request of that account was refused and that every (resource, verb) the chart grants was
used, save the listed exceptions. The local cluster always logs service accounts' requests."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest
import yaml
from chartkit import CHART, values_file
from rbackit import audit_events, denied, granted, token_kubeconfig, used

from support.operator import running_operator
from support.paths import REPO
from support.ports import free_port
from support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

RELEASE = NAMESPACE = "lepton-rbac"
ACCOUNT = "lepton-operator"
USER = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
VALUES = {"autoscaler": {"readSecrets": True}}
# Training (gang admission, failures, restarts, TTL), ModelVersions and their verification Jobs,
# InferenceServices (rollouts, versions, scale to zero and back through the activation endpoint).
SLICE = [
    "tests/integration/trainingjob/test_tj_failures.py",
    # The finalizer an earlier release put on TrainingJobs removed (trainingjobs patch).
    "tests/integration/trainingjob/test_tj_job_writes.py",
    "tests/integration/serving/test_modelversion_verify.py",
    "tests/integration/serving/test_inferenceservice_versions.py",
    "tests/integration/serving/test_scale_to_zero.py",
    # Canary rollouts: the HTTPRoute, per-version Services created and deleted.
    "tests/integration/serving/test_rollout_gateway.py",
    # Shadow traffic: the Gateway and its class read, Traefik's TraefikService applied and deleted.
    "tests/integration/serving/test_rollout_mirror.py",
    # spec.networkPolicy: the NetworkPolicy watched, read, applied, deleted.
    "tests/integration/serving/test_inferenceservice_networkpolicy.py",
    # A server pod that does not start: its Events listed (events list).
    "tests/integration/serving/test_inferenceservice_pod_start.py",
]
# Granted but not used in this run, each with its reason (the same reasons are in _rbac_rules.tpl).
UNUSED_ALLOWED = {
    ("scheduling.volcano.sh", "podgroups", "create"): "only where Volcano serves its PodGroup API",
    ("scheduling.x-k8s.io", "podgroups", "create"): "only where the coscheduler plugin's API is served",
    # Server-side apply that creates an object is authorized as create but audited as patch.
    ("apps", "deployments", "create"): "authorizes the first server-side apply (audited as patch)",
    (
        "gateway.networking.k8s.io",
        "httproutes",
        "create",
    ): "authorizes the first server-side apply (audited as patch)",
    (
        "gateway.networking.k8s.io",
        "httproutes",
        "delete",
    ): "only when spec.traffic is removed, not in the slice",
    ("networking.k8s.io", "networkpolicies", "create"): "the first server-side apply (audited as patch)",
    ("traefik.io", "traefikservices", "create"): "the first server-side apply (audited as patch)",
    # Not driven by this slice (its TrainingJobs record no model; the serving tests create
    # ModelVersions as admin): a gap of the slice, not of the chart.
    ("lepton.ai", "modelversions", "create"): "a succeeded TrainingJob with spec.output, not in the slice",
}


@pytest.fixture(scope="module")
def audit_log(cluster):
    path = cluster.config.state_dir / "audit.log"
    assert path.exists(), f"no audit log at {path}: the cluster predates it; restart it (make cluster-down)"
    return path


@pytest.fixture(scope="module")
def chart_account(helm, kubectl, kubeconfig, lepton_crds, audit_log, tmp_path_factory):
    """The chart installed (its RBAC and ServiceAccount), a kubeconfig as that account, and where
    the audit log stood before it acted."""
    directory = tmp_path_factory.mktemp("rbac")
    helm(
        "install",
        RELEASE,
        str(CHART),
        "-n",
        NAMESPACE,
        "--create-namespace",
        "-f",
        values_file(directory, "values", VALUES),
        "--wait",
    )
    try:
        config = token_kubeconfig(kubectl, kubeconfig, NAMESPACE, ACCOUNT, directory / "kubeconfig")
        yield str(config), audit_log.stat().st_size
    finally:
        helm.uninstall(RELEASE, NAMESPACE)


def inference_service(name: str, prometheus: str) -> dict:
    return {
        "apiVersion": "lepton.ai/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {
            "model": {"name": "absent", "version": "latest"},
            "server": {"image": "lepton/server:dev"},
            "autoscaling": {
                "maxReplicas": 3,
                "target": 5,
                "prometheusUrl": prometheus,
                "prometheusAuth": {
                    "bearerTokenSecret": {"name": "prom-token", "key": "token"},
                    "ca": {"configMap": {"name": "prom-ca", "key": "ca.crt"}},
                },
            },
        },
    }


def test_the_operator_reads_the_token_secret_and_never_logs_it(
    chart_account, cluster, kubectl, namespace, audit_log, tmp_path
):
    config, offset = chart_account
    token = secrets.token_hex(24)
    kubectl("create", "secret", "generic", "prom-token", "-n", namespace, f"--from-literal=token={token}")
    ca = cluster.config.pki / "ca.crt"
    kubectl("create", "configmap", "prom-ca", "-n", namespace, f"--from-file=ca.crt={ca}")
    log = tmp_path / "operator.log"
    service = inference_service("secured", f"https://127.0.0.1:{free_port()}")
    with running_operator(config, log, {"LEPTON_AUTOSCALE_INTERVAL_SECONDS": "1"}):
        kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(service))

        def secret_reads():
            return [
                e for e in audit_events(audit_log, offset, USER) if e["objectRef"]["resource"] == "secrets"
            ]

        wait_for(
            secret_reads,
            timeout=60,
            what="the operator to read the token Secret",
            seen=log.read_text,
        )
        assert {e["responseStatus"]["code"] for e in secret_reads()} == {200}
    text = log.read_text(errors="replace")
    assert "operator started" in text
    assert token not in text, "the operator logged the Prometheus bearer token"


def test_the_chart_account_is_enough_and_all_of_it_is_used(chart_account, helm, audit_log, tmp_path):
    config, offset = chart_account
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "integration", "-q", "-p", "no:cacheprovider", *SLICE],
        cwd=REPO,
        env={**os.environ, "LEPTON_OPERATOR_KUBECONFIG": config},
        capture_output=True,
        text=True,
        timeout=1400,
        check=False,
    )
    assert done.returncode == 0, f"the slice failed as the chart's account:\n{done.stdout[-6000:]}"
    events = audit_events(audit_log, offset, USER)
    assert events, "no request of the chart's account in the audit log"
    assert denied(events) == [], "requests the chart's RBAC refused"
    rendered = [
        d
        for d in yaml.safe_load_all(
            helm.template(CHART, NAMESPACE, "-f", values_file(tmp_path, "values", VALUES))
        )
        if d
    ]
    grants, seen = granted(rendered), used(events)
    unused = sorted(grants - set(seen))
    report = {
        "granted": len(grants),
        "used": len(grants & set(seen)),
        "requests": len(events),
        "unused": unused,
        "used_counts": {"/".join(g): n for g, n in sorted(seen.items())},
    }
    print(json.dumps(report, indent=1))  # the figures (pytest -s); also in the failure message below
    assert set(unused) <= set(UNUSED_ALLOWED), (
        f"granted, never used: {sorted(set(unused) - set(UNUSED_ALLOWED))}; {report}"
    )
    assert set(seen) <= grants
