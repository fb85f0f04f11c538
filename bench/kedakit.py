"""KEDA's operator and metrics API server run on the host against a local cluster, for
bench_autoscaling.py: the binaries e2e/tools/keda/build.sh built, their certificates, the cluster
objects the Helm chart would install beside the pods, and a Deployment with its ScaledObject.

KEDA's metrics API server is reached by the HPA controller through the API server's aggregation
layer. The local cluster's kube-apiserver has no --proxy-client-cert-file, so the aggregator calls
it without a client certificate: the requests arrive anonymous, and keda_cluster_objects grants
system:anonymous read access to external.metrics.k8s.io on the benchmark's own cluster (see
bench/README-autoscaling.md). The caller puts e2e/ and tests/ on sys.path (as the benchmarks do).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from localcluster import procs
from localcluster.config import Config
from support.kube import Kubectl
from support.ports import free_port
from support.wait import wait_for

KEDA_VERSION = "v2.21.0"  # the pin in e2e/tools/keda (build.sh, go.mod)
BUILD = Path(__file__).resolve().parent.parent / "e2e" / "tools" / "keda" / "build.sh"

# Documented loop periods, for when KEDA cannot run here (keda.sh/docs/2.21/reference/scaledobject-spec,
# kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager).
KEDA_DOCUMENTED = {
    "source": "documented defaults, NOT measured",
    "keda_polling_interval_s": 30,
    "hpa_sync_period_s": 15,
    "from_zero_decision_s": "up to 30 (KEDA's polling loop activates 0 -> 1)",
    "active_decision_s": "up to 15 (HPA sync) plus the metric's lag; ~15-30 s in practice",
    "worst_case_s": "up to ~45 (30 s polling + 15 s HPA sync)",
}


def keda_bin() -> Path | None:
    """The built binaries, or None (with the reason printed) when e2e/tools/keda/build.sh has not
    built them: this benchmark does not start a 15-30 min build itself."""
    out = subprocess.run([str(BUILD), "--print"], capture_output=True, text=True, check=False)
    path = Path(out.stdout.strip())
    if out.returncode == 0 and (path / "keda").is_file() and (path / "keda-adapter").is_file():
        return path
    print(f"KEDA not built (no binaries in {path}); run {BUILD}", file=sys.stderr)
    return None


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def keda_certs(home: Path) -> Path:
    """ca.crt, tls.crt and tls.key as KEDA mounts them at /certs: the operator's gRPC metrics
    service and the adapter use them for mutual TLS on 127.0.0.1, the adapter also to serve."""
    certs = home / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(certs / "ca.key"))
    openssl("req", "-x509", "-new", "-key", str(certs / "ca.key"), "-subj", "/CN=keda-bench-ca",
            "-days", "2", "-out", str(certs / "ca.crt"))  # fmt: skip
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(certs / "tls.key"))
    openssl(
        "req", "-new", "-key", str(certs / "tls.key"), "-subj", "/CN=keda", "-out", str(certs / "tls.csr")
    )
    (certs / "tls.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:keda-operator.keda.svc,"
        "DNS:keda-metrics-apiserver.keda.svc\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    openssl("x509", "-req", "-in", str(certs / "tls.csr"), "-CA", str(certs / "ca.crt"),
            "-CAkey", str(certs / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(certs / "tls.ext"), "-out", str(certs / "tls.crt"))  # fmt: skip
    return certs


def keda_cluster_objects(adapter_port: int) -> list[dict[str, Any]]:
    """What the Helm chart would install beside the pods, for host processes: the namespace, the
    APIService pointing (through an ExternalName Service, which the aggregator resolves by name) at
    the adapter on 127.0.0.1, and the anonymous read access the aggregator's unauthenticated calls
    need (see the module docstring)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keda"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "keda-metrics-apiserver", "namespace": "keda"},
            "spec": {"type": "ExternalName", "externalName": "localhost", "ports": [{"port": adapter_port}]},
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
            "spec": {
                "group": "external.metrics.k8s.io",
                "version": "v1beta1",
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
                "insecureSkipTLSVerify": True,
                "service": {"name": "keda-metrics-apiserver", "namespace": "keda", "port": adapter_port},
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "bench-external-metrics-anonymous"},
            "rules": [
                {"apiGroups": ["external.metrics.k8s.io"], "resources": ["*"], "verbs": ["get", "list"]},
                {"nonResourceURLs": ["/apis", "/apis/*", "/openapi", "/openapi/*"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "bench-external-metrics-anonymous"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "bench-external-metrics-anonymous",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}
            ],
        },
    ]


