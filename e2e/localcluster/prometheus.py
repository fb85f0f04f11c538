"""A real Prometheus server (the pinned v3.5 build) on loopback that finds annotated pods itself, as
in real clusters.

Two ways in:

- job ``kubernetes-pods``: Kubernetes service discovery (role pod) against the local API server, with
  Prometheus's own client identity (``lepton:prometheus``, RBAC to list and watch pods and nodes). It
  scrapes every pod annotated ``prometheus.io/scrape: "true"`` at ``<pod IP>:<prometheus.io/port>``
  ``<prometheus.io/path>`` (the annotations the operator puts on model-server pods), so a replica the
  autoscaler adds is scraped without anyone telling Prometheus. Label convention, on every sample:
  ``namespace`` (the pod's namespace), ``pod`` (the pod's name) and ``service`` (the pod's
  ``lepton.ai/inferenceservice`` label, absent on other pods: the name the autoscaler's queries and
  the ``{{service}}`` placeholder use, lepton.prom.queries). ``model`` and ``version`` are not
  added: the model server's own metrics already carry them.
  Pods on KWOK nodes (node label ``lepton.ai/node-kind=simulated``) are dropped: their IPs are fake
  (KWOK's --cidr) and route nowhere, so every scrape would wait out its timeout and add an
  ``up == 0`` series per simulated pod.
- job ``file-sd``: tests that start processes on loopback add a target by writing
  ``targets/<name>.json``: ``[{"targets": [...], "labels": {...}}]``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

from . import pki
from .config import E2E_DIR, Config
from .procs import ClusterError

USER = "lepton:prometheus"
POD_JOB = "kubernetes-pods"
# The node label that marks KWOK's fake nodes (see nodes.py); their pods are never scraped.
SIMULATED_NODE_LABEL = "__meta_kubernetes_node_label_lepton_ai_node_kind"
RBAC: list[dict[str, Any]] = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": USER},
        # Nodes: attach_metadata.node puts the node's labels on each pod target (the KWOK filter).
        "rules": [{"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": USER},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": USER},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
    },
]


def binary() -> str:
    """The pinned Prometheus, built into the cache on first use (e2e/build-prometheus.sh): Debian's
    package lacks Kubernetes service discovery."""
    out = subprocess.run(
        [str(E2E_DIR / "build-prometheus.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if out.returncode != 0:
        raise ClusterError(
            "building Prometheus failed (output above); it needs Go, see e2e/build-prometheus.sh"
        )
    return out.stdout.strip().splitlines()[-1]


def pod_job(cfg: Config) -> dict[str, Any]:
    """The scrape job that discovers annotated pods through the API server (see the module doc)."""
    annotation = "__meta_kubernetes_pod_annotation_prometheus_io_"
    return {
        "job_name": POD_JOB,
        "kubernetes_sd_configs": [
            {
                "role": "pod",
                "api_server": cfg.server,
                "tls_config": {
                    "ca_file": str(cfg.pki / "ca.crt"),
                    "cert_file": str(cfg.pki / "prometheus.crt"),
                    "key_file": str(cfg.pki / "prometheus.key"),
                },
                "attach_metadata": {"node": True},
            }
        ],
        "relabel_configs": [
            {"source_labels": [annotation + "scrape"], "regex": "true", "action": "keep"},
            {"source_labels": [SIMULATED_NODE_LABEL], "regex": "simulated", "action": "drop"},
            # Finished pods keep their IP in the API for a while, but nothing listens there any more.
            {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Succeeded|Failed", "action": "drop"},
            {"source_labels": [annotation + "path"], "regex": "(.+)", "target_label": "__metrics_path__"},
            {
                # One target per pod, whatever ports (or init containers) it declares.
                "source_labels": ["__meta_kubernetes_pod_ip", annotation + "port"],
                "regex": r"(.+);(\d+)",
                "replacement": "$1:$2",
                "target_label": "__address__",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {
                "source_labels": ["__meta_kubernetes_pod_label_lepton_ai_inferenceservice"],
                "target_label": "service",
            },
        ],
    }


def config(cfg: Config) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": cfg.scrape_interval, "evaluation_interval": cfg.scrape_interval},
        "scrape_configs": [
            {
                "job_name": "prometheus",
                "static_configs": [{"targets": [f"127.0.0.1:{cfg.ports.prometheus}"]}],
            },
            pod_job(cfg),
            {
                "job_name": "file-sd",
                "file_sd_configs": [
                    {"files": [str(cfg.prometheus_targets / "*.json")], "refresh_interval": "1s"}
                ],
            },
        ],
    }


def configure(cfg: Config, kubectl: Callable[..., str]) -> list[str]:
    """Give Prometheus its identity, write the configuration and return the command line that runs
    Prometheus with it."""
    home = cfg.state_dir / "prometheus"
    cfg.prometheus_targets.mkdir(parents=True, exist_ok=True)
    pki._sign(cfg.pki, "prometheus", f"/CN={USER}", pki.CLIENT_EXTENSIONS)
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": RBAC}))
    (home / "prometheus.yml").write_text(json.dumps(config(cfg), indent=2))  # JSON is YAML
    return [
        binary(),
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{cfg.ports.prometheus}",
        "--web.enable-lifecycle",
        "--storage.tsdb.retention.time=1d",
        "--log.level=warn",
    ]
