"""The local cluster as tests see it: started on demand, reused when running."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from localcluster import cluster
from localcluster.config import E2E_DIR, Config


@dataclass(frozen=True)
class LocalCluster:
    config: Config
    bin_dir: Path
    started_here: bool

    @property
    def kubeconfig(self) -> str:
        return str(self.config.kubeconfig)

    @property
    def kubectl_path(self) -> str:
        return str(self.bin_dir / "kubectl")


def is_up(cfg: Config) -> bool:
    state = cluster.running(cfg)
    return bool(state) and all(state.values()) and cluster.apiserver_probe(cfg).ok()


def ensure_cluster() -> LocalCluster:
    """Start the cluster (with Prometheus) unless it runs; a running one gets Prometheus added."""
    env = {**os.environ, "PROMETHEUS": "1"}
    cfg = Config.from_env()
    was_up = is_up(cfg)
    if not was_up or not cluster.running(cfg).get("prometheus"):
        subprocess.run(
            [sys.executable, "-m", "localcluster", "up"],
            cwd=E2E_DIR,
            env={**env, "PYTHONPATH": str(E2E_DIR)},
            check=True,
            timeout=1800,
        )
    cfg = Config.from_env()
    return LocalCluster(config=cfg, bin_dir=cluster.tools_dir(), started_here=not was_up)


def stop_cluster(local: LocalCluster) -> None:
    if local.started_here and os.environ.get("LEPTON_KEEP_CLUSTER", "") in ("", "0"):
        cluster.down(local.config)