@dataclass
class KedaRun:
    adapter_port: int
    error: str | None = None


def start_keda(cfg: Config, kubectl: Kubectl, bin_dir: Path) -> KedaRun:
    """KEDA's CRDs, cluster objects, operator and metrics API server (pid files in the cluster's run
    dir, so `localcluster down` stops them too); waits until the APIService is Available."""
    run = KedaRun(adapter_port=free_port())
    home = cfg.state_dir / "keda"
    certs = keda_certs(home)
    crds = subprocess.run([str(BUILD), "--crds"], capture_output=True, text=True, check=True).stdout.strip()
    kubectl("apply", "--server-side", "--force-conflicts", "-f", crds)
    # The operator's watches start once: CRDs not yet Established make its first start log errors.
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", crds, timeout=90)
    objects = {"apiVersion": "v1", "kind": "List", "items": keda_cluster_objects(run.adapter_port)}
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(objects))
    grpc = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "KUBECONFIG": str(cfg.kubeconfig),
        "WATCH_NAMESPACE": "",
        "POD_NAMESPACE": "keda",
        "KEDA_CLUSTER_OBJECT_NAMESPACE": "keda",
    }
    procs.start(cfg.run, cfg.logs, "keda-operator", [
        str(bin_dir / "keda"),
        f"--metrics-bind-address=127.0.0.1:{free_port()}",
        f"--health-probe-bind-address=127.0.0.1:{free_port()}",
        f"--metrics-service-bind-address={grpc}",
        f"--cert-dir={certs}",
        "--enable-webhook-patching=false",
        "--enable-apiservice-patching=false",
        "--zap-log-level=info",
    ], env)  # fmt: skip
    procs.start(cfg.run, cfg.logs, "keda-adapter", [
        str(bin_dir / "keda-adapter"),
        f"--secure-port={run.adapter_port}",
        "--bind-address=127.0.0.1",
        f"--cert-dir={certs}",
        f"--tls-cert-file={certs / 'tls.crt'}",
        f"--tls-private-key-file={certs / 'tls.key'}",
        f"--metrics-service-address={grpc}",
        f"--port={free_port()}",
        f"--lister-kubeconfig={cfg.kubeconfig}",
        f"--authentication-kubeconfig={cfg.kubeconfig}",
        f"--authorization-kubeconfig={cfg.kubeconfig}",
    ], env)  # fmt: skip
    registration = client.ApiregistrationV1Api()

    def available() -> bool:
        for name in ("keda-operator", "keda-adapter"):
            pid = procs.read_pid(cfg.run, name)
            if pid is None or not procs.alive(pid):
                raise RuntimeError(f"{name} exited:\n{procs.tail(cfg.logs / f'{name}.log', 25)}")
        conditions = registration.read_api_service("v1beta1.external.metrics.k8s.io").status.conditions or []
        return any(c.type == "Available" and c.status == "True" for c in conditions)

    def seen() -> object:
        svc = registration.read_api_service("v1beta1.external.metrics.k8s.io")
        return [(c.type, c.status, c.message) for c in svc.status.conditions or []]

    try:
        wait_for(available, 120, "KEDA's external metrics APIService to be Available", seen=seen)
    except (AssertionError, RuntimeError) as exc:
        run.error = str(exc)
    return run


def keda_objects(
    name: str,
    namespace: str,
    *,
    pod_labels: dict[str, str],
    requests: dict[str, str],
    prometheus: str,
    query: str,
    target: float,
    max_replicas: int,
    down_window: int,
) -> list[dict[str, Any]]:
    """A plain Deployment `name` (one container with `requests`, the shape of Lepton's server
    Deployment; its pods also get `pod_labels`) and its ScaledObject with KEDA's defaults but the
    given scaleDown window, reading `query` from the Prometheus at `prometheus`."""
    labels = {"app": name, **pod_labels}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "server",
                            "image": "lepton/server:test",
                            "ports": [{"containerPort": 8080}],
                            "resources": {"requests": requests},
                        }
                    ],
                },
            },
        },
    }
    scaled = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"name": name},
            "minReplicaCount": 1,
            "maxReplicaCount": max_replicas,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": down_window}}
                }
            },
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {"serverAddress": prometheus, "query": query, "threshold": f"{target:g}"},
                }
            ],
        },
    }
    return [deployment, scaled]
