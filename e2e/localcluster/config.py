"""Where the local cluster keeps its state and which loopback ports it uses (all overridable)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

E2E_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = E2E_DIR.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"error: {name}={raw!r} is not an integer") from None


@dataclass(frozen=True)
class Ports:
    etcd_client: int = 23790
    etcd_peer: int = 23800
    apiserver: int = 16443
    controller_manager: int = 16257
    scheduler: int = 16259
    kwok: int = 16247
    prometheus: int = 19090
    # Real nodes (REAL_NODES > 0): loopback ports of kubelet health (one per node, +index), CoreDNS
    # readiness and kube-proxy's health and metrics. The kubelet API (10250) and DNS (53) bind the
    # node's bridge address instead.
    kubelet_healthz: int = 10248
    coredns_ready: int = 18181
    kube_proxy_healthz: int = 10256
    kube_proxy_metrics: int = 10249
    # Traefik (the Gateway API implementation), started only by the tests that route through a
    # Gateway: its web entry point (the Gateway's listener port) and its ping endpoint.
    traefik_web: int = 18000
    traefik_admin: int = 18001

    @classmethod
    def from_env(cls) -> Ports:
        base = cls()
        return cls(
            **{
                name: _int(f"LEPTON_PORT_{name.upper()}", getattr(base, name))
                for name in base.__dataclass_fields__
            }
        )


@dataclass(frozen=True)
class Config:
    state_dir: Path
    cache_dir: Path
    ports: Ports = field(default_factory=Ports)
    gpu_nodes: int = 4
    gpus_per_node: int = 8
    cpu_nodes: int = 2
    prometheus: bool = False
    audit: bool = False
    # The API server's /debug/pprof (benchmarks asking where its CPU goes); off otherwise.
    profiling: bool = False
    scrape_interval: str = "2s"
    # Kubelet nodes running real pods; they share one bridge (and its /24) that also serves DNS.
    real_nodes: int = 0
    bridge: str = "lepton0"
    bridge_net: str = "10.244.100"

    @classmethod
    def from_env(cls) -> Config:
        cache = Path(os.environ.get("LEPTON_CACHE", Path.home() / ".cache" / "lepton"))
        return cls(
            state_dir=Path(os.environ.get("LEPTON_CLUSTER_DIR", "/tmp/lepton-cluster")),
            cache_dir=cache,
            ports=Ports.from_env(),
            gpu_nodes=_int("GPU_NODES", 4),
            gpus_per_node=_int("GPUS_PER_NODE", 8),
            cpu_nodes=_int("CPU_NODES", 2),
            prometheus=os.environ.get("PROMETHEUS", "0") not in ("", "0", "false"),
            audit=os.environ.get("LEPTON_AUDIT", "0") not in ("", "0", "false"),
            profiling=os.environ.get("LEPTON_APISERVER_PROFILING", "0") not in ("", "0", "false"),
            real_nodes=_int("REAL_NODES", 0),
            bridge=os.environ.get("LEPTON_BRIDGE", "lepton0"),
            bridge_net=os.environ.get("LEPTON_BRIDGE_NET", "10.244.100"),
        )

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.state_dir / "pki"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run(self) -> Path:
        return self.state_dir / "run"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def realnode_dir(self) -> Path:
        return self.state_dir / "realnode"

    @property
    def bridge_ip(self) -> str:
        """The bridge's own address: first real node's IP, cluster DNS, and the pods' gateway."""
        return f"{self.bridge_net}.1"

    @property
    def prometheus_targets(self) -> Path:
        """Tests drop file_sd target files (``*.json``) here to add scrape targets."""
        return self.state_dir / "prometheus" / "targets"
