"""kube-proxy on the host, so that ClusterIP Services route (and load-balance) as in real clusters.

One kube-proxy serves every real node: they share the host's network namespace, where its iptables
rules DNAT a Service's ClusterIP to one of its ready endpoints, from the host and from pods on the
bridge alike. Its chains are host-global, so one cluster at a time on a machine may run it, and
``down`` runs ``kube-proxy --cleanup`` to remove them, also when the process died.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from localcluster import pki, procs
from localcluster.config import Config
from localcluster.procs import Probe

NAME = "kube-proxy"
# Bound by the default ClusterRoleBinding system:node-proxier, as kube-proxy's identity in real clusters.
USER = "system:kube-proxy"
CLUSTER_CIDR = "10.244.0.0/16"


def home(cfg: Config) -> Path:
    return cfg.realnode_dir / NAME


def cleanup_record(cfg: Config) -> Path:
    """The cleanup command line, written before kube-proxy first starts: ``down`` runs it even when
    the process died, with the binary of the start (the pins may have changed since)."""
    return home(cfg) / "cleanup.json"


def configuration(cfg: Config, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clusterCIDR": CLUSTER_CIDR,
        # The node whose topology and addresses it reads; Services are the same for every node.
        "hostnameOverride": node,
        "clientConnection": {"kubeconfig": str(home(cfg) / "kubeconfig")},
        # No bindAddress: kube-proxy 1.35 binds nothing with it, it would only replace the node IP
        # (the Node's InternalIP, the bridge address, is the right one).
        "healthzBindAddress": f"127.0.0.1:{cfg.ports.kube_proxy_healthz}",
        "metricsBindAddress": f"127.0.0.1:{cfg.ports.kube_proxy_metrics}",
        # NodePorts only on the bridge, never on the machine's own interfaces; no route_localnet.
        "nodePortAddresses": [f"{cfg.bridge_net}.0/24"],
        "iptables": {"localhostNodePorts": False},
        # Root here may lack CAP_SYS_RESOURCE (see containerd's restrict_oom_score_adj): no -999.
        "oomScoreAdj": 0,
        # Zero: leave the host's conntrack sysctls (table size, timeouts) as they are.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
            "udpTimeout": "0s",
            "udpStreamTimeout": "0s",
        },
    }


def api_endpoints(cfg: Config) -> dict[str, Any]:
    """The `kubernetes` Service's endpoint: the API server at the bridge's address, so pods reach it
    at 10.96.0.1:443 (their in-cluster config) as in real clusters. The local API server advertises
    loopback and reconciles no endpoint of its own (--endpoint-reconciler-type=none); this slice is
    ours (managed-by), so the mirroring controller leaves it alone."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes-lepton-local",
            "namespace": "default",
            "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": "lepton-local",
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [cfg.bridge_ip], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": cfg.ports.apiserver, "protocol": "TCP"}],
    }


def running(cfg: Config) -> bool:
    pid = procs.read_pid(cfg.run, NAME)
    return pid is not None and procs.alive(pid)


def up(cfg: Config, bin_dir: Path, node: str) -> None:
    """Start kube-proxy (unless it runs) and wait until it has programmed the rules once."""
    if running(cfg):
        return
    procs.require_free(
        {
            "kube-proxy healthz": cfg.ports.kube_proxy_healthz,
            "kube-proxy metrics": cfg.ports.kube_proxy_metrics,
        }
    )
    base = home(cfg)
    base.mkdir(parents=True, exist_ok=True)
    pki._sign(cfg.pki, NAME, f"/CN={USER}", pki.CLIENT_EXTENSIONS)
    (base / "kubeconfig").write_text(pki.kubeconfig(cfg.server, cfg.pki, NAME))
    (base / "config.json").write_text(json.dumps(configuration(cfg, node), indent=2))
    binary = str(bin_dir / NAME)
    cleanup_record(cfg).write_text(json.dumps([binary, "--cleanup", f"--config={base / 'config.json'}"]))
    pid = procs.start(cfg.run, cfg.logs, NAME, [binary, f"--config={base / 'config.json'}", "--v=1"])
    # /healthz answers 200 once the first full sync of the rules is done.
    probe = Probe(f"http://127.0.0.1:{cfg.ports.kube_proxy_healthz}/healthz")
    procs.wait_ready(NAME, probe, pid, cfg.logs, timeout=60)


def down(cfg: Config) -> list[str]:
    """Stop kube-proxy, then remove its rules (it would put them back if it still ran)."""
    stopped = [NAME] if procs.stop(cfg.run, NAME) else []
    record = cleanup_record(cfg)
    if not record.exists():
        return stopped  # never started here: the chains on this machine are someone else's
    argv = json.loads(record.read_text())
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if out.returncode != 0:
        # Teardown goes on (the rest must not be left behind); say what remains and how to remove it.
        print(
            f"warning: `{' '.join(argv)}` failed ({out.returncode}), KUBE-* iptables chains may remain: "
            f"{out.stderr.strip()[-500:]}",
            file=sys.stderr,
        )
    else:
        stopped.append("kube-proxy rules")
    record.unlink()
    return stopped
