"""The cluster DNS of the real nodes: the pinned CoreDNS on the host, answering on the bridge address
(the kubelets' clusterDNS) for cluster.local from the API server (kubernetes plugin)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from localcluster import pki, procs
from localcluster.config import E2E_DIR, Config
from localcluster.procs import ClusterError, Probe

USER = "lepton:coredns"
RBAC = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "lepton:coredns"},
        "rules": [
            {"apiGroups": [""], "resources": ["services", "pods", "namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "lepton:coredns"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "lepton:coredns"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
    },
]


def binary() -> Path:
    out = subprocess.run(
        [str(E2E_DIR / "realnode" / "build-coredns.sh")], stdout=subprocess.PIPE, text=True, check=False
    )
    if out.returncode != 0:
        raise ClusterError("building CoreDNS failed (output above)")
    return Path(out.stdout.strip().splitlines()[-1])


def corefile(cfg: Config, kubeconfig: Path) -> str:
    # No forwarding: pods have no route out of the bridge, and other names fail fast (REFUSED).
    return f"""cluster.local:53 in-addr.arpa:53 {{
    bind {cfg.bridge_ip}
    errors
    ready 127.0.0.1:{cfg.ports.coredns_ready}
    kubernetes cluster.local in-addr.arpa {{
        kubeconfig {kubeconfig} lepton-local
        pods insecure
        ttl 2
    }}
}}
"""


def up(cfg: Config, kubectl: Callable[..., str]) -> None:
    pid = procs.read_pid(cfg.run, "coredns")
    if pid is not None and procs.alive(pid):
        return
    coredns = binary()
    procs.require_free({"coredns ready": cfg.ports.coredns_ready})
    home = cfg.realnode_dir / "coredns"
    home.mkdir(parents=True, exist_ok=True)
    stem = "coredns"
    pki._sign(cfg.pki, stem, f"/CN={USER}", pki.CLIENT_EXTENSIONS)
    (home / "kubeconfig").write_text(pki.kubeconfig(cfg.server, cfg.pki, stem))
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": RBAC}))
    (home / "Corefile").write_text(corefile(cfg, home / "kubeconfig"))
    pid = procs.start(cfg.run, cfg.logs, "coredns", [str(coredns), "-conf", str(home / "Corefile")])
    procs.wait_ready(
        "coredns", Probe(f"http://127.0.0.1:{cfg.ports.coredns_ready}/ready"), pid, cfg.logs, timeout=60
    )
